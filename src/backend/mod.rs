//! Engines: what runs the program's tasks, actors and objects.
//!
//! The user-facing API (the free functions, the macros' output, the
//! runtime's methods) drives an engine through [`Backend`]: submit a task,
//! create an actor, put an object, find an actor by name, report memory,
//! shut down. [`local::LocalBackend`] is the in-process engine: a store, a
//! scheduler with its worker pool and executor, and a table of actors. (The
//! Ray engine, behind the `ray` feature, runs the same calls on a Ray
//! cluster.)
//!
//! What starts from a ref or a handle (`get`, `wait`, `cancel`, an actor's
//! calls, `kill`) goes through the ref or handle itself: it knows the
//! engine it came from, so nothing has to look that up.
//!
//! Calls travel as data ([`CallSpec`], [`CreateSpec`]): a function's stable
//! name, its options and its arguments. The local engine keeps moving
//! values and calling the closure it is given; an engine in other processes
//! runs the function by name from encoded arguments (see
//! `task::registry`).
//!
//! The trait is implemented with generic methods and dispatched statically
//! (the runtime holds an enum of engines), so the local hot path costs no
//! virtual call and no boxing.

pub(crate) mod local;
#[cfg(feature = "ray")]
pub(crate) mod ray;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::actor::handle::{Actor, ActorRef};
use crate::error::Result;
use crate::object::{MemoryStats, Object, ObjectRef};
use crate::task::args::ArgList;
use crate::task::id::ActorId;
use crate::task::placement::Group;
use crate::task::returns::{TaskReturn, UserError};
use crate::task::spec::{FirstAttempt, TaskName};
use crate::task::task::Body;

/// A placement group's reservation, in the engine that made it.
#[derive(Clone)]
pub(crate) enum Reservation {
    /// The local scheduler's group.
    Local(Arc<Group>),
    /// A Ray placement group.
    #[cfg(feature = "ray")]
    Ray(Arc<ray::RayGroup>),
    /// A Ray placement group whose handle a call in a Ray worker was
    /// given: its trampoline holds it.
    #[cfg(feature = "ray")]
    Forwarded(Arc<ray::ForwardedGroup>),
}

/// A placement group's handle as it crosses to or from a Ray worker inside
/// a value (see `object::crossing`): its reservation, and what completes
/// once the group is reserved.
#[cfg(feature = "ray")]
pub(crate) struct GroupHandle {
    pub(crate) reservation: Reservation,
    pub(crate) ready: Arc<crate::object::cell::ObjectCell>,
}

impl Reservation {
    /// The local group, if it is one.
    pub(crate) fn local(&self) -> Option<&Arc<Group>> {
        match self {
            Reservation::Local(group) => Some(group),
            #[cfg(feature = "ray")]
            Reservation::Ray(_) | Reservation::Forwarded(_) => None,
        }
    }
}

/// One call of a remote function, as data.
pub(crate) struct CallSpec<'a> {
    /// The function's stable name (`module::path::fn`).
    pub(crate) function: &'static str,
    /// The name the task goes by, when not the function's.
    pub(crate) name: Option<Arc<str>>,
    pub(crate) num_cpus: f64,
    pub(crate) resources: &'a [(String, f64)],
    pub(crate) max_retries: u32,
    pub(crate) retry_exceptions: bool,
    /// The placement group and bundle (`None`: any) it runs in.
    pub(crate) placement: Option<(&'a Reservation, Option<usize>)>,
    /// How many objects it makes, when the call says (else its return
    /// type's count).
    pub(crate) num_returns: Option<usize>,
    /// Its first attempt (attempt 0 but in a Ray worker).
    pub(crate) first_attempt: FirstAttempt,
}

/// One actor's creation, as data.
pub(crate) struct CreateSpec<'a> {
    /// The constructor's stable name (`Counter.new`).
    pub(crate) constructor: &'static str,
    pub(crate) name: Option<String>,
    /// The namespace of its name.
    pub(crate) namespace: String,
    pub(crate) get_if_exists: bool,
    pub(crate) max_restarts: i64,
    pub(crate) max_task_retries: u32,
    pub(crate) max_concurrency: usize,
    /// How many sync calls of its default group run at once.
    pub(crate) sync_concurrency: usize,
    /// Its concurrency groups: name and limit.
    pub(crate) concurrency_groups: Vec<(String, usize)>,
    pub(crate) num_cpus: f64,
    pub(crate) resources: &'a [(String, f64)],
    /// The placement group and bundle (`None`: any) it runs in.
    pub(crate) placement: Option<(&'a Reservation, Option<usize>)>,
    /// The id it goes by (Ray's, in a Ray worker); `None`: a new one.
    pub(crate) id: Option<ActorId>,
}

impl CallSpec<'_> {
    /// The name the task goes by.
    pub(crate) fn task_name(&self) -> TaskName {
        match &self.name {
            Some(name) => TaskName::Given(Arc::clone(name)),
            None => TaskName::Function(self.function),
        }
    }
}

/// What the user-facing API asks of an engine.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Stores `value`; a ref to it.
    fn put<T: Object>(&self, value: T) -> Result<ObjectRef<T>>;

    /// Stores a copy of `bytes` (Ray's put of an array the caller keeps).
    fn put_bytes(&self, bytes: &[u8]) -> Result<ObjectRef<Vec<u8>>>;

    /// Submits one call of a remote function; refs to its results.
    /// `body` makes the task's body from its arguments (what the local
    /// engine runs).
    fn submit<A: ArgList, R: TaskReturn, B: Body>(
        &self,
        call: CallSpec<'_>,
        args: A,
        body: impl FnOnce(A) -> B,
    ) -> Result<R::Refs>;

    /// Creates an actor whose constructor `ctor` runs on `args`.
    fn create_actor<A, Ar, F>(
        &self,
        spec: CreateSpec<'_>,
        args: Ar,
        ctor: F,
    ) -> Result<ActorRef<A>>
    where
        A: Actor,
        Ar: ArgList,
        F: Fn(Ar::Values) -> std::result::Result<A, UserError> + Send + Sync + 'static;

    /// The live actor named `name` in `namespace`, as an `A`.
    fn get_actor<A: Actor>(&self, name: &str, namespace: &str) -> Result<ActorRef<A>>;

    /// What the object store holds now.
    fn memory(&self) -> MemoryStats;

    /// Where objects spill.
    fn spill_dir(&self) -> &Path;

    /// `Err(ShutDown)` once shutting down.
    fn check_open(&self) -> Result<()>;

    /// Shuts down: refuses new work, completes every outstanding ref, and
    /// stops threads by `deadline`.
    fn shutdown(&self, deadline: Option<Instant>);
}
