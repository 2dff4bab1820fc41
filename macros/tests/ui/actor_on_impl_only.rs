// The struct lacks `#[rustyray::actor]`: one error, saying to put it there.
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { n: 0 }
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

fn main() {}
