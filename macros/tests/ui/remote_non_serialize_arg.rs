struct NotSer {
    x: i64,
}

#[rustyray::remote]
fn read(v: NotSer) -> i64 {
    v.x
}

fn main() {}
