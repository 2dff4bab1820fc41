#[rustyray::test]
fn takes_args(n: usize) {
    assert!(n > 0);
}

fn main() {}
