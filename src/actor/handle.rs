//! Handles: [`ActorRef<A>`], the [`Actor`] and [`ActorHandle`] traits, and
//! the calls generated code makes through them.

use std::any::{type_name, Any};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::actor::core::{Access, ActorCore};
use crate::actor::mailbox::{Construction, Lanes, Mailbox};
use crate::actor::method::MethodInfo;
use crate::actor::registry::{current_table, ActorTable, Registered};
use crate::error::{Error, Result};
use crate::object::handoff::{self, Handoff};
use crate::object::TypeTag;
use crate::sync::catch;
use crate::task::args::ArgList;
use crate::task::body::submit;
use crate::task::id::ActorId;
use crate::task::resources::Demand;
use crate::task::returns::{Outputs, TaskReturn, UserError};
use crate::task::scheduler::Scheduler;
use crate::task::spec::{FirstAttempt, TaskName, TaskSpec};
use crate::task::task::Body;

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
    /// Where the actor lives when not here (a Ray actor): its calls go
    /// there, and the local core is only its identity.
    #[cfg(feature = "ray")]
    remote: Option<Arc<dyn RemoteActor>>,
}

/// An actor that lives in another process (a Ray actor, feature `ray`),
/// as the engine that made it reaches it.
#[cfg(feature = "ray")]
pub(crate) trait RemoteActor: Send + Sync {
    /// Submits a call of `method` (`Counter.incr`, in its concurrency
    /// group); the cells of its `outputs` results.
    fn call(
        &self,
        method: MethodInfo,
        args: Vec<crate::task::args::RayArg>,
        outputs: usize,
    ) -> Result<Vec<Arc<crate::object::cell::ObjectCell>>>;

    /// Calls the streaming method `method`: its task cell and its items.
    fn call_streaming(
        &self,
        method: MethodInfo,
        args: Vec<crate::task::args::RayArg>,
        backpressure: Option<usize>,
    ) -> Result<crate::task::stream::RemoteStream>;

    /// Kills the actor; with `no_restart` false, its engine restarts it
    /// while its restarts last.
    fn kill(&self, no_restart: bool);

    /// The engine's own type, for the engine to find what names the actor
    /// when a handle crosses (see [`ForeignActor`]).
    fn as_any(&self) -> &dyn Any;

    /// The engine's id of the actor (Ray's, in hex), which its handles
    /// here go by.
    fn engine_id(&self) -> &str;
}

/// An actor living elsewhere, as a handle to it crosses to or from a Ray
/// worker inside a value (see `object::crossing`): where its calls go, its
/// concurrency groups, and the runtime a handle decoded from it joins.
/// Decoding makes a handle of it in that runtime, whatever the bytes'
/// actor id (the other side's).
#[cfg(feature = "ray")]
pub(crate) struct ForeignActor {
    pub(crate) remote: Arc<dyn RemoteActor>,
    pub(crate) groups: Vec<String>,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) table: Arc<ActorTable>,
}

#[cfg(feature = "ray")]
impl ForeignActor {
    /// A handle to the actor, in the runtime of `scheduler` and `table`.
    pub(crate) fn handle<A: Actor>(&self) -> ActorRef<A> {
        let groups = self.groups.iter().map(|name| (name.clone(), 1)).collect();
        ActorRef::remote(
            &self.scheduler,
            &self.table,
            None,
            String::new(),
            "a handle passed inside a value",
            groups,
            Arc::clone(&self.remote),
        )
    }
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
fn failed<R: TaskReturn>(scheduler: &Scheduler, err: Error) -> R::Refs {
    let outputs = Outputs::new((0..R::COUNT).map(|_| scheduler.store().failed(err.clone())));
    R::refs(&outputs)
}

/// A call in a concurrency group the actor does not have.
fn unknown_group(mailbox: &Mailbox, method: &str, group: &str) -> Error {
    let groups = mailbox.group_names();
    Error::InvalidConfig {
        field: "concurrency_group",
        reason: format!(
            "`{method}` runs in the concurrency group `{group}`, but {} has {}: declare it in \
             `#[rustyray::actor(concurrency_groups({group} = 1))]` or with \
             `options().concurrency_group(\"{group}\", 1)`",
            mailbox.label,
            if groups.is_empty() {
                "none".to_string()
            } else {
                format!("only {}", groups.join(", "))
            }
        ),
    }
}

/// How a local actor is made: the actor layer's part of its options.
pub(crate) struct ActorSpec {
    /// The constructor, `Counter.new`: the creation task's name.
    pub(crate) constructor: &'static str,
    pub(crate) name: Option<String>,
    /// The namespace its name lives in.
    pub(crate) namespace: String,
    pub(crate) get_if_exists: bool,
    pub(crate) max_restarts: i64,
    pub(crate) max_task_retries: u32,
    /// Its default lane's limit and its concurrency groups.
    pub(crate) lanes: Lanes,
    /// What the actor holds for its lifetime.
    pub(crate) demand: Demand,
    /// The id it goes by (Ray's, in a Ray worker); `None`: a new one.
    pub(crate) id: Option<ActorId>,
}

impl<A: Actor> ActorRef<A> {
    fn register(core: Arc<ActorCore<A>>) -> Self {
        core.mailbox.handle_added();
        ActorRef {
            inner: Arc::new(Registration {
                core,
                #[cfg(feature = "ray")]
                remote: None,
            }),
        }
    }

