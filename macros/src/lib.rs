//! Procedural macros of RustyRay; use them through the `rustyray` crate
//! (`#[rustyray::remote]`, `#[rustyray::actor]`, `#[rustyray::test]`,
//! `#[rustyray::main]`).
//!
//! Each macro follows serde_derive's shape: **parse** the attribute
//! (`attr.rs`) and the item, build a **checked model** collecting every error
//! with its span in a `ctxt::Ctxt`, then **expand** from the model alone.
//! The generated code calls `rustyray`'s public API and its
//! `#[doc(hidden)] rustyray::__private` module, so it stays small.
//!
//! - [`remote`](macro@remote) → `remote/` (model in `remote/mod.rs`,
//!   expansion in `remote/expand.rs`);
//! - [`actor`](macro@actor) → `actor/` (models of the struct and the `impl`
//!   in `actor/model.rs`, their rules in `actor/check.rs`, the generated
//!   names in `actor/names.rs`, the per-method settings in
//!   `actor/settings.rs`, type rules in `actor/types.rs`, expansion in
//!   `actor/expand.rs`; `actor/mod.rs` says how they fit);
//! - [`test`](macro@test) and [`main`](macro@main) → `entry.rs`;
//! - the type rules both `remote` and `actor` apply to signatures →
//!   `types.rs`;
//! - the path every expansion names the runtime crate by (`::rustyray`, or
//!   the `crate = ".."` option's) → `krate.rs`.

mod actor;
mod attr;
mod ctxt;
mod dropped_guard;
mod entry;
mod krate;
mod remote;
mod types;

use proc_macro::TokenStream;

use crate::ctxt::Ctxt;

