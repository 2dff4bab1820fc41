struct NotSer {
    x: i64,
}

#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn add(&mut self, v: NotSer) -> i64 {
        self.n += v.x;
        self.n
    }
}

fn main() {}
