// A module (or type) already named like the remote function keeps its
// name: the expansion compiles, `add::` still means the module, and the
// handle is reached through its own module, `__rustyray_add::add`.
mod add {
    pub const ONE: i64 = 1;
}

#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let _rt = rustyray::init(rustyray::Config::default()).unwrap();
    let _ = add(add::ONE, 2);
    let _ = __rustyray_add::add::remote(1, 2);
    let _ = add::remote(1, 2);
}
