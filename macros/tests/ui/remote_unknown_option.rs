#[rustyray::remote(num_cpu = 2, max_retries = 1, max_retries = 2)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
