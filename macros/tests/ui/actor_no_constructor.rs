#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn get(&self) -> i64 {
        self.n
    }
}

fn main() {}
