//! `#[renamed_ray::main(crate = "renamed_ray")]` on a real `async fn main`
//! (this test target has no harness, so this is the test binary's `main`):
//! the runtime is installed for the body, with the attribute's settings,
//! on the tokio runtime the macro builds.

#[renamed_ray::remote(crate = "renamed_ray")]
fn double(x: u32) -> u32 {
    x * 2
}

#[renamed_ray::main(crate = "renamed_ray", name = "renamed-main", num_cpus = 2)]
async fn main() -> renamed_ray::Result<()> {
    assert_eq!(renamed_ray::global()?.name(), "renamed-main");
    assert_eq!(double::remote(21)?.await?, 42);
    Ok(())
}