/// Makes a free function callable as a Ray task.
///
/// The function stays as it is (`add(1, 2)` still calls it directly). Next
/// to it, a type of the same name gives it a remote interface (see [Name
/// clashes](#name-clashes) for a module that already has a type of that
/// name):
///
/// ```
/// #[rustyray::remote]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// #[rustyray::remote(num_cpus = 0)]
/// async fn add_later(a: i64, b: i64) -> i64 {
///     tokio::task::yield_now().await;
///     a + b
/// }
///
/// # fn main() -> rustyray::Result<()> {
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let sum = add::remote(1, 2)?;                 // returns at once
/// let total = add::remote(&sum, 10)?;           // depends on `sum`
/// assert_eq!(total.get()?, 13);
/// let named = add::options().name("sum").num_cpus(0.5).remote(total, 1)?;
/// assert_eq!(named.get()?, 14);
/// assert_eq!(add_later::remote(&named, 1)?.get()?, 15);
/// assert_eq!(add(2, 2), 4);                     // still a plain function
/// # Ok(())
/// # }
/// ```
///
/// - `f::remote(args..) -> rustyray::Result<ObjectRef<T>>` submits the call
///   and returns at once. Each argument may be the value, an
///   `ObjectRef<T>` or a `&ObjectRef<T>` (a dependency: the task runs when
///   it is ready).
/// - `f::options()` returns a builder with the setters of
///   `rustyray::TaskOptions` (`name`, `num_cpus`, `resource`,
///   `max_retries`, `retry_exceptions`, `on`), then `.remote(args..)`.
///
/// The function may be `async`: it then runs on the runtime's tokio
/// executor (RustyRay's own, or the application's when the runtime started
/// inside one), polled until it completes.
///
/// # CPUs and `async`
///
/// A task holds its CPUs (1 unless it asks otherwise) from start to end,
/// also across its `.await`s, as in Ray: an async task that waits for I/O
/// keeps its CPU while it waits, so with `num_cpus = 2` at most two such
/// tasks run at once and the rest queue. (Awaiting an `ObjectRef` is the
/// exception: it lends the CPUs back until the ref is ready.) An async
/// function that mostly waits (a request handler, a network call) should
/// ask for none, `#[rustyray::remote(num_cpus = 0)]`, or a fraction: then
/// as many run at once as the executor can poll.
///
/// If it returns a `Result<T, E>` (any type whose last path segment is
/// `Result`), `Ok(T)` is the object and `Err(e)` fails the task with
/// `Error::TaskFailed` carrying `e.to_string()`; `E: Display + 'static`.
///
/// # Options
///
/// The defaults of `f::options()`:
///
/// ```text
/// #[rustyray::remote(
///     num_cpus = 0.5,            // CPUs held while running (default 1)
///     max_retries = 3,           // retries of system failures; -1 = forever
///     retry_exceptions = true,   // retry `Err`s and panics too
///     num_returns = 2,           // split an N-tuple result into N refs
///     name = "my-task",          // the task's name (default: its path)
///     resources(gpu = 1.0, "my-res" = 2),
/// )]
/// ```
///
/// With `num_returns = N` (2 ≤ N ≤ 8) the function must return an N-tuple
/// (possibly in a `Result`), and `f::remote(..)` returns a tuple of refs:
/// `Result<(ObjectRef<A>, ObjectRef<B>)>`. `num_returns = 1` is the default,
/// as in Ray: one object, whatever the type (a tuple stays one object).
/// Values may be literals or expressions (`num_cpus = CPUS`); literals are
/// checked at compile time.
///
/// # Streaming generators
///
/// `#[rustyray::remote(streaming)]` (Ray's `num_returns="streaming"`) on a
/// function returning `impl Iterator<Item = T> + Send + 'static`, or an
/// `async fn` returning `impl futures::Stream<Item = T> + Send + 'static`:
/// `f::remote(..)` returns a `rustyray::ObjectRefStream<T>` at once, and
/// each item becomes an object as soon as it is yielded. Items of type
/// `Result<T, E>` give an `ObjectRefStream<T>`; an `Err` (or a panic) ends
/// the stream with `Error::TaskFailed`. `f::options().generator_backpressure(n)`
/// pauses the producer `n` items ahead of the consumer.
///
/// ```
/// #[rustyray::remote(streaming)]
/// fn countdown(n: u32) -> impl Iterator<Item = u32> + Send + 'static {
///     (0..n).rev()
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default().num_cpus(2))?;
/// let items: Vec<u32> = countdown::remote(3)?
///     .map(|r| r?.get())
///     .collect::<rustyray::Result<_>>()?;
/// assert_eq!(items, vec![2, 1, 0]);
/// # Ok::<(), rustyray::Error>(())
/// ```
///
/// # A renamed dependency
///
/// The generated code names the runtime crate `::rustyray`. If Cargo.toml
/// gives the dependency another name (`my_ray = { package = "rustyray",
/// .. }`), say so with `crate = "my_ray"`: the name as a string (or a path
/// to the crate), as with serde's `#[serde(crate = "..")]`. Every path the
/// expansion emits then starts there. The same option exists on
/// [`actor`](macro@actor), [`test`](macro@test) and [`main`](macro@main).
///
/// ```
/// # extern crate rustyray as my_ray;
/// // Cargo.toml: my_ray = { package = "rustyray", version = "0.1" }
/// #[my_ray::remote(crate = "my_ray", num_cpus = 0.5)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # fn main() -> my_ray::Result<()> {
/// # let _rt = my_ray::init(my_ray::Config::default())?;
/// assert_eq!(add::remote(1, 2)?.get()?, 3);
/// # Ok(())
/// # }
/// ```
///
/// # Name clashes
///
/// The handle type `add` is declared in a private module of its own,
/// `__rustyray_add`, and glob-imported next to the function, with the
/// function's visibility. A module or
/// type the module itself already has under the function's name (declared
/// or imported by name: `mod add`, `struct add {}`) therefore keeps the
/// name, and the expansion compiles: an item shadows a glob import. `add::`
/// then means that item (`add::remote` is "not found in `add`"), and the
/// handle is called through its module instead:
///
/// ```
/// mod add {
///     pub const ONE: i64 = 1;
/// }
///
/// #[rustyray::remote]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # fn main() -> rustyray::Result<()> {
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let sum = __rustyray_add::add::remote(add::ONE, 2)?;
/// assert_eq!(sum.get()?, 3);
/// # Ok(())
/// # }
/// ```
///
/// The module is private to the function's module (and its children); a
/// re-export there gives the handle a name of your choice for everywhere
/// else: `pub use __rustyray_add::add as add_task;`.
///
/// Being a glob import, the handle ties with another glob bringing in the
/// same name: a child module that glob-imports its parent (`use super::*`)
/// cannot declare a remote function named like one of the parent's (rustc
/// reports both names ambiguous). Rename one of them, or import the
/// parent's items by name.
///
/// # Rules
///
/// A remote function is identified by its stable name
/// (`module::path::fn_name`) and runs later, on another thread, so it must
/// be a free function (for methods with state use `#[rustyray::actor]`),
/// non-generic, safe and with the Rust ABI, with at most 12 arguments; its
/// arguments and result must be owned `'static` types implementing
/// `rustyray::Object` (serde `Serialize + DeserializeOwned`, `Send + Sync`).
/// Each violation is a compile error at the offending token.
#[proc_macro_attribute]
pub fn remote(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let cx = Ctxt::new();
    let model = remote::RemoteFn::from_ast(&cx, args.into(), item.clone());
    match (cx.check(), model) {
        (Ok(()), Some(model)) => remote::expand::expand(&model).into(),
        (result, _) => {
            // Keep the function so that its other uses add no noise.
            let mut out = item;
            if let Err(err) = result {
                out.extend(err.to_compile_error());
            }
            out.into()
        }
    }
}

