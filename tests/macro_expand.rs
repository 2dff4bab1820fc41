//! The expansions of `#[rustyray::remote]`, `#[rustyray::test]` and
//! `#[rustyray::main]` type-check for every supported function shape, the
//! annotated functions stay callable as plain functions, and a module or
//! type the user already named like a remote function keeps its name.
//!
//! Task submission itself is exercised by the task tests; here the remote
//! calls sit in functions that are only type-checked (`_type_checks`).

use std::fmt;

use rustyray::{ObjectRef, Result};

#[rustyray::remote]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[rustyray::remote]
async fn add_async(a: i64, b: i64) -> i64 {
    a + b
}

#[rustyray::remote]
fn nothing() {}

#[rustyray::remote]
fn answer() -> u32 {
    42
}

#[derive(Debug)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot parse {:?}", self.0)
    }
}

#[rustyray::remote]
fn parse(text: String) -> std::result::Result<u64, ParseError> {
    text.parse().map_err(|_| ParseError(text))
}

#[rustyray::remote]
async fn parse_async(text: String) -> Result<u64> {
    Ok(text.len() as u64)
}

#[rustyray::remote(num_returns = 2)]
fn split(v: Vec<u8>) -> (Vec<u8>, usize) {
    let n = v.len();
    (v, n)
}

#[rustyray::remote(num_returns = 3, num_cpus = 0.5)]
fn split3(v: u8) -> std::result::Result<(u8, String, bool), ParseError> {
    Ok((v, v.to_string(), v > 3))
}

#[rustyray::remote(num_returns = 2)]
async fn split_async(v: u8) -> (u8, u8) {
    (v, v)
}

#[rustyray::remote]
fn patterns(mut x: i64, (a, b): (i32, i32), _: bool) -> i64 {
    x += i64::from(a) + i64::from(b);
    x
}

#[rustyray::remote(
    num_cpus = 2,
    max_retries = -1,
    retry_exceptions,
    name = "five",
    resources(gpu = 1, "my-res" = 0.25)
)]
pub(crate) fn five(a: u8, b: u16, c: u32, d: u64, e: String) -> String {
    format!("{a}{b}{c}{d}{e}")
}

#[rustyray::remote(max_retries = 0, retry_exceptions = false, resource(gpu = 0.5))]
fn private_fn(v: Vec<String>) -> usize {
    v.len()
}

mod nested {
    #[rustyray::remote]
    pub(crate) fn crate_visible(x: u8) -> u8 {
        x
    }

    #[rustyray::remote]
    pub(super) fn parent_visible(x: u8) -> u8 {
        x
    }
}

/// A module and a type named like remote functions keep their names: the
/// handles are glob-imported, so the user's items shadow them instead of
/// clashing, and are reached through their own modules.
mod clashes {
    pub mod scale {
        pub const FACTOR: i64 = 3;
    }

    #[rustyray::remote]
    pub fn scale(x: i64) -> i64 {
        x * scale::FACTOR
    }

    // An argument type of `offset`, so an object.
    #[allow(non_camel_case_types)]
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct offset {
        pub by: i64,
    }

    #[rustyray::remote]
    pub(crate) fn offset(x: i64, o: offset) -> i64 {
        x + o.by
    }

    /// The handles under names of one's choice, for other modules.
    pub(crate) use __rustyray_offset::offset as offset_task;
    pub(crate) use __rustyray_scale::scale as scale_task;

    /// A child that glob-imports its parent sees what the parent sees:
    /// `offset` is the user's struct there too.
    pub mod child {
        use super::*;

        pub fn submit() -> rustyray::Result<rustyray::ObjectRef<i64>> {
            let moved = __rustyray_offset::offset::remote(1, offset { by: 1 })?;
            __rustyray_scale::scale::remote(moved)
        }
    }
}

use clashes::offset_task;

/// Only type-checked: every remote call shape must compile.
#[allow(dead_code)]
fn _type_checks(rt: &rustyray::Runtime) -> Result<()> {
    let r: Result<ObjectRef<i64>> = add::remote(1, 2);
    let r = r?;
    let _: ObjectRef<i64> = add::remote(&r, r.clone())?;
    let _: ObjectRef<i64> = add::remote(r, 5)?;
    let _: ObjectRef<i64> = add_async::remote(1, 2)?;
    let _: ObjectRef<()> = nothing::remote()?;
    let _: ObjectRef<u32> = answer::options().name("x").remote()?;
    let _: ObjectRef<u64> = parse::remote(String::from("12"))?;
    let _: ObjectRef<u64> = parse_async::remote(String::from("12"))?;
    let (v, n): (ObjectRef<Vec<u8>>, ObjectRef<usize>) = split::remote(vec![1, 2])?;
    let _: (ObjectRef<u8>, ObjectRef<String>, ObjectRef<bool>) = split3::remote(3)?;
    let _: (ObjectRef<u8>, ObjectRef<u8>) = split_async::remote(3)?;
    let _: ObjectRef<Vec<u8>> = split::remote(&v)?.0;
    let _ = n;
    let _: ObjectRef<i64> = patterns::remote(1, (2, 3), true)?;
    let _: ObjectRef<String> = five::remote(1, 2, 3, 4, String::new())?;
    let _: ObjectRef<usize> = private_fn::remote(vec![])?;
    let _: ObjectRef<u8> = nested::crate_visible::remote(1)?;
    let _: ObjectRef<u8> = nested::parent_visible::remote(1)?;

    let sum = add::options()
        .name("x")
        .num_cpus(1)
        .resource("gpu", 1.0)
        .max_retries(2)
        .retry_exceptions(true)
        .on(rt)
        .remote(1, 2)?;
    let _: ObjectRef<i64> = add::options().remote(&sum, sum.clone())?;
    let options: rustyray::TaskOptions = add::options().num_cpus(0.5).into_options();
    let _ = options;

    // Declared inside a function body: the handle's module and glob import
    // are block items too.
    #[rustyray::remote(num_cpus = 1)]
    fn local(x: i64) -> i64 {
        x * 2
    }
    let _: ObjectRef<i64> = local::remote(add::remote(1, 2)?)?;
    Ok(())
}

