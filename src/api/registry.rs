//! Functions and actors by name: what `#[remote]` and `#[actor]` register
//! at link time, so that any process linking the program can run a task
//! from its name and encoded arguments.
//!
//! # Design
//!
//! Each expansion submits an entry to a link-time collection (the
//! [`inventory`](https://docs.rs/inventory) crate): a remote function's
//! stable name (`module::path::function`, the name its tasks have) and a
//! plain function that decodes the argument tuple and submits the call;
//! an actor's constructors and methods under the actor's path
//! (`module::path::Actor`) and their own names. Nothing runs at start-up
//! and no list is kept by hand: the first lookup indexes the entries once.
//!
//! A call by name takes the same path as a typed call: the decoded values
//! become by-value arguments, the task is submitted with the function's
//! `#[remote(..)]` options (or the options given), and it runs where and
//! how a typed call would. Only its results differ: each is encoded with
//! the call's [`Codec`] inside the task that made it, and the caller gets
//! an `ObjectRef<Vec<u8>>` per result. The local engine never uses this
//! path for typed calls: they move values and call closures.
//!
//! Arguments are encoded as one tuple of the function's parameter types,
//! in order: `(a, b)` for two, `(x,)` for one, `()` for none. Refs and
//! actor handles inside a value decode in the runtime that runs the call.
//!
//! Two remote functions declared in different function bodies of one
//! module share their module's path, and so their name: such a name is
//! ambiguous, and looking it up is an error naming it.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use crate::actor::core::Access;
use crate::actor::handle::{Actor, ActorRef};
#[cfg(feature = "ray")]
use crate::actor::mailbox::Mailbox;
use crate::actor::method::MethodInfo;
use crate::api::actor_class::ActorClass;
use crate::api::actor_options::ActorOptions;
use crate::api::submit::{submit_async, submit_sync};
use crate::api::task_options::TaskOptions;
use crate::error::{Error, Result};
use crate::object::{Codec, ObjectRef};
use crate::runtime::{global, Runtime};
use crate::task::args::ValueList;
use crate::task::returns::{Encoded, TaskReturn, UserError};
#[cfg(feature = "ray")]
use crate::task::spec::FirstAttempt;
use crate::task::{ActorId, ObjectRefStream};

/// The refs to a call's results, each encoded with the call's codec.
pub type EncodedRefs = Vec<ObjectRef<Vec<u8>>>;

/// The items of a streaming generator called by name, each encoded with
/// the call's codec.
pub type EncodedStream = ObjectRefStream<Vec<u8>>;

/// A remote function, by name.
///
/// ```
/// #[rustyray::remote]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// use rustyray::{registry, Codec};
///
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let add = registry::function(concat!(module_path!(), "::add"))?;
/// let args = Codec::Postcard.encode(&(2_i64, 3_i64))?;
/// let results = add.remote(Codec::Postcard, &args)?;
/// let sum: i64 = Codec::Postcard.decode(&results[0].get()?)?;
/// assert_eq!(sum, 5);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub struct Function {
    name: &'static str,
    options: fn() -> TaskOptions,
    submit: SubmitFn,
    /// A streaming generator's submission.
    stream: Option<StreamFn>,
    /// A `Vec`-returning function's submission with `num_returns(n)`: one
    /// object per element.
    split: Option<SubmitFn>,
}

type SubmitFn = fn(TaskOptions, Codec, &[u8]) -> Result<EncodedRefs>;
type StreamFn = fn(TaskOptions, Codec, &[u8]) -> Result<EncodedStream>;

impl Function {
    #[doc(hidden)]
    pub const fn __new(name: &'static str, options: fn() -> TaskOptions, submit: SubmitFn) -> Self {
        Function {
            name,
            options,
            submit,
            stream: None,
            split: None,
        }
    }

    /// A `Vec`-returning function's entry splits through `split` when the
    /// options carry `num_returns`.
    #[doc(hidden)]
    pub const fn __split(mut self, split: SubmitFn) -> Self {
        self.split = Some(split);
        self
    }

    /// A streaming generator's entry submits through `stream`.
    #[doc(hidden)]
    pub const fn __streaming(mut self, stream: StreamFn) -> Self {
        self.stream = Some(stream);
        self
    }

