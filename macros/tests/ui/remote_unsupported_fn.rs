#[rustyray::remote]
unsafe fn dangerous(x: u64) -> u64 {
    x
}

#[rustyray::remote]
extern "C" fn foreign(x: u64) -> u64 {
    x
}

#[rustyray::remote]
fn borrows<'a>(x: std::borrow::Cow<'a, str>) -> &'static str {
    let _ = x;
    "x"
}

#[rustyray::remote]
fn opaque() -> impl std::fmt::Debug {
    1
}

struct Counter;

impl Counter {
    #[rustyray::remote]
    fn new() -> Self {
        Counter
    }
}

#[rustyray::remote]
struct NotAFunction;

fn main() {}
