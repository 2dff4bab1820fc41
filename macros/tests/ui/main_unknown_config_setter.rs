#[rustyray::main(num_cpu = 2)]
fn main() {}