    /// Whether the function is a streaming generator (`#[remote(streaming)]`):
    /// call it with [`remote_streaming`](Self::remote_streaming).
    pub fn is_streaming(&self) -> bool {
        self.stream.is_some()
    }

    /// The function's stable name: `module::path::function`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The function's options as its `#[remote(..)]` attribute sets them.
    pub fn options(&self) -> TaskOptions {
        (self.options)()
    }

    /// Submits a call with the function's options in the current runtime;
    /// returns at once with a ref to each result, encoded with `codec`.
    ///
    /// `args` is the tuple of the function's arguments encoded with
    /// `codec`; bytes that are not one is an [`Error::Serialization`], and
    /// nothing is submitted.
    pub fn remote(&self, codec: Codec, args: &[u8]) -> Result<EncodedRefs> {
        self.remote_with(self.options(), codec, args)
    }

    /// [`remote`](Self::remote) with other options (start from
    /// [`options`](Self::options)). Options carrying a per-call
    /// `num_returns` (of a function returning a `Vec`) make one object per
    /// element.
    pub fn remote_with(
        &self,
        options: TaskOptions,
        codec: Codec,
        args: &[u8],
    ) -> Result<EncodedRefs> {
        match (options.num_returns, self.split) {
            (None, _) => (self.submit)(options, codec, args),
            (Some(_), Some(split)) => split(options, codec, args),
            (Some(_), None) => Err(Error::InvalidArgument {
                call: "remote",
                reason: format!(
                    "`{}` does not return a `Vec`: it cannot be called with `num_returns`",
                    self.name
                ),
            }),
        }
    }

    /// Submits a call of a streaming generator with its options in the
    /// current runtime; returns at once with the stream of its items, each
    /// encoded with `codec`. [`Error::InvalidArgument`] for a function that
    /// is not a generator.
    ///
    /// ```
    /// #[rustyray::remote(streaming)]
    /// fn countdown(from: u32) -> impl Iterator<Item = u32> + Send + 'static {
    ///     (0..from).rev()
    /// }
    ///
    /// use rustyray::{registry, Codec};
    ///
    /// let _rt = rustyray::init(rustyray::Config::default())?;
    /// let countdown = registry::function(concat!(module_path!(), "::countdown"))?;
    /// let args = Codec::Postcard.encode(&(3_u32,))?;
    /// let mut items = Vec::new();
    /// for item in countdown.remote_streaming(Codec::Postcard, &args)? {
    ///     items.push(Codec::Postcard.decode::<u32>(&item?.get()?)?);
    /// }
    /// assert_eq!(items, vec![2, 1, 0]);
    /// # Ok::<(), rustyray::Error>(())
    /// ```
    pub fn remote_streaming(&self, codec: Codec, args: &[u8]) -> Result<EncodedStream> {
        self.remote_streaming_with(self.options(), codec, args)
    }

    /// [`remote_streaming`](Self::remote_streaming) with other options.
    pub fn remote_streaming_with(
        &self,
        options: TaskOptions,
        codec: Codec,
        args: &[u8],
    ) -> Result<EncodedStream> {
        match self.stream {
            Some(stream) => stream(options, codec, args),
            None => Err(not_a_generator(self.name)),
        }
    }
}

/// The error of `remote_streaming` on what is not a streaming generator.
fn not_a_generator(name: &str) -> Error {
    Error::InvalidArgument {
        call: "remote_streaming",
        reason: format!("`{name}` is not a streaming generator: call it with `remote`"),
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .finish()
    }
}

/// One of an actor's constructors, by name.
///
/// ```
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
///
///     fn incr(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
/// }
///
/// use rustyray::{registry, ActorOptions, Codec};
///
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let new = registry::constructor(concat!(module_path!(), "::Counter"), "new")?;
/// let counter = new.remote(ActorOptions::default(), Codec::Postcard, &Codec::Postcard.encode(&(10_i64,))?)?;
/// let results = counter.call("incr", Codec::Postcard, &Codec::Postcard.encode(&(5_i64,))?)?;
/// assert_eq!(Codec::Postcard.decode::<i64>(&results[0].get()?)?, 15);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub struct Constructor {
    actor: &'static str,
    name: &'static str,
    create: CreateFn,
}

type CreateFn = fn(ActorOptions, Codec, &[u8]) -> Result<AnyActor>;

