#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new(name: &str) -> Self {
        Counter {
            n: name.len() as i64,
        }
    }

    fn count(&self, items: &[u32]) -> usize {
        items.len()
    }

    fn name(&self) -> &str {
        "counter"
    }
}

fn main() {}
