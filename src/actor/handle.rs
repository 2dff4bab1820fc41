//! Handles: [`ActorRef<A>`], the [`Actor`] and [`ActorHandle`] traits, and
//! the calls generated code makes through them.

use std::any::{type_name, Any};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::actor::core::{Access, ActorCore};
use crate::actor::id::ActorId;
use crate::actor::mailbox::Mailbox;
use crate::actor::options::ActorOptions;
use crate::actor::registry::Registered;
use crate::error::{Error, Result};
use crate::object::handoff::{self, Handoff};
use crate::object::TypeTag;
use crate::runtime::{context, global, Runtime};
use crate::sync::catch;
use crate::task::args::ArgList;
use crate::task::options::TaskOptions;
use crate::task::returns::{Outputs, TaskReturn, UserError};
use crate::task::submit::{submit_task, Submission};
use crate::task::task::{Body, Place};

/// A type that runs as an actor: implemented by `#[rustyray::actor]` on the
/// struct. The state need not be serializable; it must be `Send + Sync`
/// (wrap non-`Sync` parts in a `Mutex`) because `&self` calls may overlap.
pub trait Actor: Send + Sync + Sized + 'static {
    /// The generated `<Name>Handle` type.
    type Handle: ActorHandle<Actor = Self>;
}

/// A typed handle to an actor, generated as `<Name>Handle`: `Clone + Send +
/// Sync`, serializable through the scoped context like an `ObjectRef`: as
/// the actor's id and a tag of its actor type (the 64-bit FNV-1a hash of
/// `ActorRef<{std::any::type_name::<A>()}>`, 8 bytes), so that a handle
/// decoded as another actor type's handle is refused.
pub trait ActorHandle: Clone + Send + Sync + 'static {
    /// The actor type.
    type Actor: Actor;

    /// The untyped-method core of the handle.
    fn actor_ref(&self) -> &ActorRef<Self::Actor>;

    /// Wraps a core handle.
    #[doc(hidden)]
    fn from_actor_ref(r: ActorRef<Self::Actor>) -> Self;

    /// The actor's id.
    fn id(&self) -> ActorId {
        self.actor_ref().id()
    }
}

/// The handle behind every generated `<Name>Handle`.
///
/// Clones share one registration; an unnamed actor stops when every handle
/// to it is gone (after the calls already submitted finish).
pub struct ActorRef<A> {
    inner: Arc<Registration<A>>,
}

/// One live registration of a handle with its actor's mailbox.
struct Registration<A> {
    core: Arc<ActorCore<A>>,
}

impl<A> Drop for Registration<A> {
    fn drop(&mut self) {
        self.core.mailbox.handle_dropped();
    }
}

impl<A> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorRef({})", self.inner.core.mailbox.label)
    }
}

/// Refs for a call that failed before it was submitted (dead actor).
fn failed<R: TaskReturn>(runtime: &Runtime, err: Error) -> R::Refs {
    let outputs = Outputs::new((0..R::COUNT).map(|_| runtime.store().failed(err.clone())));
    R::refs(&outputs)
}

impl<A: Actor> ActorRef<A> {
    fn register(core: Arc<ActorCore<A>>) -> Self {
        core.mailbox.handle_added();
        ActorRef {
            inner: Arc::new(Registration { core }),
        }
    }

    fn from_any(core: Arc<dyn Any + Send + Sync>, found: &str) -> Result<Self, String> {
        core.downcast::<ActorCore<A>>()
            .map(ActorRef::register)
            .map_err(|_| format!("it is a `{found}`, not a `{}`", type_name::<A>()))
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.inner.core.mailbox.id
    }

    fn mailbox(&self) -> &Arc<Mailbox> {
        &self.inner.core.mailbox
    }

