// `let _ = rustyray::init(..)` shuts the runtime down on the same line.
#[rustyray::remote]
fn nested() -> u64 {
    let _ = rustyray::init(rustyray::Config::default()).unwrap();
    1
}

#[rustyray::main]
fn main() {
    let _ = rustyray::init(rustyray::Config::default().num_cpus(2));
}
