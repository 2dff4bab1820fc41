#[rustyray::remote]
fn first<T: Clone>(v: Vec<T>) -> Option<T> {
    v.first().cloned()
}

#[rustyray::remote]
fn total(v: impl IntoIterator<Item = u32>) -> u32 {
    v.into_iter().sum()
}

fn main() {}