    /// A handle to an actor living elsewhere (see [`RemoteActor`]), with
    /// its engine's id (else one of `table`'s) and the actor's concurrency
    /// `groups` (name and limit: a call in a group it does not have fails
    /// as locally).
    #[cfg(feature = "ray")]
    pub(crate) fn remote(
        scheduler: &Arc<Scheduler>,
        table: &Arc<ActorTable>,
        name: Option<String>,
        namespace: String,
        constructor: &'static str,
        groups: Vec<(String, usize)>,
        remote: Arc<dyn RemoteActor>,
    ) -> Self {
        let type_name = type_name::<A>();
        let short_name = type_name.rsplit("::").next().unwrap_or(type_name);
        let mailbox = Mailbox::new(
            ActorId::ray(table.runtime(), remote.engine_id()).unwrap_or_else(|| table.next_id()),
            short_name,
            name,
            namespace,
            constructor,
            Arc::clone(scheduler),
            Arc::downgrade(table),
            Lanes {
                max_concurrency: 1,
                sync_concurrency: 1,
                groups,
            },
        );
        let core = ActorCore::<A>::new(mailbox, 0, 0);
        core.mailbox.handle_added();
        ActorRef {
            inner: Arc::new(Registration {
                core,
                remote: Some(remote),
            }),
        }
    }

    /// A handle, typed as a `B`, to the same actor living elsewhere (a Ray
    /// actor whose calls by name a `B`'s handle makes); `None` for a local
    /// actor.
    #[cfg(feature = "ray")]
    pub(crate) fn retyped<B: Actor>(&self) -> Option<ActorRef<B>> {
        self.foreign().map(|foreign| foreign.handle())
    }