impl Constructor {
    #[doc(hidden)]
    pub const fn __new(actor: &'static str, name: &'static str, create: CreateFn) -> Self {
        Constructor {
            actor,
            name,
            create,
        }
    }

    /// The actor's stable name: `module::path::Actor`.
    pub fn actor(&self) -> &'static str {
        self.actor
    }

    /// The constructor's name (`new`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Creates the actor with `options` (in their runtime, else the current
    /// one), running this constructor on `args` (the tuple of its arguments
    /// encoded with `codec`); returns at once.
    pub fn remote(&self, options: ActorOptions, codec: Codec, args: &[u8]) -> Result<AnyActor> {
        (self.create)(options, codec, args)
    }
}

impl fmt::Debug for Constructor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Constructor")
            .field("actor", &self.actor)
            .field("name", &self.name)
            .finish()
    }
}

/// One of an actor's methods, by name (called through [`AnyActor::call`]).
#[doc(hidden)]
pub struct Method {
    actor: &'static str,
    name: &'static str,
    call: CallFn,
    /// A streaming method's call.
    stream: Option<MethodStreamFn>,
}

type CallFn = fn(&AnyActor, Codec, &[u8]) -> Result<EncodedRefs>;
type MethodStreamFn = fn(&AnyActor, Codec, &[u8]) -> Result<EncodedStream>;

impl Method {
    #[doc(hidden)]
    pub const fn __new(actor: &'static str, name: &'static str, call: CallFn) -> Self {
        Method {
            actor,
            name,
            call,
            stream: None,
        }
    }

    /// A streaming method's entry calls through `stream`.
    #[doc(hidden)]
    pub const fn __streaming(mut self, stream: MethodStreamFn) -> Self {
        self.stream = Some(stream);
        self
    }
}

/// A handle to an actor created by name, whose type the caller does not
/// name: its methods are called by name, with encoded arguments.
#[derive(Clone)]
pub struct AnyActor {
    actor: &'static str,
    id: ActorId,
    pub(crate) runtime: Runtime,
    /// The typed `ActorRef<A>`.
    handle: Arc<dyn Any + Send + Sync>,
    /// Its mailbox, which a Ray worker asks whether it exited.
    #[cfg(feature = "ray")]
    mailbox: Arc<Mailbox>,
    /// In a Ray worker, the attempt Ray runs of the calls made through
    /// this handle (Ray does the retrying: each runs once).
    #[cfg(feature = "ray")]
    ray_attempt: Option<FirstAttempt>,
}

impl AnyActor {
    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.id
    }

    /// The actor's stable name: `module::path::Actor`.
    pub fn actor(&self) -> &'static str {
        self.actor
    }

    /// Submits a call of the method `method` (`incr`) with `args` (the
    /// tuple of its arguments encoded with `codec`); returns at once with a
    /// ref to each result, encoded with `codec`.
    pub fn call(&self, method: &str, codec: Codec, args: &[u8]) -> Result<EncodedRefs> {
        let entry = index().method(self.actor, method)?;
        (entry.call)(self, codec, args)
    }

    /// Calls the streaming method `method` (`#[method(streaming)]`) with
    /// `args`; returns at once with the stream of its items, each encoded
    /// with `codec`. [`Error::InvalidArgument`] for a method that is not a
    /// generator.
    pub fn call_streaming(&self, method: &str, codec: Codec, args: &[u8]) -> Result<EncodedStream> {
        let entry = index().method(self.actor, method)?;
        match entry.stream {
            Some(stream) => stream(self, codec, args),
            None => Err(not_a_generator(&member((self.actor, method)))),
        }
    }

    /// Whether the method `method` is a streaming generator.
    pub fn is_streaming(&self, method: &str) -> Result<bool> {
        Ok(index().method(self.actor, method)?.stream.is_some())
    }

    /// This handle, its calls running once each as the attempt `attempt`
    /// of Ray's call that Ray runs.
    #[cfg(feature = "ray")]
    pub(crate) fn as_ray_attempt(&self, attempt: FirstAttempt) -> AnyActor {
        AnyActor {
            ray_attempt: Some(attempt),
            ..self.clone()
        }
    }

    /// `method`'s settings for a call through this handle.
    fn method_info(&self, method: MethodInfo) -> MethodInfo {
        #[cfg(feature = "ray")]
        if let Some(attempt) = self.ray_attempt {
            return MethodInfo {
                max_retries: Some(0),
                first_attempt: attempt,
                ..method
            };
        }
        method
    }

    /// Whether a call of the actor called [`exit_actor`](crate::exit_actor).
    #[cfg(feature = "ray")]
    pub(crate) fn is_exiting(&self) -> bool {
        self.mailbox.is_exiting()
    }

    /// The typed handle, for a generated method's entry.
    pub(crate) fn typed<A: Actor>(&self) -> Result<&ActorRef<A>> {
        self.handle
            .downcast_ref::<ActorRef<A>>()
            .ok_or_else(|| Error::InvalidArgument {
                call: "AnyActor::call",
                reason: format!(
                    "the actor is a `{}`, not a `{}`",
                    self.actor,
                    std::any::type_name::<A>()
                ),
            })
    }
}