/// Turns a struct and its `impl` block into an actor: a stateful worker
/// whose methods run one call at a time (by default) on its own state,
/// called through a typed handle.
///
/// Put the attribute on both the struct and its inherent `impl`:
///
/// ```
/// use rustyray::ObjectRef;
///
/// #[rustyray::actor]
/// struct Counter {
///     n: i64,
/// }
///
/// #[rustyray::actor]
/// impl Counter {
///     fn new(start: i64) -> Self {
///         Counter { n: start }
///     }
///     fn with_double(start: i64) -> Result<Self, String> {
///         Ok(Counter { n: start * 2 })
///     }
///     fn incr(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
///     async fn get(&self) -> i64 {
///         self.n
///     }
/// }
///
/// # fn main() -> rustyray::Result<()> {
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let c: CounterHandle = Counter::remote(0)?;      // from `new`; returns at once
/// let r: ObjectRef<i64> = c.incr(5)?;             // returns at once
/// assert_eq!(r.get()?, 5);
/// let d = Counter::remote_with_double(1)?;        // from `with_double`
/// assert_eq!(d.get()?.get()?, 2);
/// let named = Counter::options().name("hits").max_restarts(2).remote(0)?;
/// let same: CounterHandle = rustyray::get_actor::<Counter>("hits")?;
/// assert_eq!(same.incr(1)?.get()?, 1);
/// rustyray::kill(&named)?;
/// # Ok(())
/// # }
/// ```
///
/// # On the struct
///
/// The struct stays as it is (its state need not be serializable, but
/// must be `Send + Sync + 'static`: `&self` calls may overlap). Next to it
/// the macro generates `<Name>Handle` (here `CounterHandle`), with the
/// struct's visibility: `Clone + Send + Sync + Debug`, `Serialize +
/// Deserialize` (pass it to tasks and other actors), `.id()`; and
/// `Counter::options()`, a builder with the setters of
/// `rustyray::ActorOptions` (`name`, `namespace`, `get_if_exists`,
/// `max_restarts`, `max_task_retries`, `max_concurrency`,
/// `concurrency_group`, `num_cpus`, `resource`, `on`).
///
/// # On the `impl` block
///
/// The block stays as it is: a local `Counter` keeps all its methods.
/// Each of its functions becomes one of:
///
/// - a **constructor**: no receiver, returns `Self` (or `Counter`), or
///   `Result<Self, E>` with `E: Display` (an `Err` kills the actor: later
///   calls fail with `Error::ActorDied` naming the cause). The one named
///   `new` — or the only one, when none is named `new` — gives
///   `Counter::remote(args..)` and `Counter::options()…remote(args..)`;
///   any other, say `with_x`, gives `Counter::remote_with_x(args..)` and
///   `…remote_with_x(args..)`. Each returns `rustyray::Result<CounterHandle>`
///   at once; the constructor runs on the actor.
/// - a **method**: `&self` or `&mut self`, sync or `async`. The handle gets
///   a method of the same name and visibility taking each argument as a
///   value, an `ObjectRef<T>` or a `&ObjectRef<T>`, and returning
///   `rustyray::Result<ObjectRef<T>>` at once. `&mut self` calls run alone;
///   `&self` calls may overlap when `max_concurrency > 1`. An async `&mut
///   self` method holds the state exclusively across every `.await` until
///   it returns, so every other call of the actor, in any concurrency
///   group, waits for it: use `&self` (with a `Mutex` or atomics inside)
///   for methods that await while other calls should run. A `Result<T, E>`
///   return works as with `#[rustyray::remote]`: `Err(e)` fails that call
///   with `Error::TaskFailed` (task `"Counter.method"`, message
///   `e.to_string()`); a panic crashes the actor (restarted while
///   `max_restarts` allow).
///
/// Per-method settings, written on the method (Ray's `@ray.method`) and
/// removed by the macro; `#[rustyray(..)]` is the same attribute:
///
/// ```text
/// #[method(local)]                      // no handle method: a local helper only
/// #[method(num_returns = 2)]            // split a 2-tuple result into 2 refs
/// #[method(concurrency_group = "io")]   // run in that group's lane
/// #[method(max_retries = 2)]            // instead of the actor's max_task_retries
/// #[method(retry_exceptions = true)]    // retry its `Err`s too
/// #[method(streaming)]                  // a generator: the handle method returns
///                                       // an `ObjectRefStream<T>` (see `remote`)
/// #[method(streaming, generator_backpressure = 4)]  // paused 4 items ahead
/// ```
///
/// A streaming method returns `impl Iterator<Item = T> + Send + 'static`
/// (sync) or `impl futures::Stream<Item = T> + Send + 'static` (async). A
/// sync one holds the actor's state (shared for `&self`, exclusive for
/// `&mut self`) until its last item; an async one only while it makes its
/// stream.
///
/// # Class options
///
/// On the `impl`, the attribute takes the defaults of
/// `Counter::options()`, which its setters override:
///
/// ```text
/// #[rustyray::actor(
///     max_restarts = 2,                       // -1: no limit
///     max_task_retries = 1,
///     max_concurrency = 4,                    // the default group's limit
///     num_cpus = 1.0,                         // held for the actor's lifetime
///     concurrency_groups(io = 2, compute = 4) // lanes with their own limits
/// )]
/// impl Counter { .. }
/// ```
///
/// Without `max_concurrency`, an actor with an async method runs up to 1000
/// async calls at once (Ray's default), one otherwise.
///
/// # A renamed dependency
///
/// The attribute also takes `crate = "my_ray"` when Cargo.toml
/// renames the dependency (`my_ray = { package = "rustyray", .. }`; see
/// [`remote`](macro@remote#a-renamed-dependency)). The struct's and the
/// `impl`'s expansions do not see each other, so write it on both:
///
/// ```text
/// #[my_ray::actor(crate = "my_ray")]
/// struct Counter { n: i64 }
///
/// #[my_ray::actor(crate = "my_ray")]
/// impl Counter { .. }
/// ```
///
/// Class options (above) go on the `impl` only; the others (name,
/// namespace, resources) are set when creating an actor, with
/// `Counter::options()`.
///
/// # Rules
///
/// Actors cannot be generic (neither the struct nor the `impl`). A method
/// without a receiver must be a constructor (or `#[rustyray(local)]`);
/// `self` by value is not allowed (the actor keeps its state between
/// calls). As with `#[rustyray::remote]`, arguments and results must be
/// owned `'static` types implementing `rustyray::Object`, methods cannot be
/// generic, and take at most 12 arguments. Each violation is a compile
/// error at the offending token.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let (model, fallback) = actor::ActorItem::from_ast(&cx, args.into(), item.into());
    match (cx.check(), model) {
        (Ok(()), Some(model)) => actor::expand::expand(&model).into(),
        (result, _) => {
            // The item as written, less our method settings (see
            // `ActorItem::from_ast`).
            let mut out = fallback;
            if let Err(err) = result {
                out.extend(err.to_compile_error());
            }
            out.into()
        }
    }
}