    /// The actor as a handle to it crosses to another process, when it
    /// lives elsewhere (a Ray actor; see [`ForeignActor`]).
    #[cfg(feature = "ray")]
    fn foreign(&self) -> Option<ForeignActor> {
        let remote = self.inner.remote.as_ref()?;
        let mailbox = self.mailbox();
        Some(ForeignActor {
            remote: Arc::clone(remote),
            groups: mailbox.group_names().to_vec(),
            scheduler: Arc::clone(&mailbox.scheduler),
            table: mailbox.table()?,
        })
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

    pub(crate) fn mailbox(&self) -> &Arc<Mailbox> {
        &self.inner.core.mailbox
    }

    /// Creates a local actor: registers it (or finds the live one of its
    /// name with `get_if_exists`) and submits its creation task, which runs
    /// `ctor` on the arguments.
    pub(crate) fn create<Ar, F>(
        scheduler: &Arc<Scheduler>,
        table: &Arc<ActorTable>,
        spec: ActorSpec,
        args: Ar,
        ctor: F,
    ) -> Result<Self>
    where
        Ar: ArgList,
        F: Fn(Ar::Values) -> std::result::Result<A, UserError> + Send + Sync + 'static,
    {
        let type_name = type_name::<A>();
        let short_name = type_name.rsplit("::").next().unwrap_or(type_name);
        let mailbox = Mailbox::new(
            spec.id.unwrap_or_else(|| table.next_id()),
            short_name,
            spec.name.clone(),
            spec.namespace.clone(),
            spec.constructor,
            Arc::clone(scheduler),
            Arc::downgrade(table),
            spec.lanes,
        );
        let core = ActorCore::<A>::new(
            Arc::clone(&mailbox),
            spec.max_restarts,
            spec.max_task_retries,
        );
        let registered = table.register(
            core.clone(),
            &mailbox,
            type_name,
            spec.get_if_exists,
            || scheduler.store().shut_down(),
        )?;
        if let Registered::Existing(existing) = registered {
            return Self::from_any(existing, type_name).map_err(|reason| Error::ActorNotFound {
                name: spec.name.unwrap_or_default(),
                reason,
            });
        }
        let handle = ActorRef::register(Arc::clone(&core));
        let creation = TaskSpec {
            name: TaskName::Function(spec.constructor),
            demand: spec.demand,
            max_retries: 0,
            retry_exceptions: false,
            outputs: 0,
            place: Some(Arc::new(Construction(Arc::clone(&mailbox)))),
            seq: 0,
            first_attempt: FirstAttempt::NEW,
        };
        let created = submit(scheduler, creation, args, spec.max_restarts != 0, |args| {
            core.creation_body(args, ctor)
        });
        if let Err(err) = created {
            mailbox.die(format!("it could not be created: {err}"));
            return Err(err);
        }
        Ok(handle)
    }

    /// The live actor in `table` with this name in `namespace`, as an `A`.
    pub(crate) fn by_name(table: &ActorTable, name: &str, namespace: &str) -> Result<Self> {
        let (core, found) = table.by_name(name, namespace)?;
        Self::from_any(core, found).map_err(|reason| Error::ActorNotFound {
            name: name.to_string(),
            reason,
        })
    }

    /// The lane of `method`'s concurrency group (0: the default one).
    fn lane(&self, method: &MethodInfo) -> Result<usize> {
        let mailbox = self.mailbox();
        match method.group {
            None => Ok(0),
            Some(group) => mailbox
                .group_lane(group)
                .ok_or_else(|| unknown_group(mailbox, method.name, group)),
        }
    }

    /// A streaming call of an actor living elsewhere (see [`RemoteActor`]):
    /// its task cell and its items; `None` for a local actor.
    #[cfg(feature = "ray")]
    pub(crate) fn call_streaming_remote<Ar: ArgList>(
        &self,
        method: MethodInfo,
        args: &mut Ar,
        backpressure: Option<usize>,
    ) -> Option<Result<crate::task::stream::RemoteStream>> {
        let remote = self.inner.remote.as_ref()?;
        Some(
            self.lane(&method)
                .and_then(|_| remote.call_streaming(method, args.ray_args()?, backpressure)),
        )
    }

    fn call<Ar: ArgList, R: TaskReturn, B: Body>(
        &self,
        method: MethodInfo,
        args: Ar,
        body: impl FnOnce(&Arc<ActorCore<A>>, Ar) -> B,
    ) -> Result<R::Refs> {
        let mailbox = self.mailbox();
        let lane = self.lane(&method)?;
        #[cfg(feature = "ray")]
        if let Some(remote) = &self.inner.remote {
            let mut args = args;
            let cells = remote.call(method, args.ray_args()?, R::COUNT)?;
            return Ok(R::refs(&Outputs::new(cells.into_iter())));
        }
        let scheduler = &mailbox.scheduler;
        scheduler.check_open()?;
        let seq = match mailbox.assign_seq(lane) {
            Ok(seq) => seq,
            Err(dead) => return Ok(failed::<R>(scheduler, dead)),
        };
        let max_retries = method
            .max_retries
            .unwrap_or_else(|| self.inner.core.max_task_retries());
        let first_attempt = method.first_attempt;
        let method = method.name;
        let spec = TaskSpec {
            name: TaskName::Function(method),
            demand: Demand::default(),
            max_retries,
            retry_exceptions: true,
            outputs: R::COUNT,
            place: Some(Arc::clone(mailbox) as _),
            seq,
            first_attempt,
        };
        let core = &self.inner.core;
        // Submitting runs user code (a `Serialize` when an argument is
        // stored for retries): whatever happens, the call's turn must end,
        // or it would hold up every later call.
        let submitted = catch(|| {
            submit(scheduler, spec, args, max_retries > 0, |args| {
                body(core, args)
            })
        })
        .unwrap_or_else(|panic| {
            Err(Error::Serialization(format!(
                "an argument of `{method}` could not be stored: its `Serialize` {panic}"
            )))
        });
        match submitted {
            Ok(task) => Ok(R::refs(&task.outputs)),
            Err(err) => {
                mailbox.left_unsubmitted(seq);
                Err(err)
            }
        }
    }

    /// Calls a sync `&self` method.
    #[doc(hidden)]
    pub fn __call_ref<Ar, R, F>(
        &self,
        method: impl Into<MethodInfo>,
        args: Ar,
        f: F,
    ) -> Result<R::Refs>
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&A, Ar::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        let method = method.into();
        let retry_user = method.retry_exceptions;
        self.call::<Ar, R, _>(method, args, |core, args| {
            core.call_ref(args, retry_user, f)
        })
    }