impl fmt::Debug for AnyActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyActor")
            .field("actor", &self.actor)
            .field("id", &self.id)
            .finish()
    }
}

/// What an expansion registers.
#[doc(hidden)]
pub enum Entry {
    Function(Function),
    Constructor(Constructor),
    Method(Method),
}

inventory::collect!(Entry);

/// The remote function registered as `name` (`module::path::function`).
///
/// [`Error::InvalidArgument`] when no function has that name, or when
/// several do (see the module docs).
pub fn function(name: &str) -> Result<&'static Function> {
    index().functions.get(name).map_or_else(
        || Err(not_found("registry::function", "remote function", name)),
        |found| found.one("registry::function", name),
    )
}

/// Every remote function linked into the program, by name.
pub fn functions() -> impl Iterator<Item = &'static Function> {
    let mut all: Vec<&'static Function> = inventory::iter::<Entry>()
        .filter_map(|entry| match entry {
            Entry::Function(f) => Some(f),
            _ => None,
        })
        .collect();
    all.sort_by_key(|f| f.name);
    all.into_iter()
}

/// The constructor `name` (`new`) of the actor registered as `actor`
/// (`module::path::Actor`).
pub fn constructor(actor: &str, name: &str) -> Result<&'static Constructor> {
    let key = (actor, name);
    index().constructors.get(&key).map_or_else(
        || {
            Err(not_found(
                "registry::constructor",
                "actor constructor",
                &member(key),
            ))
        },
        |found| found.one("registry::constructor", &member(key)),
    )
}

/// The names of the methods registered for `actor` that are not streaming
/// (a Ray actor class gets a method of each name), sorted.
#[cfg(feature = "ray")]
pub(crate) fn call_methods(actor: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = index()
        .methods
        .iter()
        .filter(|((of, _), found)| {
            *of == actor && matches!(found, Found::One(method) if method.stream.is_none())
        })
        .map(|((_, name), _)| *name)
        .collect();
    names.sort_unstable();
    names
}

/// `Actor.member`, as errors name it.
fn member((actor, name): (&str, &str)) -> String {
    format!("{actor}.{name}")
}

fn not_found(call: &'static str, what: &str, name: &str) -> Error {
    Error::InvalidArgument {
        call,
        reason: format!(
            "no {what} is registered as `{name}` in this program (names are \
             `module::path::item`, as `module_path!()` writes them)"
        ),
    }
}

/// The entries registered under one name: one, or an ambiguity.
enum Found<T: 'static> {
    One(&'static T),
    Many(usize),
}

impl<T> Found<T> {
    fn add(slot: Option<Self>, entry: &'static T) -> Self {
        match slot {
            None => Found::One(entry),
            Some(Found::One(_)) => Found::Many(2),
            Some(Found::Many(n)) => Found::Many(n + 1),
        }
    }

