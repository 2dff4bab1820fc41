// Class options go on the `impl`, with known keys and literal values;
// `#[method(..)]` settings go on methods.
#[rustyray::actor]
struct Worker {
    n: i64,
}

#[rustyray::actor(max_concurency = 2, max_restarts = "two", concurrency_groups(io = 0))]
impl Worker {
    #[method(concurrency_group = "io")]
    fn new() -> Self {
        Worker { n: 0 }
    }

    #[method(concurrency_group = io, max_retries = -2, retry_exceptions = 1)]
    fn step(&self) -> i64 {
        self.n
    }

    #[method(streamng)]
    fn events(&self) -> i64 {
        self.n
    }
}

fn main() {}