    /// Creates an actor: generated `A::remote(..)` / `A::options().remote(..)`.
    #[doc(hidden)]
    pub fn __create<Ar, F>(
        options: ActorOptions,
        constructor: &'static str,
        args: Ar,
        ctor: F,
    ) -> Result<Self>
    where
        Ar: ArgList,
        F: Fn(Ar::Values) -> std::result::Result<A, UserError> + Send + Sync + 'static,
    {
        let runtime = match &options.runtime {
            Some(rt) => rt.clone(),
            None => global()?,
        };
        runtime.check_running()?;
        if options.get_if_exists && options.name.is_none() {
            return Err(Error::InvalidConfig {
                field: "get_if_exists",
                reason: "needs a name to look up: set `.name(..)` too".to_string(),
            });
        }
        let type_name = type_name::<A>();
        let task_options = TaskOptions {
            num_cpus: options.num_cpus,
            resources: options.resources.clone(),
            max_retries: 0,
            ..TaskOptions::__new(constructor)
        };
        // Check the demand before anything is registered.
        runtime
            .scheduler()
            .capacity()
            .demand(constructor, options.num_cpus, &options.resources)?;
        let short_name = type_name.rsplit("::").next().unwrap_or(type_name);
        let mailbox = Mailbox::new(
            runtime.actors().next_id(),
            short_name,
            options.name.clone(),
            constructor,
            runtime.clone(),
            options.max_concurrency,
        );
        let core = ActorCore::<A>::new(
            Arc::clone(&mailbox),
            options.max_restarts,
            options.max_task_retries,
        );
        let registered = runtime.actors().register(
            core.clone(),
            &mailbox,
            type_name,
            options.get_if_exists,
            || runtime.store().shut_down(),
        )?;
        if let Registered::Existing(existing) = registered {
            return Self::from_any(existing, type_name).map_err(|reason| Error::ActorNotFound {
                name: options.name.unwrap_or_default(),
                reason,
            });
        }
        let handle = ActorRef::register(Arc::clone(&core));
        let submission = Submission {
            place: Place::Pool,
            actor: Some(Arc::clone(&mailbox)),
            reusable_args: options.max_restarts != 0,
            outputs: 0,
        };
        let created = submit_task(&runtime, &task_options, submission, args, |args| {
            core.creation_body(args, ctor)
        });
        if let Err(err) = created {
            mailbox.die(format!("it could not be created: {err}"));
            return Err(err);
        }
        Ok(handle)
    }

    fn call<Ar: ArgList, R: TaskReturn>(
        &self,
        method: &'static str,
        args: Ar,
        body: impl FnOnce(&Arc<ActorCore<A>>, Ar) -> Body,
    ) -> Result<R::Refs> {
        let mailbox = self.mailbox();
        let runtime = &mailbox.runtime;
        runtime.check_running()?;
        let seq = match mailbox.assign_seq() {
            Ok(seq) => seq,
            Err(dead) => return Ok(failed::<R>(runtime, dead)),
        };
        let options = TaskOptions {
            num_cpus: 0.0,
            max_retries: self.inner.core.max_task_retries(),
            retry_exceptions: true,
            ..TaskOptions::__new(method)
        };
        let submission = Submission {
            place: Place::Actor { seq },
            actor: Some(Arc::clone(mailbox)),
            reusable_args: options.max_retries > 0,
            outputs: R::COUNT,
        };
        let core = &self.inner.core;
        // Submitting runs user code (a `Serialize` when an argument is
        // stored for retries): whatever happens, the call's turn must end,
        // or it would hold up every later call.
        let submitted =
            catch(|| submit_task(runtime, &options, submission, args, |args| body(core, args)))
                .unwrap_or_else(|panic| {
                    Err(Error::Serialization(format!(
                        "an argument of `{method}` could not be stored: its `Serialize` {panic}"
                    )))
                });
        match submitted {
            Ok(task) => Ok(R::refs(&task.outputs)),
            Err(err) => {
                mailbox.finished(seq);
                Err(err)
            }
        }
    }

    /// Calls a sync `&self` method.
    #[doc(hidden)]
    pub fn __call_ref<Ar, R, F>(&self, method: &'static str, args: Ar, f: F) -> Result<R::Refs>
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&A, Ar::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        self.call::<Ar, R>(method, args, |core, args| core.call_ref(args, f))
    }

    /// Calls a sync `&mut self` method.
    #[doc(hidden)]
    pub fn __call_mut<Ar, R, F>(&self, method: &'static str, args: Ar, f: F) -> Result<R::Refs>
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&mut A, Ar::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        self.call::<Ar, R>(method, args, |core, args| core.call_mut(args, f))
    }

    /// Calls an async method, holding the state as `G`:
    /// [`ActorRead`](crate::actor::ActorRead) for `&self`,
    /// [`ActorWrite`](crate::actor::ActorWrite) for `&mut self`.
    #[doc(hidden)]
    pub fn __call_async<Ar, R, G, F, Fut>(
        &self,
        method: &'static str,
        args: Ar,
        f: F,
    ) -> Result<R::Refs>
    where
        Ar: ArgList,
        R: TaskReturn,
        G: Access<A>,
        F: Fn(G, Ar::Values) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
    {
        self.call::<Ar, R>(method, args, |core, args| core.call_async(args, f))
    }
}

/// A handle on the wire: the actor's id and the [`TypeTag`] of
/// `ActorRef<A>`, so that a handle decoded as another actor type's is
/// refused before any lookup.
#[derive(Serialize, Deserialize)]
#[serde(rename = "ActorRef")]
struct Wire {
    id: ActorId,
    type_tag: TypeTag,
}

