//! [`LocalBackend`]: the in-process engine.
//!
//! One runtime's parts, composed: an object store, a scheduler that grants
//! resources and runs tasks on a worker pool (sync) and an executor
//! (async), and a table of actors (whose mailboxes are places the
//! scheduler delivers to). Values move in and out without serialization;
//! calls run the closures the API hands over.
//!
//! # Shutdown
//!
//! In order: the store refuses new work; the scheduler fails its queued
//! tasks; every actor dies (its calls fail with `ActorDied`); the store
//! completes every pending object and drops every value (so every wait
//! ends); the worker threads stop by the deadline; the executor stops
//! (without blocking when that would stall the caller's executor). Each
//! step runs user code (`Drop`s of values, actor states and arguments): a
//! panic there is reported and the next step still runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::actor::handle::{Actor, ActorRef, ActorSpec};
use crate::actor::mailbox::Lanes;
use crate::actor::registry::ActorTable;
use crate::backend::{Backend, CallSpec, CreateSpec, Reservation};
use crate::error::Result;
use crate::exec::executor::Executor;
use crate::exec::pool::{ThreadStart, WorkerPool};
use crate::object::spill::SpillDir;
use crate::object::store::Store;
use crate::object::value::Value;
use crate::object::{MemoryStats, Object, ObjectRef, RuntimeId};
use crate::sync::catch;
use crate::task::args::ArgList;
use crate::task::body::submit;
use crate::task::placement::Group;
use crate::task::resources::Capacity;
use crate::task::returns::{TaskReturn, UserError};
use crate::task::scheduler::Scheduler;
use crate::task::spec::TaskSpec;
use crate::task::task::Body;

/// What a local engine is made from.
pub(crate) struct LocalConfig {
    pub(crate) id: RuntimeId,
    pub(crate) name: Arc<str>,
    pub(crate) num_cpus: usize,
    pub(crate) resources: BTreeMap<String, f64>,
    pub(crate) object_store_memory: u64,
    /// Where the runtime's own spill directory goes.
    pub(crate) spill_parent: PathBuf,
    /// The tokio runtime to run async work on; `None`: one of its own.
    pub(crate) tokio: Option<tokio::runtime::Handle>,
    pub(crate) executor_threads: usize,
    pub(crate) zero_cpu_threads: usize,
    pub(crate) stack_size: Option<usize>,
}

/// The in-process engine.
pub(crate) struct LocalBackend {
    store: Arc<Store>,
    scheduler: Arc<Scheduler>,
    actors: Arc<ActorTable>,
}

impl LocalBackend {
    /// An engine as `config` says, whose worker threads start with
    /// `thread_start`. Starts no thread.
    pub(crate) fn new(config: LocalConfig, thread_start: ThreadStart) -> LocalBackend {
        let LocalConfig {
            id,
            name,
            num_cpus,
            resources,
            object_store_memory,
            spill_parent,
            tokio,
            executor_threads,
            zero_cpu_threads,
            stack_size,
        } = config;
        let spill_dir = SpillDir::new(
            spill_parent,
            &format!("rustyray-{}-{}", std::process::id(), id.as_u64()),
        );
        let store = Arc::new(Store::new(
            id,
            Arc::clone(&name),
            object_store_memory,
            spill_dir,
        ));
        let executor = Executor::new(tokio, executor_threads, format!("{name}-tokio"));
        let pool = WorkerPool::new(
            Arc::clone(&name),
            zero_cpu_threads,
            stack_size,
            thread_start,
        );
        let scheduler = Arc::new(Scheduler::new(
            id,
            Arc::clone(&store),
            Capacity::new(num_cpus, &resources),
            pool,
            executor,
        ));
        LocalBackend {
            store,
            scheduler,
            actors: Arc::new(ActorTable::new(id)),
        }
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub(crate) fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    pub(crate) fn actors(&self) -> &Arc<ActorTable> {
        &self.actors
    }

    pub(crate) fn executor(&self) -> &Executor {
        self.scheduler.executor()
    }
}

impl Backend for LocalBackend {
    fn put<T: Object>(&self, value: T) -> Result<ObjectRef<T>> {
        let cell = self.store.put(Value::new(value))?;
        Ok(ObjectRef::from_cell(cell))
    }

    fn put_bytes(&self, bytes: &[u8]) -> Result<ObjectRef<Vec<u8>>> {
        self.store.check_open()?;
        self.put(self.store.bytes().copy(bytes))
    }