/// Runs a test with its own fresh RustyRay runtime.
///
/// Adds `#[test]`, starts a runtime from `Config::default()` plus the
/// attribute's settings, installs it for the body and shuts it down when the
/// test returns or panics. Works for sync and `async` tests (an async body
/// runs on the runtime's executor), with any return type `#[test]` accepts,
/// and with `#[should_panic]`, `#[ignore]` and the like.
///
/// ```
/// #[rustyray::remote]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// #[rustyray::test]
/// fn sums() {
///     assert_eq!(add::remote(1, 2).unwrap().get().unwrap(), 3);
/// }
///
/// #[rustyray::test(num_cpus = 2, name = "gpu-test", resources(gpu = 1.0))]
/// async fn sums_async() -> rustyray::Result<()> {
///     assert_eq!(add::remote(1, 2)?.await?, 3);
///     // Futures started with a plain `tokio::spawn` see the runtime too.
///     let spawned = tokio::spawn(async { add::remote(2, 2)?.await });
///     assert_eq!(spawned.await.unwrap()?, 4);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// Each `key = value` becomes a `rustyray::Config` setter call
/// (`num_cpus = 2` → `.num_cpus(2)`, `object_store_memory = 1 << 20`,
/// `name = "x"`, …) and `resource(..)`/`resources(name = amount, ..)` a
/// `.resource("name", amount)` each. The function must take no arguments.
///
/// The one key that is no setter is `crate = "my_ray"`, for a dependency
/// renamed in Cargo.toml (see
/// [`remote`](macro@remote#a-renamed-dependency)):
/// `#[my_ray::test(crate = "my_ray", num_cpus = 2)]`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Kind::Test, args.into(), item.into()).into()
}

