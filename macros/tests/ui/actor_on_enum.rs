#[rustyray::actor]
enum Machine {
    Idle,
    Running(u32),
}

#[rustyray::actor]
fn not_an_actor() {}

fn main() {}