    fn one(&self, call: &'static str, name: &str) -> Result<&'static T> {
        match self {
            Found::One(entry) => Ok(entry),
            Found::Many(n) => Err(Error::InvalidArgument {
                call,
                reason: format!(
                    "{n} items are registered as `{name}` (declared in function bodies of one \
                     module, they share its path): call them through their handles"
                ),
            }),
        }
    }
}

/// The entries by name, built on the first lookup.
struct Index {
    functions: HashMap<&'static str, Found<Function>>,
    constructors: HashMap<(&'static str, &'static str), Found<Constructor>>,
    methods: HashMap<(&'static str, &'static str), Found<Method>>,
}

impl Index {
    fn method(&self, actor: &'static str, name: &str) -> Result<&'static Method> {
        let key = (actor, name);
        let call = "AnyActor::call";
        self.methods.get(&key).map_or_else(
            || Err(not_found(call, "actor method", &member(key))),
            |found| found.one(call, &member(key)),
        )
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index {
            functions: HashMap::new(),
            constructors: HashMap::new(),
            methods: HashMap::new(),
        };
        for entry in inventory::iter::<Entry>() {
            match entry {
                Entry::Function(f) => {
                    let slot = index.functions.remove(f.name);
                    index.functions.insert(f.name, Found::add(slot, f));
                }
                Entry::Constructor(c) => {
                    let key = (c.actor, c.name);
                    let slot = index.constructors.remove(&key);
                    index.constructors.insert(key, Found::add(slot, c));
                }
                Entry::Method(m) => {
                    let key = (m.actor, m.name);
                    let slot = index.methods.remove(&key);
                    index.methods.insert(key, Found::add(slot, m));
                }
            }
        }
        index
    })
}

// What the generated entries call.

/// Decodes `args` with `runtime` in scope, so refs inside bind to it.
pub(crate) fn decode<V: ValueList>(runtime: &Runtime, codec: Codec, args: &[u8]) -> Result<V> {
    let _scope = runtime.enter();
    codec.decode(args)
}

/// The runtime a call by name goes to.
pub(crate) fn runtime_of(option: &Option<Runtime>) -> Result<Runtime> {
    match option {
        Some(runtime) => Ok(runtime.clone()),
        None => global(),
    }
}

/// A sync remote function's entry: decodes, then submits as a typed call.
fn submit_sync_by_name<V, R, F>(
    options: TaskOptions,
    codec: Codec,
    args: &[u8],
    body: F,
) -> Result<EncodedRefs>
where
    V: ValueList,
    R: TaskReturn,
    F: Fn(V) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    let values: V = decode(&runtime_of(&options.runtime)?, codec, args)?;
    submit_sync::<V::Args, Encoded<R>, _>(options, values.into_args(), move |values| {
        body(values).map(|value| Encoded { value, codec })
    })
}

/// An async remote function's entry.
fn submit_async_by_name<V, R, F, Fut>(
    options: TaskOptions,
    codec: Codec,
    args: &[u8],
    body: F,
) -> Result<EncodedRefs>
where
    V: ValueList,
    R: TaskReturn,
    F: Fn(V) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
{
    let values: V = decode(&runtime_of(&options.runtime)?, codec, args)?;
    submit_async::<V::Args, Encoded<R>, _, _>(options, values.into_args(), move |values| {
        let result = body(values);
        async move { result.await.map(|value| Encoded { value, codec }) }
    })
}

/// A constructor's entry: decodes, then creates the actor as a typed call.
fn create_by_name<A, V, F>(
    options: ActorOptions,
    class: &ActorClass,
    (actor, constructor): (&'static str, &'static str),
    codec: Codec,
    args: &[u8],
    ctor: F,
) -> Result<AnyActor>
where
    A: Actor,
    V: ValueList,
    F: Fn(V) -> std::result::Result<A, UserError> + Send + Sync + 'static,
{
    let runtime = runtime_of(&options.runtime)?;
    let values: V = decode(&runtime, codec, args)?;
    let options = options.on(&runtime);
    let handle = ActorRef::<A>::__create(options, class, constructor, values.into_args(), ctor)?;
    Ok(AnyActor {
        actor,
        id: handle.id(),
        runtime,
        #[cfg(feature = "ray")]
        mailbox: Arc::clone(handle.mailbox()),
        #[cfg(feature = "ray")]
        ray_attempt: None,
        handle: Arc::new(handle),
    })
}

/// A sync `&self` method's entry.
fn call_ref_by_name<A, V, R, F>(
    actor: &AnyActor,
    method: MethodInfo,
    codec: Codec,
    args: &[u8],
    f: F,
) -> Result<EncodedRefs>
where
    A: Actor,
    V: ValueList,
    R: TaskReturn,
    F: Fn(&A, V) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    let handle = actor.typed::<A>()?;
    let values: V = decode(&actor.runtime, codec, args)?;
    handle.__call_ref::<V::Args, Encoded<R>, _>(method, values.into_args(), move |a, values| {
        f(a, values).map(|value| Encoded { value, codec })
    })
}

