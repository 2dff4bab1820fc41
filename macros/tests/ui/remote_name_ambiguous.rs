// A child module that glob-imports its parent (`use super::*`) and declares
// a remote function named like one of the parent's: the parent's handle
// and its module come in through that glob, the child's through its own,
// and rustc calls both names ambiguous. Rename one of the functions, or
// import the parent's items by name.
#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

mod child {
    use super::*;

    #[rustyray::remote]
    fn add(a: i64, b: i64) -> i64 {
        a * b
    }

    pub fn submit() {
        let _ = add::remote(1, 2);
    }
}

fn main() {
    child::submit();
}
