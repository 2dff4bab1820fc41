#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn helper(x: i64) -> i64 {
        x * 2
    }

    fn maybe() -> Option<Self> {
        None
    }

    // Marked local: stays a plain associated function.
    #[rustyray(local)]
    fn fine(x: i64) -> i64 {
        x
    }
}

fn main() {}