/// What a handle's [`TypeTag`] names its actor type in.
const KIND: &str = "ActorRef";

impl<A: Actor> Serialize for ActorRef<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // In an in-process copy or a spill, the handle goes along (and a
        // spilled value keeps its actor's registration alive).
        if !handoff::is_measuring() {
            handoff::leave(|| self.inner.clone());
        }
        Wire {
            id: self.inner.core.mailbox.id,
            type_tag: TypeTag::of::<A>(KIND),
        }
        .serialize(serializer)
    }
}

impl<'de, A: Actor> Deserialize<'de> for ActorRef<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let Wire { id, type_tag } = Wire::deserialize(deserializer)?;
        if type_tag != TypeTag::of::<A>(KIND) {
            return Err(D::Error::custom(format_args!(
                "cannot decode actor handle {id} as a handle to a `{}`: it was encoded as a \
                 handle to another actor type (or by another build of the program)",
                type_name::<A>()
            )));
        }
        match handoff::take() {
            Handoff::Handle(handle) => {
                return match handle.downcast::<Registration<A>>() {
                    Ok(inner) if inner.core.mailbox.id == id => Ok(ActorRef { inner }),
                    _ => Err(D::Error::custom(format_args!(
                        "cannot decode actor handle {id}: the value's handles changed while it \
                         was copied"
                    ))),
                };
            }
            Handoff::Exhausted => {
                return Err(D::Error::custom(format_args!(
                    "cannot decode actor handle {id}: the copied value held no handle there"
                )));
            }
            Handoff::NotCopying => {}
        }
        let found = context::with_current(|runtime| match runtime {
            None => Err(format!(
                "cannot decode actor handle {id}: no RustyRay runtime in scope"
            )),
            Some(rt) if rt.id() != id.runtime() => Err(format!(
                "cannot decode actor handle {id}: it belongs to runtime {}, but runtime {} is in \
                 scope",
                id.runtime(),
                rt.id()
            )),
            Some(rt) => rt
                .actors()
                .by_id(id)
                .ok_or_else(|| format!("cannot decode actor handle {id}: the actor is dead")),
        })
        .map_err(D::Error::custom)?;
        ActorRef::from_any(found.0, found.1).map_err(|reason| {
            D::Error::custom(format_args!("cannot decode actor handle {id}: {reason}"))
        })
    }
}

/// The handle of the live actor named `name` in the current runtime.
/// [`Error::ActorNotFound`] when there is none, or it is not an `A`.
///
/// ```
/// #[rustyray::actor]
/// struct Counter {
///     n: i64,
/// }
///
/// #[rustyray::actor]
/// impl Counter {
///     fn new() -> Self {
///         Counter { n: 0 }
///     }
///
///     fn incr(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let hits = Counter::options().name("hits").remote()?;
/// hits.incr(2)?;
/// // Elsewhere, by name:
/// let same: CounterHandle = rustyray::get_actor::<Counter>("hits")?;
/// assert_eq!(same.incr(1)?.get()?, 3);
/// assert!(rustyray::get_actor::<Counter>("misses").is_err());
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn get_actor<A: Actor>(name: &str) -> Result<A::Handle> {
    global()?.get_actor::<A>(name)
}

/// Kills the actor: calls waiting or running fail with
/// [`Error::ActorDied`], its state is dropped, it is not restarted.
///
/// ```
/// use rustyray::Error;
///
/// #[rustyray::actor]
/// struct Counter {
///     n: i64,
/// }
///
/// #[rustyray::actor]
/// impl Counter {
///     fn new() -> Self {
///         Counter { n: 0 }
///     }
///
///     fn incr(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let counter = Counter::remote()?;
/// assert_eq!(counter.incr(1)?.get()?, 1);
/// rustyray::kill(&counter)?;
/// assert!(matches!(counter.incr(1)?.get(), Err(Error::ActorDied { .. })));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn kill<H: ActorHandle>(handle: &H) -> Result<()> {
    handle.actor_ref().kill();
    Ok(())
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn kill(&self) {
        self.mailbox().die("it was killed".to_string());
    }
}

impl Runtime {
    /// See [`get_actor`](crate::get_actor).
    pub fn get_actor<A: Actor>(&self, name: &str) -> Result<A::Handle> {
        self.check_running()?;
        let (core, found) = self.actors().by_name(name)?;
        ActorRef::<A>::from_any(core, found)
            .map(A::Handle::from_actor_ref)
            .map_err(|reason| Error::ActorNotFound {
                name: name.to_string(),
                reason,
            })
    }

    /// See [`kill`](crate::kill).
    pub fn kill<H: ActorHandle>(&self, handle: &H) -> Result<()> {
        handle.actor_ref().kill();
        Ok(())
    }
}
