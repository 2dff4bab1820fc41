#[rustyray::remote]
fn count(text: &str, items: &[u32]) -> usize {
    text.len() + items.len()
}

fn main() {}
