// `.into()` where a remote function takes an argument: rustc cannot tell
// what to convert into (a value, an `ObjectRef` or a `&ObjectRef` all do).
#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let _rt = rustyray::init(rustyray::Config::default()).unwrap();
    let x: i32 = 5;
    let _r = add::remote(x.into(), 2);
}
