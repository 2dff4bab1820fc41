// A `crate = ".."` that names no crate: rustc says so at the string.
#[rustyray::remote(crate = "my_ray")]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