/// A sync `&mut self` method's entry.
fn call_mut_by_name<A, V, R, F>(
    actor: &AnyActor,
    method: MethodInfo,
    codec: Codec,
    args: &[u8],
    f: F,
) -> Result<EncodedRefs>
where
    A: Actor,
    V: ValueList,
    R: TaskReturn,
    F: Fn(&mut A, V) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    let handle = actor.typed::<A>()?;
    let values: V = decode(&actor.runtime, codec, args)?;
    handle.__call_mut::<V::Args, Encoded<R>, _>(method, values.into_args(), move |a, values| {
        f(a, values).map(|value| Encoded { value, codec })
    })
}

/// An async method's entry, holding the state as `G`.
fn call_async_by_name<A, V, R, G, F, Fut>(
    actor: &AnyActor,
    method: MethodInfo,
    codec: Codec,
    args: &[u8],
    f: F,
) -> Result<EncodedRefs>
where
    A: Actor,
    V: ValueList,
    R: TaskReturn,
    G: Access<A>,
    F: Fn(G, V) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
{
    let handle = actor.typed::<A>()?;
    let values: V = decode(&actor.runtime, codec, args)?;
    handle.__call_async::<V::Args, Encoded<R>, G, _, _>(method, values.into_args(), move |g, v| {
        let result = f(g, v);
        async move { result.await.map(|value| Encoded { value, codec }) }
    })
}

/// Where a generated helper submits a call: typed, from a handle's
/// `remote(..)`, or by name, from the registry's entry. One helper serves
/// both (see `#[remote]`'s expansion), so the user's types are checked at
/// one place.
#[doc(hidden)]
pub enum Call<'a, A> {
    Typed(TaskOptions, A),
    ByName(TaskOptions, Codec, &'a [u8]),
}

/// What a [`Call`] returned: the typed refs, or the encoded ones.
#[doc(hidden)]
pub enum Submitted<Refs> {
    Typed(Refs),
    ByName(EncodedRefs),
}

impl<Refs> Submitted<Refs> {
    /// The typed refs of a [`Call::Typed`].
    pub fn typed(self) -> Result<Refs> {
        match self {
            Submitted::Typed(refs) => Ok(refs),
            Submitted::ByName(_) => Err(mixed_up()),
        }
    }

    /// The encoded refs of a [`Call::ByName`].
    pub fn by_name(self) -> Result<EncodedRefs> {
        match self {
            Submitted::ByName(refs) => Ok(refs),
            Submitted::Typed(_) => Err(mixed_up()),
        }
    }
}

/// A generated call that asked for one kind of refs and got the other:
/// the expansions never do that.
fn mixed_up() -> Error {
    Error::InvalidArgument {
        call: "remote",
        reason: "a typed call and a call by name were mixed up (a bug in the macros)".into(),
    }
}

impl<A> Call<'_, A>
where
    A: crate::task::args::ArgList,
    A::Values: ValueList<Args = A>,
{
    /// Submits a sync function's call.
    pub fn submit_sync<R, F>(self, body: F) -> Result<Submitted<R::Refs>>
    where
        R: TaskReturn,
        F: Fn(A::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        match self {
            Call::Typed(options, args) => submit_sync(options, args, body).map(Submitted::Typed),
            Call::ByName(options, codec, args) => {
                submit_sync_by_name(options, codec, args, body).map(Submitted::ByName)
            }
        }
    }

    /// Submits an async function's call.
    pub fn submit_async<R, F, Fut>(self, body: F) -> Result<Submitted<R::Refs>>
    where
        R: TaskReturn,
        F: Fn(A::Values) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
    {
        match self {
            Call::Typed(options, args) => submit_async(options, args, body).map(Submitted::Typed),
            Call::ByName(options, codec, args) => {
                submit_async_by_name(options, codec, args, body).map(Submitted::ByName)
            }
        }
    }
}

