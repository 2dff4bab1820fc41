//! Tasks and actors by name: every `#[remote]` function and every
//! `#[actor]` constructor and method is registered at link time, and runs
//! from its stable name and encoded arguments through the same scheduler
//! as a typed call, its results encoded.

use rustyray::registry::{self, AnyActor, EncodedRefs};
use rustyray::{ActorOptions, Codec, Error, ObjectRef, Result};
use serde::{Deserialize, Serialize};

const CODEC: Codec = Codec::Postcard;

/// This file's module path: what registered names start with.
const HERE: &str = module_path!();

fn path(item: &str) -> String {
    format!("{HERE}::{item}")
}

fn encode<T: Serialize + 'static>(value: &T) -> Vec<u8> {
    CODEC.encode(value).expect("test values encode")
}

/// Gets and decodes the one result of a call by name.
fn one<T: serde::de::DeserializeOwned>(refs: Result<EncodedRefs>) -> Result<T> {
    let refs = refs?;
    assert_eq!(refs.len(), 1);
    CODEC.decode(&refs[0].get()?)
}

#[rustyray::remote]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[rustyray::remote]
async fn shout(word: String) -> String {
    tokio::task::yield_now().await;
    word.to_uppercase()
}

#[rustyray::remote(num_returns = 2)]
fn split(n: u32) -> (u32, String) {
    (n / 2, format!("{} left", n % 2))
}

#[rustyray::remote]
fn checked_div(a: i64, b: i64) -> std::result::Result<i64, String> {
    if b == 0 {
        Err("division by zero".into())
    } else {
        Ok(a / b)
    }
}

#[rustyray::remote]
fn task_name() -> String {
    rustyray::context()
        .task_name()
        .unwrap_or_default()
        .to_string()
}

#[rustyray::remote]
fn sum_refs(refs: Vec<ObjectRef<i64>>) -> i64 {
    refs.iter().map(|r| r.get().unwrap_or(0)).sum()
}

#[rustyray::remote(num_cpus = 0.5, max_retries = 7)]
fn configured() -> u8 {
    1
}

/// A value whose `Serialize` panics: it can be returned, never encoded.
#[derive(Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
        panic!("Unencodable refuses")
    }
}

#[rustyray::remote]
fn unencodable() -> Unencodable {
    Unencodable
}

#[rustyray::test]
fn a_sync_function_runs_by_name_from_encoded_arguments() -> Result<()> {
    let add = registry::function(&path("add"))?;
    assert_eq!(add.name(), path("add"));
    assert_eq!(
        one::<i64>(add.remote(CODEC, &encode(&(40_i64, 2_i64))))?,
        42
    );
    Ok(())
}

#[rustyray::test]
fn an_async_function_runs_by_name() -> Result<()> {
    let shout = registry::function(&path("shout"))?;
    let args = encode(&("hey".to_string(),));
    assert_eq!(one::<String>(shout.remote(CODEC, &args))?, "HEY");
    Ok(())
}

#[rustyray::test]
fn each_of_several_results_is_its_own_encoded_ref() -> Result<()> {
    let refs = registry::function(&path("split"))?.remote(CODEC, &encode(&(7_u32,)))?;
    assert_eq!(refs.len(), 2);
    assert_eq!(CODEC.decode::<u32>(&refs[0].get()?)?, 3);
    assert_eq!(CODEC.decode::<String>(&refs[1].get()?)?, "1 left");
    Ok(())
}

#[rustyray::test]
fn a_call_by_name_runs_as_the_task_a_typed_call_would() -> Result<()> {
    let by_name = registry::function(&path("task_name"))?;
    assert_eq!(
        one::<String>(by_name.remote(CODEC, &encode(&())))?,
        path("task_name")
    );
    // The function's own options, then the caller's.
    let configured = registry::function(&path("configured"))?;
    let options = configured.options();
    assert_eq!(
        format!("{options:?}"),
        format!("{:?}", configured::options().into_options())
    );
    let renamed = by_name.options().name("renamed");
    let refs = by_name.remote_with(renamed, CODEC, &encode(&()))?;
    assert_eq!(CODEC.decode::<String>(&refs[0].get()?)?, "renamed");
    Ok(())
}

