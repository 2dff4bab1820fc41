#[rustyray::remote(num_cpus = "two", max_retries = 1.5, retry_exceptions = 1, name = 3)]
fn a() {}

#[rustyray::remote(num_returns = 0, resources(gpu = -1.0, gpu = 2), name)]
fn b() {}

fn main() {}
