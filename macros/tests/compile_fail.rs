//! The compile errors of `#[rustyray::remote]`, `#[rustyray::actor]`,
//! `#[rustyray::test]` and `#[rustyray::main]`: each case in `tests/ui/`
//! must fail with exactly the message pinned in its `.stderr` (regenerate
//! with `TRYBUILD=overwrite cargo test -p rustyray-macros --test
//! compile_fail`, then read every changed message).

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
