//! Tests of RustyRay's macros through a renamed dependency: this package
//! depends on `rustyray` only as `renamed_ray` (see `tests/`). Nothing to
//! use here.
