#[rustyray::test(resources(gpu = "one"))]
fn unknown_setter() {}

#[rustyray::test]
#[test]
fn twice() {}

fn main() {}
