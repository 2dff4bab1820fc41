#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn into_inner(self) -> i64 {
        self.n
    }

    fn boxed(self: Box<Self>) -> i64 {
        self.n
    }
}

fn main() {}
