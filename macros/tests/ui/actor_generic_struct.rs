#[rustyray::actor]
struct Cache<T> {
    items: Vec<T>,
}

#[rustyray::actor]
struct Borrowing<'a> {
    name: &'a str,
}

fn main() {}
