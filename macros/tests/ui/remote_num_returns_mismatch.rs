#[rustyray::remote(num_returns = 2)]
fn three() -> (u8, u8, u8) {
    (1, 2, 3)
}

#[rustyray::remote(num_returns = 2)]
fn one() -> Result<u8, String> {
    Ok(1)
}

fn main() {}