    /// Calls a sync `&mut self` method.
    #[doc(hidden)]
    pub fn __call_mut<Ar, R, F>(
        &self,
        method: impl Into<MethodInfo>,
        args: Ar,
        f: F,
    ) -> Result<R::Refs>
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&mut A, Ar::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
    {
        let method = method.into();
        let retry_user = method.retry_exceptions;
        self.call::<Ar, R, _>(method, args, |core, args| {
            core.call_mut(args, retry_user, f)
        })
    }

    /// Calls an async method, holding the state as `G`:
    /// [`ActorRead`](crate::actor::ActorRead) for `&self`,
    /// [`ActorWrite`](crate::actor::ActorWrite) for `&mut self`.
    #[doc(hidden)]
    pub fn __call_async<Ar, R, G, F, Fut>(
        &self,
        method: impl Into<MethodInfo>,
        args: Ar,
        f: F,
    ) -> Result<R::Refs>
    where
        Ar: ArgList,
        R: TaskReturn,
        G: Access<A>,
        F: Fn(G, Ar::Values) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
    {
        let method = method.into();
        let retry_user = method.retry_exceptions;
        self.call::<Ar, R, _>(method, args, |core, args| {
            core.call_async(args, retry_user, f)
        })
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
        #[cfg(feature = "ray")]
        if crate::object::crossing::is_crossing() {
            // A Ray actor's handle crosses as the actor itself (its engine
            // maps it); a local actor's cannot.
            let Some(foreign) = self.foreign() else {
                crate::object::crossing::refuses("a local actor's handle");
                return Err(serde::ser::Error::custom(
                    "a local actor's handle cannot cross to Ray",
                ));
            };
            handoff::leave(|| Arc::new(foreign));
            return Wire {
                id: self.id(),
                type_tag: TypeTag::of::<A>(KIND),
            }
            .serialize(serializer);
        }
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
                #[cfg(feature = "ray")]
                if let Some(foreign) = handle.downcast_ref::<ForeignActor>() {
                    return Ok(foreign.handle());
                }
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
        let found = match current_table() {
            None => Err(format!(
                "cannot decode actor handle {id}: no RustyRay runtime in scope"
            )),
            Some(table) if table.runtime() != id.runtime() => Err(format!(
                "cannot decode actor handle {id}: it belongs to runtime {}, but runtime {} is in \
                 scope",
                id.runtime(),
                table.runtime()
            )),
            Some(table) => table
                .by_id(id)
                .ok_or_else(|| format!("cannot decode actor handle {id}: the actor is dead")),
        }
        .map_err(D::Error::custom)?;
        ActorRef::from_any(found.0, found.1).map_err(|reason| {
            D::Error::custom(format_args!("cannot decode actor handle {id}: {reason}"))
        })
    }
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn kill(&self) {
        #[cfg(feature = "ray")]
        if let Some(remote) = &self.inner.remote {
            remote.kill(true);
            return;
        }
        self.mailbox().die("it was killed".to_string());
    }

    /// Kills the actor with `cause` when called, if it is still there
    /// (without keeping it alive meanwhile).
    pub(crate) fn kill_hook(&self, cause: &'static str) -> Box<dyn Fn() + Send + Sync> {
        let mailbox = Arc::downgrade(self.mailbox());
        Box::new(move || {
            if let Some(mailbox) = mailbox.upgrade() {
                mailbox.die(cause.to_string());
            }
        })
    }

    /// The object store of the actor's runtime.
    pub(crate) fn __store(&self) -> &Arc<crate::object::store::Store> {
        self.mailbox().scheduler.store()
    }

    /// Kills the instance and restarts the actor while restarts remain.
    pub(crate) fn kill_and_restart(&self) {
        #[cfg(feature = "ray")]
        if let Some(remote) = &self.inner.remote {
            remote.kill(false);
            return;
        }
        self.inner.core.kill_and_restart();
    }

    /// The handle of the actor with this id in the current runtime.
    pub(crate) fn current(id: ActorId) -> Option<Self> {
        let (core, found) = current_table()?.by_id(id)?;
        Self::from_any(core, found).ok()
    }
}