#[test]
fn remote_functions_stay_callable() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(answer(), 42);
    nothing();
    assert_eq!(parse(String::from("12")).unwrap(), 12);
    assert_eq!(
        parse(String::from("x")).unwrap_err().to_string(),
        "cannot parse \"x\""
    );
    assert_eq!(split(vec![7, 8]), (vec![7, 8], 2));
    assert_eq!(split3(4).unwrap(), (4, String::from("4"), true));
    assert_eq!(patterns(1, (2, 3), false), 6);
    assert_eq!(five(1, 2, 3, 4, String::from("e")), "1234e");
    assert_eq!(private_fn(vec![String::new()]), 1);
    assert_eq!(nested::crate_visible(7), 7);
    assert_eq!(nested::parent_visible(8), 8);

    #[rustyray::remote]
    fn local(x: i64) -> i64 {
        x * 2
    }
    assert_eq!(local(21), 42);
}

#[test]
fn options_builders_start_from_the_attribute() {
    // Building options submits nothing.
    let options = five::options().into_options();
    let debug = format!("{options:?}");
    assert!(debug.contains("macro_expand::five"), "{debug}");
    assert!(debug.contains("num_cpus: 2.0"), "{debug}");
    assert!(debug.contains("max_retries: 4294967295"), "{debug}");
    assert!(debug.contains("retry_exceptions: true"), "{debug}");
    assert!(debug.contains("\"five\""), "{debug}");
    assert!(debug.contains("(\"gpu\", 1.0)"), "{debug}");
    assert!(debug.contains("(\"my-res\", 0.25)"), "{debug}");

    let debug = format!("{:?}", add::options().into_options());
    assert!(debug.contains("function: \"macro_expand::add\""), "{debug}");
}

#[rustyray::test]
fn names_taken_by_the_user_keep_their_meaning() -> Result<()> {
    assert_eq!(clashes::scale::FACTOR, 3);
    assert_eq!(clashes::offset { by: 2 }.by, 2);
    assert_eq!(clashes::scale(2), 6);

    let scaled = clashes::scale_task::remote(2)?;
    assert_eq!(scaled.get()?, 6);
    let moved = offset_task::options()
        .name("moved")
        .remote(&scaled, clashes::offset { by: 4 })?;
    assert_eq!(moved.get()?, 10);
    assert_eq!(clashes::child::submit()?.get()?, 6);

    // The task keeps the function's name, not its module's.
    let debug = format!("{:?}", offset_task::options().into_options());
    assert!(
        debug.contains("function: \"macro_expand::clashes::offset\""),
        "{debug}"
    );

    // Inside a function body too, where a module cannot reach the block's
    // items through `super::`.
    struct Doubler(i64);
    mod twice {
        pub const N: i64 = 2;
    }
    #[rustyray::remote]
    fn twice(x: i64) -> i64 {
        Doubler(x).0 * twice::N
    }
    assert_eq!(__rustyray_twice::twice::remote(21)?.get()?, 42);
    Ok(())
}

#[rustyray::test]
fn runtime_installed() {
    assert!(rustyray::is_initialized());
}

#[rustyray::test(num_cpus = 2, name = "macro-test")]
fn config_applied() {
    assert_eq!(rustyray::global().unwrap().name(), "macro-test");
}

#[rustyray::test(resources(gpu = 1, "my-res" = 0.5), object_store_memory = 1 << 20)]
fn resources_and_pass_through_setters() -> Result<()> {
    let r = rustyray::put(5u8)?;
    if rustyray::get(&r)? == 5 {
        return Ok(());
    }
    unreachable!()
}

#[rustyray::test]
#[should_panic(expected = "boom")]
fn should_panic_is_kept() {
    panic!("boom");
}

#[rustyray::test(name = "async-test")]
async fn async_test_runs_on_the_runtime() -> Result<()> {
    assert_eq!(rustyray::global()?.name(), "async-test");
    let r = rustyray::put(3u8)?;
    assert_eq!(r.await?, 3);
    Ok(())
}

#[test]
fn runtime_is_gone_after_a_rustyray_test() {
    runtime_installed();
    assert!(!rustyray::is_initialized());
}
