#[rustyray::actor]
struct Cache<T> {
    items: Vec<T>,
}

#[rustyray::actor]
impl<T: Send + Sync + 'static> Cache<T> {
    fn new() -> Self {
        Cache { items: Vec::new() }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter
where
    Counter: Sized,
{
    fn new() -> Self {
        Counter { n: 0 }
    }
}

fn main() {}