/// Where a generated actor-creation helper goes: typed, from
/// `Actor::remote(..)`, or by name, from the registry's entry (under the
/// actor's registered name).
#[doc(hidden)]
pub enum CreateCall<'a, A> {
    Typed(ActorOptions, A),
    ByName(ActorOptions, &'static str, Codec, &'a [u8]),
}

/// What a [`CreateCall`] made.
#[doc(hidden)]
pub enum Created<A> {
    Typed(ActorRef<A>),
    ByName(AnyActor),
}

impl<A> Created<A> {
    /// The handle of a [`CreateCall::Typed`].
    pub fn typed(self) -> Result<ActorRef<A>> {
        match self {
            Created::Typed(handle) => Ok(handle),
            Created::ByName(_) => Err(mixed_up()),
        }
    }

    /// The handle of a [`CreateCall::ByName`].
    pub fn by_name(self) -> Result<AnyActor> {
        match self {
            Created::ByName(actor) => Ok(actor),
            Created::Typed(_) => Err(mixed_up()),
        }
    }
}

impl<Ar> CreateCall<'_, Ar>
where
    Ar: crate::task::args::ArgList,
    Ar::Values: ValueList<Args = Ar>,
{
    /// Creates the actor with `ctor`, named `constructor` (`Counter.new`).
    pub fn create<A, F>(self, constructor: &'static str, ctor: F) -> Result<Created<A>>
    where
        A: Actor + crate::__private::ActorMethods,
        F: Fn(Ar::Values) -> std::result::Result<A, UserError> + Send + Sync + 'static,
    {
        match self {
            CreateCall::Typed(options, args) => {
                ActorRef::__create(options, &A::__CLASS, constructor, args, ctor)
                    .map(Created::Typed)
            }
            CreateCall::ByName(options, actor, codec, args) => create_by_name(
                options,
                &A::__CLASS,
                (actor, constructor),
                codec,
                args,
                ctor,
            )
            .map(Created::ByName),
        }
    }
}

/// Where a generated method-call helper goes: typed, from the handle's
/// method, or by name, from the registry's entry.
#[doc(hidden)]
pub enum MethodCall<'a, A, Ar> {
    Typed(&'a ActorRef<A>, Ar),
    ByName(&'a AnyActor, Codec, &'a [u8]),
}

impl<A, Ar> MethodCall<'_, A, Ar>
where
    A: Actor,
    Ar: crate::task::args::ArgList,
    Ar::Values: ValueList<Args = Ar>,
{
    /// Calls a sync `&self` method, named `method` (`Counter.get`).
    pub fn call_ref<R, F>(self, method: impl Into<MethodInfo>, f: F) -> Result<Submitted<R::Refs>>
    where
        R: TaskReturn,
        F: Fn(&A, Ar::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        match self {
            MethodCall::Typed(handle, args) => {
                handle.__call_ref(method, args, f).map(Submitted::Typed)
            }
            MethodCall::ByName(actor, codec, args) => {
                call_ref_by_name(actor, actor.method_info(method.into()), codec, args, f)
                    .map(Submitted::ByName)
            }
        }
    }

    /// Calls a sync `&mut self` method.
    pub fn call_mut<R, F>(self, method: impl Into<MethodInfo>, f: F) -> Result<Submitted<R::Refs>>
    where
        R: TaskReturn,
        F: Fn(&mut A, Ar::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        match self {
            MethodCall::Typed(handle, args) => {
                handle.__call_mut(method, args, f).map(Submitted::Typed)
            }
            MethodCall::ByName(actor, codec, args) => {
                call_mut_by_name(actor, actor.method_info(method.into()), codec, args, f)
                    .map(Submitted::ByName)
            }
        }
    }

    /// Calls an async method, holding the state as `G`.
    pub fn call_async<R, G, F, Fut>(
        self,
        method: impl Into<MethodInfo>,
        f: F,
    ) -> Result<Submitted<R::Refs>>
    where
        R: TaskReturn,
        G: Access<A>,
        F: Fn(G, Ar::Values) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
    {
        match self {
            MethodCall::Typed(handle, args) => {
                handle.__call_async(method, args, f).map(Submitted::Typed)
            }
            MethodCall::ByName(actor, codec, args) => {
                call_async_by_name(actor, actor.method_info(method.into()), codec, args, f)
                    .map(Submitted::ByName)
            }
        }
    }
}