#[rustyray::test]
fn an_error_of_a_function_called_by_name_names_its_task() -> Result<()> {
    let div = registry::function(&path("checked_div"))?;
    assert_eq!(one::<i64>(div.remote(CODEC, &encode(&(9_i64, 3_i64))))?, 3);
    match one::<i64>(div.remote(CODEC, &encode(&(1_i64, 0_i64)))) {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(
                (task, message),
                (path("checked_div"), "division by zero".into())
            );
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test]
fn refs_inside_arguments_bind_to_the_runtime() -> Result<()> {
    let refs = vec![
        rustyray::put(1_i64)?,
        rustyray::put(2_i64)?,
        rustyray::put(39_i64)?,
    ];
    // Bytes do not keep objects alive: the refs stay held while they fly.
    let args = encode(&(refs.clone(),));
    let sum = registry::function(&path("sum_refs"))?;
    assert_eq!(one::<i64>(sum.remote(CODEC, &args))?, 42);
    drop(refs);
    Ok(())
}

#[rustyray::test]
fn arguments_of_another_type_are_refused_before_anything_runs() -> Result<()> {
    let add = registry::function(&path("add"))?;
    // One argument where two are expected, and trailing bytes.
    for args in [encode(&(1_i64,)), encode(&(1_i64, 2_i64, 3_i64))] {
        match add.remote(CODEC, &args) {
            Err(Error::Serialization(_)) => {}
            other => panic!("expected Serialization, got {other:?}"),
        }
    }
    Ok(())
}

#[rustyray::test]
fn a_result_that_cannot_be_encoded_fails_its_ref_and_nothing_else() -> Result<()> {
    let f = registry::function(&path("unencodable"))?;
    match one::<()>(f.remote(CODEC, &encode(&()))) {
        Err(Error::Serialization(reason)) => {
            assert!(reason.contains("Unencodable refuses"), "{reason}");
        }
        other => panic!("expected Serialization, got {other:?}"),
    }
    // The runtime serves on.
    assert_eq!(
        one::<i64>(registry::function(&path("add"))?.remote(CODEC, &encode(&(1_i64, 1_i64))))?,
        2
    );
    Ok(())
}

#[test]
fn unknown_names_are_invalid_arguments() {
    match registry::function(&path("no_such_function")) {
        Err(Error::InvalidArgument { call, reason }) => {
            assert_eq!(call, "registry::function");
            assert!(reason.contains("no_such_function"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    assert!(matches!(
        registry::constructor(&path("Tally"), "no_such_constructor"),
        Err(Error::InvalidArgument {
            call: "registry::constructor",
            ..
        })
    ));
}

#[test]
fn functions_declared_in_two_bodies_under_one_name_are_ambiguous() {
    fn first() {
        #[rustyray::remote]
        fn twin() -> u8 {
            1
        }
    }
    fn second() {
        #[rustyray::remote]
        fn twin() -> u8 {
            2
        }
    }
    let _ = (first, second);
    match registry::function(&path("twin")) {
        Err(Error::InvalidArgument { reason, .. }) => {
            assert!(reason.starts_with("2 items are registered as"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn every_linked_function_is_listed_once_in_name_order() {
    let names: Vec<&str> = registry::functions()
        .map(|f| f.name())
        .filter(|name| name.starts_with(HERE))
        .collect();
    let expected = [
        "add",
        "checked_div",
        "configured",
        "countdown",
        "doubles",
        "parts",
        "shout",
        "split",
        "sum_refs",
        "task_name",
        "twin",
        "twin",
        "unencodable",
    ];
    assert_eq!(names, expected.map(path));
}

#[rustyray::remote]
fn parts(n: u32) -> Vec<u32> {
    (0..n).collect()
}

#[rustyray::test]
fn a_vec_returned_by_name_splits_with_a_per_call_num_returns() -> Result<()> {
    let parts = registry::function(&path("parts"))?;
    let split = parts.options().__num_returns(3);
    let refs = parts.remote_with(split, CODEC, &encode(&(3_u32,)))?;
    let values = refs
        .iter()
        .map(|r| CODEC.decode::<u32>(&r.get()?))
        .collect::<Result<Vec<_>>>()?;
    assert_eq!(values, [0, 1, 2]);
    // Without it, one object: the whole vector.
    assert_eq!(
        one::<Vec<u32>>(parts.remote(CODEC, &encode(&(2_u32,))))?,
        [0, 1]
    );
    let add = registry::function(&path("add"))?;
    match add.remote_with(
        add.options().__num_returns(2),
        CODEC,
        &encode(&(1_i64, 2_i64)),
    ) {
        Err(Error::InvalidArgument { reason, .. }) => {
            assert!(reason.contains("does not return a `Vec`"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    Ok(())
}

#[rustyray::remote(streaming)]
fn countdown(from: u32) -> impl Iterator<Item = std::result::Result<u32, String>> + Send + 'static {
    (0..from).rev().map(|i| {
        if i == 1 {
            Err("one is too few".into())
        } else {
            Ok(i)
        }
    })
}

#[rustyray::remote(streaming)]
async fn doubles(n: u32) -> impl futures::Stream<Item = u64> + Send + 'static {
    futures::stream::iter((0..u64::from(n)).map(|i| i * 2))
}

/// Every item of a stream by name, decoded, and the error that ended it.
fn drain<T: serde::de::DeserializeOwned>(
    stream: registry::EncodedStream,
) -> (Vec<T>, Option<Error>) {
    let mut items = Vec::new();
    for item in stream {
        match item.and_then(|r| r.get()) {
            Ok(bytes) => items.push(CODEC.decode(&bytes).expect("an item decodes")),
            Err(err) => return (items, Some(err)),
        }
    }
    (items, None)
}

#[rustyray::test]
fn a_streaming_generator_runs_by_name_its_items_encoded() -> Result<()> {
    let doubles = registry::function(&path("doubles"))?;
    assert!(doubles.is_streaming());
    let (items, end) = drain::<u64>(doubles.remote_streaming(CODEC, &encode(&(4_u32,)))?);
    assert_eq!((items, end.is_none()), (vec![0, 2, 4, 6], true));

    let countdown = registry::function(&path("countdown"))?;
    let (items, end) = drain::<u32>(countdown.remote_streaming(CODEC, &encode(&(4_u32,)))?);
    assert_eq!(items, vec![3, 2]);
    match end {
        Some(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, path("countdown"));
            assert_eq!(message, "one is too few");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test]
fn generators_and_plain_functions_are_called_each_their_own_way() -> Result<()> {
    let countdown = registry::function(&path("countdown"))?;
    match countdown.remote(CODEC, &encode(&(2_u32,))) {
        Err(Error::InvalidArgument { call, reason }) => {
            assert_eq!(call, "remote");
            assert!(reason.contains("remote_streaming"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    let add = registry::function(&path("add"))?;
    assert!(!add.is_streaming());
    match add.remote_streaming(CODEC, &encode(&(1_i64, 2_i64))) {
        Err(Error::InvalidArgument { call, reason }) => {
            assert_eq!(call, "remote_streaming");
            assert!(reason.contains("not a streaming generator"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    // Arguments of another type are refused before anything runs.
    assert!(matches!(
        countdown.remote_streaming(CODEC, &encode(&"four")),
        Err(Error::Serialization(_))
    ));
    Ok(())
}

#[rustyray::actor]
struct Tally {
    total: i64,
}

#[rustyray::actor]
impl Tally {
    fn new(start: i64) -> Self {
        Tally { total: start }
    }

    fn zero() -> Self {
        Tally { total: 0 }
    }

    fn add(&mut self, by: i64) -> i64 {
        self.total += by;
        self.total
    }

    fn total(&self) -> i64 {
        self.total
    }

    async fn doubled(&self) -> i64 {
        tokio::task::yield_now().await;
        self.total * 2
    }

    async fn reset(&mut self) -> i64 {
        std::mem::replace(&mut self.total, 0)
    }

    fn fail(&self) -> std::result::Result<i64, String> {
        Err(format!("refused at {}", self.total))
    }

    /// The running totals of adding each of `steps`.
    #[method(streaming)]
    fn running(&mut self, steps: Vec<i64>) -> impl Iterator<Item = i64> + Send + 'static {
        let mut total = self.total;
        self.total += steps.iter().sum::<i64>();
        steps.into_iter().map(move |step| {
            total += step;
            total
        })
    }

    #[method(streaming)]
    async fn countdown(&self) -> impl futures::Stream<Item = i64> + Send + 'static {
        futures::stream::iter((0..self.total).rev())
    }
}

fn tally(start: i64) -> Result<AnyActor> {
    let new = registry::constructor(&path("Tally"), "new")?;
    assert_eq!((new.actor(), new.name()), (path("Tally").as_str(), "new"));
    new.remote(ActorOptions::default(), CODEC, &encode(&(start,)))
}

#[rustyray::test]
fn an_actor_is_created_and_called_by_name() -> Result<()> {
    let t = tally(10)?;
    assert_eq!(t.actor(), path("Tally"));
    assert_eq!(one::<i64>(t.call("add", CODEC, &encode(&(5_i64,))))?, 15);
    assert_eq!(one::<i64>(t.call("total", CODEC, &encode(&())))?, 15);
    assert_eq!(one::<i64>(t.call("doubled", CODEC, &encode(&())))?, 30);
    assert_eq!(one::<i64>(t.call("reset", CODEC, &encode(&())))?, 15);
    assert_eq!(one::<i64>(t.call("total", CODEC, &encode(&())))?, 0);
    Ok(())
}

#[rustyray::test]
fn every_constructor_is_registered_and_a_named_actor_is_found_typed() -> Result<()> {
    let zero = registry::constructor(&path("Tally"), "zero")?;
    let t = zero.remote(ActorOptions::default().name("by-name"), CODEC, &encode(&()))?;
    assert_eq!(one::<i64>(t.call("add", CODEC, &encode(&(3_i64,))))?, 3);
    // The same actor, through its typed handle.
    let typed = rustyray::get_actor::<Tally>("by-name")?;
    assert_eq!(typed.id(), t.id());
    assert_eq!(typed.total()?.get()?, 3);
    Ok(())
}

#[rustyray::test]
fn a_method_error_by_name_names_the_call() -> Result<()> {
    let t = tally(4)?;
    match one::<i64>(t.call("fail", CODEC, &encode(&()))) {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(
                (task.as_str(), message.as_str()),
                ("Tally.fail", "refused at 4")
            );
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    match t.call("no_such_method", CODEC, &encode(&())) {
        Err(Error::InvalidArgument { call, reason }) => {
            assert_eq!(call, "AnyActor::call");
            assert!(reason.contains("Tally.no_such_method"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    Ok(())
}

#[rustyray::test]
fn streaming_methods_run_by_name_on_the_actors_state() -> Result<()> {
    let t = tally(10)?;
    assert!(t.is_streaming("running")?);
    assert!(!t.is_streaming("add")?);
    let running = t.call_streaming("running", CODEC, &encode(&(vec![1_i64, 2, 3],)))?;
    let (items, end) = drain::<i64>(running);
    assert_eq!((items, end.is_none()), (vec![11, 13, 16], true));
    // An async streaming method, on the state `running` left: from 16.
    let countdown = t.call_streaming("countdown", CODEC, &encode(&()))?;
    let (items, end) = drain::<i64>(countdown);
    assert_eq!((items, end.is_none()), ((0..16).rev().collect(), true));
    match t.call("running", CODEC, &encode(&(vec![1_i64],))) {
        Err(Error::InvalidArgument { reason, .. }) => {
            assert!(reason.contains("call_streaming"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    match t.call_streaming("total", CODEC, &encode(&())) {
        Err(Error::InvalidArgument { reason, .. }) => {
            assert!(reason.contains("Tally.total"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    Ok(())
}
