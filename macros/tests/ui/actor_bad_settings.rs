#[rustyray::actor(max_restarts = 2)]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    #[rustyray(num_returns = 2)]
    fn new() -> Self {
        Counter { n: 0 }
    }

    async fn async_new() -> Self {
        Counter { n: 0 }
    }

    #[rustyray(locale)]
    fn typo(&self) {}

    #[rustyray(num_returns = 2)]
    fn not_a_pair(&self) -> (i64, i64, i64) {
        (self.n, 0, 0)
    }

    fn id(&self) -> i64 {
        self.n
    }

    fn remote(&self) {}

    fn generic<T: Default>(&self) -> i64 {
        0
    }
}

fn main() {}
