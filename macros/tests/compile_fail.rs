//! The compile errors of `#[rustyray::remote]` and `#[rustyray::test]`:
//! each case in `tests/ui/` must fail with exactly the message pinned in its
//! `.stderr` (regenerate with `TRYBUILD=overwrite cargo test --test
//! macro_compile_fail`, then read every changed message).

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
