#[derive(Debug)]
struct MyError;

#[rustyray::remote]
fn fails(x: u64) -> Result<u64, MyError> {
    if x > 0 {
        Ok(x)
    } else {
        Err(MyError)
    }
}

fn main() {}