/// Runs `main` with a RustyRay runtime installed.
///
/// The same as [`macro@test`] without `#[test]`: the runtime starts from
/// `Config::default()` plus the attribute's settings before the body and
/// shuts down when `main` returns. `main` may be `async` (its body then runs
/// on the runtime's executor) and may return a `Result`.
///
/// ```
/// #[rustyray::main(num_cpus = 4)]
/// fn main() -> rustyray::Result<()> {
///     let r = rustyray::put(vec![1, 2, 3])?;
///     assert_eq!(r.get()?, vec![1, 2, 3]);
///     Ok(())
/// }
/// ```
///
/// An `async fn main` runs on a tokio runtime the macro builds, whose
/// threads all see the RustyRay runtime (RustyRay starts no executor of its
/// own):
///
/// ```
/// #[rustyray::main]
/// async fn main() -> rustyray::Result<()> {
///     let r = rustyray::put(7u8)?;
///     let spawned = tokio::spawn(async move { r.await });
///     assert_eq!(spawned.await.unwrap()?, 7);
///     Ok(())
/// }
/// ```
///
/// Its settings are those of [`macro@test`], `crate = "my_ray"` included,
/// for a dependency renamed in Cargo.toml:
/// `#[my_ray::main(crate = "my_ray")]`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Kind::Main, args.into(), item.into()).into()
}
