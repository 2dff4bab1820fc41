// `crate = ".."` takes the renamed dependency's path as a string, once.
#[rustyray::remote(crate = rustyray)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[rustyray::actor(crate = "not a path")]
struct Counter {
    n: i64,
}

#[rustyray::actor(crate = "rustyray", crate = "rustyray", max_restarts = 2)]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }
}

#[rustyray::test(crate = 1)]
fn a_test() {}

#[rustyray::main(crate = "rustyray", crate = "rustyray")]
fn main() {}
