//! RustyRay's heavier companions, kept out of the `rustyray` package so that
//! `cargo run --example quickstart` builds none of their dependencies: the
//! criterion benches (`benches/`), the HTTP service example
//! (`examples/tokio_service.rs`) and its test, and the property tests of the
//! decoders and of spill files (`extras/tests/`). Nothing to use here.