    fn submit<A: ArgList, R: TaskReturn, B: Body>(
        &self,
        call: CallSpec<'_>,
        args: A,
        body: impl FnOnce(A) -> B,
    ) -> Result<R::Refs> {
        let name = call.task_name();
        let capacity = self.scheduler.capacity();
        let placement = local_group(call.placement)?;
        let demand = match placement {
            None => capacity.demand(&name, call.num_cpus, call.resources)?,
            Some((group, bundle)) => {
                group.demand(capacity, &name, call.num_cpus, call.resources, bundle)?
            }
        };
        let reusable = call.retry_exceptions && call.max_retries > 0;
        let spec = TaskSpec {
            name,
            demand,
            max_retries: call.max_retries,
            retry_exceptions: call.retry_exceptions,
            // A count of 0: the call says (`num_returns(n)` of a `Vec`).
            outputs: match R::COUNT {
                0 => call.num_returns.unwrap_or(0),
                count => count,
            },
            place: None,
            seq: 0,
            first_attempt: call.first_attempt,
        };
        let task = submit(&self.scheduler, spec, args, reusable, body)?;
        if let Some((group, _)) = placement {
            group.add_task(&task);
        }
        Ok(R::refs(&task.outputs))
    }

    fn create_actor<A, Ar, F>(&self, spec: CreateSpec<'_>, args: Ar, ctor: F) -> Result<ActorRef<A>>
    where
        A: Actor,
        Ar: ArgList,
        F: Fn(Ar::Values) -> std::result::Result<A, UserError> + Send + Sync + 'static,
    {
        // The demand is checked before anything is registered.
        let capacity = self.scheduler.capacity();
        let placement = local_group(spec.placement)?;
        let demand = match placement {
            None => capacity.demand(spec.constructor, spec.num_cpus, spec.resources)?,
            Some((group, bundle)) => group.demand(
                capacity,
                spec.constructor,
                spec.num_cpus,
                spec.resources,
                bundle,
            )?,
        };
        let spec = ActorSpec {
            constructor: spec.constructor,
            name: spec.name,
            namespace: spec.namespace,
            get_if_exists: spec.get_if_exists,
            max_restarts: spec.max_restarts,
            max_task_retries: spec.max_task_retries,
            lanes: Lanes {
                max_concurrency: spec.max_concurrency,
                sync_concurrency: spec.sync_concurrency,
                groups: spec.concurrency_groups,
            },
            demand,
            id: spec.id,
        };
        let actor = ActorRef::create(&self.scheduler, &self.actors, spec, args, ctor)?;
        if let Some((group, _)) = placement {
            group.add_actor(actor.kill_hook("its placement group was removed"));
        }
        Ok(actor)
    }

    fn get_actor<A: Actor>(&self, name: &str, namespace: &str) -> Result<ActorRef<A>> {
        self.store.check_open()?;
        ActorRef::by_name(&self.actors, name, namespace)
    }

    fn memory(&self) -> MemoryStats {
        self.store.memory()
    }

    fn spill_dir(&self) -> &Path {
        self.store.spill_dir().path()
    }

    fn check_open(&self) -> Result<()> {
        self.store.check_open()
    }

    fn shutdown(&self, deadline: Option<Instant>) {
        let step = |what: &str, f: &dyn Fn()| {
            if let Err(panic) = catch(f) {
                tracing::error!(runtime = %self.store.runtime_name(), "shutdown: {what} {panic}");
            }
        };
        self.store.close();
        step("failing queued tasks", &|| {
            self.scheduler.close(&self.store.shut_down())
        });
        step("stopping actors", &|| {
            self.actors.shutdown("its runtime shut down")
        });
        step("releasing objects", &|| self.store.release_all());
        step("stopping worker threads", &|| {
            self.scheduler.stop_workers(deadline)
        });
        self.executor()
            .shutdown(deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            }));
    }
}

/// The local group of a placement (a group of another engine is refused:
/// the API checks a group's runtime first, so it is not reached).
fn local_group(
    placement: Option<(&Reservation, Option<usize>)>,
) -> Result<Option<(&Arc<Group>, Option<usize>)>> {
    match placement {
        None => Ok(None),
        Some((reservation, bundle)) => match reservation.local() {
            Some(group) => Ok(Some((group, bundle))),
            None => Err(crate::error::Error::InvalidArgument {
                call: "placement_group",
                reason: "the placement group belongs to another engine".to_string(),
            }),
        },
    }
}
