// Ray's `num_gpus`: RustyRay asks for GPUs as a custom resource.
#[rustyray::remote(num_gpus = 1)]
fn train(x: u64) -> u64 {
    x
}

#[rustyray::test(num_gpus = 2)]
fn trains() {}

fn main() {}
