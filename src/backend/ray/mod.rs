//! [`RayBackend`]: the engine that runs a program's tasks on a Ray 2.60
//! cluster (cargo feature `ray`; [`Config::ray`](crate::Config::ray)).
//!
//! # Design
//!
//! Ray's stable surface is its Python API, so the driver embeds Python
//! (`pyo3`) and drives it (`bridge.rs`: one thread owns the interpreter,
//! `ray.init` and `ray.shutdown`; the runtimes of a process share that one
//! connection). A task is submitted by its registered name through a Python
//! `@ray.remote` trampoline (`bridge.py`), its arguments encoded with the
//! codec one by one (a ref argument passes as Ray's own ref, which Ray
//! resolves where the task runs); its results live in Ray's object store as
//! encoded bytes.
//!
//! Worker side (design (a) of the issue): for a task, the trampoline, in a
//! Ray worker process, starts the program's own binary in worker mode (the
//! re-exec of Python's multiprocessing "spawn") as a long-lived child, and
//! runs each call there over a framed protocol on a Unix socket
//! (`protocol.rs`, `worker.rs`); an actor's Ray worker is the program's
//! binary itself (see "Actors" below). The user adds no build step and ships nothing by hand on
//! one machine (the binary's path is the same); a panic in user code
//! becomes the call's error with its message; a child that dies (an abort,
//! a crash) takes its Ray worker with it, so Ray's retries and restarts
//! apply.
//!
//! On the driver an `ObjectRef<T>` stays what it is locally (a cell of the
//! runtime's store), paired in a table with Ray's ref to the same object:
//! when Ray completes a result, a callback stores its bytes in the cell
//! (decoded as `T` when read), so `get`, `wait`, `.await` and `get_all`
//! work unchanged; passing the ref to another task passes Ray's ref.
//! (Ray's objects are released when the runtime's table finds their cells
//! freed: it sweeps as it grows, so Ray may hold up to twice the live
//! objects a while.)
//!
//! A value holding refs (an argument, a `put`, a result) crosses as the
//! pair of its bytes and a list of Ray's refs to the objects inside (see
//! `object::crossing`): Ray leaves refs inside a value unresolved and keeps
//! their objects alive while the value lives (its borrower protocol). On
//! the driver each such ref gets a cell of its own, paired with Ray's ref
//! like a result; an actor's handle crosses as Ray's handle, and a
//! placement group's as Ray's group. Between a
//! trampoline and its child (`protocol.rs`), the objects an argument names
//! stay in Ray, held by the trampoline and forwarded to the child (which
//! reads each when Ray has it); the objects a result names travel by
//! value, and the trampoline puts them into Ray, unless it holds them for
//! the child already.
//!
//! A call running in the child reaches Ray through the trampoline
//! (`link.rs`): the tasks it submits, the actors it creates or finds and
//! the calls of actor handles it was given (streaming methods too) are
//! made there, in Ray, and their refs are the child's cells that the
//! trampoline completes. A blocking `get` or `wait` of such refs (or of a
//! stream's next item) waits in Ray's `get` or `wait` on the task's own
//! thread, so Ray lends the worker's CPU meanwhile, as it does for a
//! Python task; that thread reads the child's socket too, so it waits a
//! slice at a time and serves what the child sent meanwhile.
//!
//! Actors: a Ray actor's worker process is the program itself. The actor
//! is created with `runtime_env`'s `py_executable` naming the program's
//! binary (behind a shell that moves Ray's arguments into the
//! environment), so Ray starts the binary where it would start Python, and
//! `init` runs Ray's worker in the interpreter the binary embeds
//! (`host.rs`). The actor class trampoline there serves its protocol
//! within the process (a socket pair, a serving thread), and runs each
//! call of an actor that runs one call at a time on its own thread,
//! straight into the program (`worker::direct`): a call crosses no
//! process and wakes no thread. Measured on a busy 2-core machine, the
//! cross-process round trip of a worker-mode child was the whole of what
//! a Rust actor call cost over a Python one (×1.75–2.4 Python's cost,
//! ×1.2–1.3 in process). The Rust actor is created through the
//! registry's constructor; the driver's handle is an `ActorRef` whose
//! calls go to the Ray actor ([`RemoteActor`]). Ray orders the calls,
//! restarts the actor (a crash of the program is its worker's death) and
//! finds it by name. An actor with `max_concurrency` above 1 or
//! concurrency groups gets Ray's threads (up to 64 per group; a call names
//! its group to Ray) and the protocol's calls with ids, so its calls run
//! at once in the program, whose actor has the same groups. Every actor
//! class also has a group of one thread for `get_actor`'s question (its
//! type), answered while calls run.
//!
//! Streaming generators are Ray's (`num_returns="streaming"`, with Ray's
//! backpressure): a generator trampoline asks its child for each item in
//! turn (the child's generator runs its own backpressure ahead at most),
//! and on the driver a thread per stream reads Ray's `ObjectRefGenerator`
//! into the caller's `ObjectRefStream` (`Channel::feed_from`); cancelling
//! the stream's task ref cancels it in Ray.
//!
//! Submitting is the per-call hot path: Ray's `.options(..)` is made once
//! per set of options (cached here), results are completed through
//! `ObjectRef._on_completed`, with no Python future per result, and every
//! thread that calls into Python here (the program's, and Ray's completing
//! thread) keeps its Python thread state instead of making one per call
//! (`bridge::attach`).

mod bridge;
pub(crate) mod host;
mod link;
pub(crate) use link::ForwardedGroup;
pub(crate) mod protocol;
pub(crate) mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCFunction, PyDict, PyList, PyString, PyTuple};

use std::any::type_name;

use crate::actor::handle::{Actor, ActorRef, ForeignActor, RemoteActor};
use crate::actor::method::MethodInfo;
use crate::actor::registry::ActorTable;
use crate::backend::local::LocalBackend;
use crate::backend::{Backend, CallSpec, CreateSpec, GroupHandle, Reservation};
use crate::error::{Error, Result};
use crate::object::cell::{ObjectCell, Producer};
use crate::object::crossing::{self, Crossed};
use crate::object::handoff::Handle;
use crate::object::store::Store;
use crate::object::value::Value;
use crate::object::{Object, ObjectId, ObjectRef};
use crate::sync::lock;
use crate::task::args::{ArgList, RayArg, RayArgKind};
use crate::task::returns::{Outputs, TaskReturn};
use crate::task::scheduler::Scheduler;
use crate::task::stream::{ItemSource, RemoteStream};

pub(crate) use bridge::node_id;

/// The arguments a Ray worker starts the program with: the driver's own
/// (the re-exec of multiprocessing's "spawn": `main` reaches the same
/// `init` first), and, for a test binary in
/// `target/*/deps` (libtest's harness), those that run only the test that
/// started the driver, whose `init` then enters worker mode: the test
/// thread's name, or, on the main thread (one test per process, as
/// nextest runs them), the driver's own arguments. `RUSTYRAY_WORKER_ARGS`
/// (split on whitespace) overrides both.
fn worker_args() -> Vec<String> {
    if let Ok(args) = std::env::var("RUSTYRAY_WORKER_ARGS") {
        return args.split_whitespace().map(str::to_string).collect();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let in_deps = exe
        .parent()
        .and_then(|dir| dir.file_name())
        .is_some_and(|name| name == "deps");
    if !in_deps {
        return std::env::args().skip(1).collect();
    }
    match std::thread::current().name() {
        Some(test) if test != "main" => vec![
            test.to_string(),
            "--exact".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
            "-q".into(),
        ],
        _ => std::env::args().skip(1).collect(),
    }
}

/// The engine of a runtime on a Ray cluster: the bridge, this runtime's
/// table of Ray refs, and the command that starts the program in worker
/// mode.
pub(crate) struct RayBackend {
    shared: Arc<Shared>,
    released: AtomicBool,
}

/// A placement group on the Ray cluster: Ray's handle to it.
pub(crate) struct RayGroup {
    handle: Py<PyAny>,
}

/// What the engine and its actors' handles share.
struct Shared {
    bridge: Arc<bridge::Bridge>,
    refs: Arc<Mutex<Refs>>,
    command: Vec<String>,
    /// `command` as Python holds it, made on first use.
    py_command: std::sync::OnceLock<Py<PyAny>>,
    /// The trampoline's `remote` for each set of options used so far
    /// (Ray's `.options(..)` costs more than a small task's submission).
    variants: Mutex<HashMap<String, Py<PyAny>>>,
    /// Ray's ids of the actors this runtime killed: their calls fail here.
    killed: Mutex<HashSet<String>>,
    /// The runtime's scheduler and actors, which handles of Ray actors that
    /// come inside values join (see [`RayBackend::attach`]).
    home: OnceLock<(Arc<Scheduler>, Arc<ActorTable>)>,
}

/// Ray's ref to each object of this runtime that Ray has.
#[derive(Default)]
struct Refs {
    by_id: HashMap<ObjectId, (Weak<ObjectCell>, Py<PyAny>)>,
    /// The table's size after the last sweep of freed objects.
    swept: usize,
}

impl Refs {
    fn insert(&mut self, cell: &Arc<ObjectCell>, ray_ref: Py<PyAny>) {
        self.by_id
            .insert(cell.id(), (Arc::downgrade(cell), ray_ref));
        if self.by_id.len() > 2 * self.swept.max(64) {
            self.by_id.retain(|_, (cell, _)| cell.strong_count() > 0);
            self.swept = self.by_id.len();
        }
    }
}

impl RayBackend {
    /// Connects (or joins this process's connection) to the cluster at
    /// `address`.
    pub(crate) fn connect(address: &str) -> Result<RayBackend> {
        let bridge = bridge::connect(address)?;
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(err) => {
                bridge::release();
                return Err(Error::InvalidConfig {
                    field: "ray",
                    reason: format!(
                        "the program's own path is unknown ({err}): Ray workers run it"
                    ),
                });
            }
        };
        let mut command = vec![exe.to_string_lossy().into_owned()];
        command.extend(worker_args());
        Ok(RayBackend {
            shared: Arc::new(Shared {
                bridge,
                refs: Arc::default(),
                command,
                py_command: std::sync::OnceLock::new(),
                variants: Mutex::new(HashMap::new()),
                killed: Mutex::new(HashSet::new()),
                home: OnceLock::new(),
            }),
            released: AtomicBool::new(false),
        })
    }

    /// The runtime's scheduler and actors: handles of Ray actors that come
    /// inside values (a task's result) join them.
    pub(crate) fn attach(&self, scheduler: &Arc<Scheduler>, table: &Arc<ActorTable>) {
        let _ = self
            .shared
            .home
            .set((Arc::clone(scheduler), Arc::clone(table)));
    }

    /// Stores `value` in Ray's object store (and in the runtime's, where
    /// the driver reads it).
    pub(crate) fn put<T: Object>(&self, store: &Arc<Store>, value: T) -> Result<ObjectRef<T>> {
        let crossed = crate::object::crossing::encode("put", &value)?;
        let cell = store.put(Value::new(value))?;
        bridge::attach(|py| -> Result<()> {
            let ns = self.shared.bridge.ns.bind(py);
            let ray_ref = bridge::call(ns, "put", (self.shared.ray_value(py, &crossed)?,))?;
            lock(&*self.shared.refs).insert(&cell, ray_ref.unbind());
            Ok(())
        })?;
        Ok(ObjectRef::from_cell(cell))
    }

    /// Submits one call of a remote function by its registered name.
    pub(crate) fn submit<A: ArgList, R: TaskReturn>(
        &self,
        store: &Arc<Store>,
        call: CallSpec<'_>,
        mut args: A,
    ) -> Result<R::Refs> {
        store.check_open()?;
        let args = args.ray_args()?;
        let task_name = call.task_name().to_string();
        // A count of 0: the call says (`num_returns(n)` of a `Vec`, which
        // the worker splits).
        let (count, split) = match R::COUNT {
            0 => (call.num_returns.unwrap_or(0), call.num_returns),
            n => (n, None),
        };
        let shared = &self.shared;
        let cells = shared.results(store, count, &task_name, |py| {
            let remote = shared.variant(py, &call, &task_name, count, split)?;
            let mut items = Vec::with_capacity(args.len());
            shared.push_args(py, &args, &mut items)?;
            let items = PyTuple::new(py, items).map_err(|e| bridge::py_error("submit", e))?;
            remote
                .bind(py)
                .call1(items)
                .map_err(|e| bridge::py_error("submit", e))
        })?;
        Ok(R::refs(&Outputs::new(cells.into_iter())))
    }

    /// Submits a streaming generator by its registered name (Ray's
    /// `num_returns="streaming"`), with Ray's backpressure.
    pub(crate) fn submit_streaming(
        &self,
        store: &Arc<Store>,
        call: CallSpec<'_>,
        args: Vec<RayArg>,
        backpressure: Option<usize>,
    ) -> Result<RemoteStream> {
        store.check_open()?;
        let task_name = call.task_name().to_string();
        let shared = &self.shared;
        shared.stream(store, &task_name, |py| {
            let ns = shared.bridge.ns.bind(py);
            let options = shared.task_options(py, &call)?;
            let remote = bridge::call(
                ns,
                "stream_variant",
                (
                    shared.py_command(py),
                    call.function,
                    &task_name,
                    options,
                    backpressure,
                ),
            )?;
            let mut items = Vec::with_capacity(args.len());
            shared.push_args(py, &args, &mut items)?;
            let items = PyTuple::new(py, items).map_err(|e| bridge::py_error("submit", e))?;
            remote
                .call1(items)
                .map_err(|e| bridge::py_error("submit", e))
        })
    }

    /// Creates a Ray actor holding an `A` made by the constructor `spec`
    /// names, in a worker-mode program of its own. Its Ray class has a
    /// method of each name in `methods` (so Ray names its calls, and a
    /// call carries only its own arguments).
    pub(crate) fn create_actor<A: Actor, Ar: ArgList>(
        &self,
        local: &LocalBackend,
        spec: CreateSpec<'_>,
        methods: &[&'static str],
        mut args: Ar,
    ) -> Result<ActorRef<A>> {
        local.check_open()?;
        let args = args.ray_args()?;
        let constructor = member(spec.constructor);
        let shared = &self.shared;
        let handle = bridge::attach(|py| -> Result<Py<PyAny>> {
            let options = PyDict::new(py);
            let set = || -> PyResult<()> {
                options.set_item("num_cpus", spec.num_cpus)?;
                options.set_item("max_restarts", spec.max_restarts)?;
                options.set_item("max_task_retries", spec.max_task_retries)?;
                // Ray runs a threaded actor's calls on a pool of this many
                // threads, made up front: async actors (1000 by default)
                // get a smaller one.
                if spec.max_concurrency > 1 {
                    options.set_item("max_concurrency", spec.max_concurrency.min(64))?;
                }
                // Ray's concurrency groups: a pool of threads each.
                if !spec.concurrency_groups.is_empty() {
                    let groups = PyDict::new(py);
                    for (name, limit) in &spec.concurrency_groups {
                        groups.set_item(name, (*limit).min(64))?;
                    }
                    options.set_item("concurrency_groups", groups)?;
                }
                if let Some(name) = &spec.name {
                    options.set_item("name", name)?;
                    options.set_item("namespace", &spec.namespace)?;
                    options.set_item("get_if_exists", spec.get_if_exists)?;
                }
                if !spec.resources.is_empty() {
                    options.set_item("resources", resources(py, spec.resources)?)?;
                }
                Ok(())
            };
            set().map_err(|e| bridge::py_error("options", e))?;
            let options = place_in(py, shared.bridge.ns.bind(py), options, spec.placement)?;
            let handle = bridge::call(
                shared.bridge.ns.bind(py),
                "create_actor",
                (
                    shared.py_command(py),
                    type_name::<A>(),
                    constructor,
                    methods.to_vec(),
                    options,
                    shared.py_args(py, &args)?,
                ),
            )?;
            Ok(handle.unbind())
        })?;
        Ok(self.handle(
            local,
            spec.name,
            spec.namespace,
            spec.constructor,
            spec.concurrency_groups,
            handle,
        ))
    }

    /// The handle of a Ray actor.
    fn handle<A: Actor>(
        &self,
        local: &LocalBackend,
        name: Option<String>,
        namespace: String,
        constructor: &'static str,
        groups: Vec<(String, usize)>,
        handle: Py<PyAny>,
    ) -> ActorRef<A> {
        let label = match &name {
            Some(name) => format!("{} `{name}`", short_name::<A>()),
            None => short_name::<A>().to_string(),
        };
        let remote = self.shared.actor(local.store(), handle, label);
        ActorRef::remote(
            local.scheduler(),
            local.actors(),
            name,
            namespace,
            constructor,
            groups,
            remote,
        )
    }

    /// The live Ray actor named `name`, when it holds an `A`.
    pub(crate) fn get_actor<A: Actor>(
        &self,
        local: &LocalBackend,
        name: &str,
        namespace: &str,
    ) -> Result<ActorRef<A>> {
        let (handle, groups) = bridge::attach(|py| -> Result<(Py<PyAny>, _)> {
            let found = bridge::call(
                self.shared.bridge.ns.bind(py),
                "get_actor",
                (name, namespace),
            )
            .map_err(|err| not_found(name, err))?;
            let (handle, actor, groups): (Bound<'_, PyAny>, String, Vec<(String, usize)>) = found
                .extract()
                .map_err(|e| bridge::py_error("get_actor", e))?;
            found_as::<A>(name, &actor)?;
            Ok((handle.unbind(), groups))
        })?;
        Ok(self.handle(
            local,
            Some(name.to_string()),
            namespace.to_string(),
            "get_actor",
            groups,
            handle,
        ))
    }

    /// Calls the Python function `module.name` with `args` (a MessagePack
    /// array) as a Ray task; its result decoded as an `R`.
    pub(crate) fn call_python<R: Object>(
        &self,
        store: &Arc<Store>,
        module: &str,
        name: &str,
        args: &[u8],
    ) -> Result<ObjectRef<R>> {
        store.check_open()?;
        let task = format!("{module}.{name}");
        let shared = &self.shared;
        let cells = shared.results_as(store, 1, &task, msgpack::<R>, false, |py| {
            bridge::call(
                shared.bridge.ns.bind(py),
                "call_python",
                (module, name, PyBytes::new(py, args)),
            )
        })?;
        Ok(ObjectRef::from_cell(only_cell(
            cells,
            "python::Function::remote",
        )?))
    }

    /// Creates a Ray placement group of `bundles` (CPUs and custom
    /// resources each) with Ray's `strategy`; and a ref that completes once
    /// Ray reserved it (with Ray's error if it is removed first).
    pub(crate) fn placement_group(
        &self,
        store: &Arc<Store>,
        bundles: &[(f64, &[(String, f64)])],
        strategy: &str,
    ) -> Result<(Arc<RayGroup>, ObjectRef<()>)> {
        store.check_open()?;
        let shared = &self.shared;
        let handle = bridge::attach(|py| -> Result<Py<PyAny>> {
            let list = PyList::empty(py);
            let fill = || -> PyResult<()> {
                for (cpus, custom) in bundles {
                    let bundle = resources(py, custom)?;
                    if *cpus > 0.0 {
                        bundle.set_item("CPU", cpus)?;
                    }
                    list.append(bundle)?;
                }
                Ok(())
            };
            fill().map_err(|e| bridge::py_error("placement_group", e))?;
            let ns = shared.bridge.ns.bind(py);
            Ok(bridge::call(ns, "placement_group", (list, strategy))?.unbind())
        })?;
        let group = Arc::new(RayGroup { handle });
        let cells = shared.results_as(store, 1, "placement group", unit, false, |py| {
            bridge::call(
                shared.bridge.ns.bind(py),
                "placement_group_ready",
                (group.handle.bind(py),),
            )
        })?;
        let ready = only_cell(cells, "placement_group")?;
        Ok((group, ObjectRef::from_cell(ready)))
    }

    /// Removes the Ray placement group: Ray frees it and kills what runs in
    /// it.
    pub(crate) fn remove_placement_group(&self, group: &RayGroup) -> Result<()> {
        bridge::attach(|py| {
            bridge::call(
                self.shared.bridge.ns.bind(py),
                "remove_placement_group",
                (group.handle.bind(py),),
            )
            .map(drop)
        })
    }

    /// Ray's resources of the cluster by name (`available`: what is free
    /// now, a resource with nothing free listed with `0.0`).
    pub(crate) fn resources(&self, available: bool) -> Result<HashMap<String, f64>> {
        bridge::attach(|py| {
            bridge::call(self.shared.bridge.ns.bind(py), "resources", (available,))?
                .extract()
                .map_err(|e| bridge::py_error("resources", e))
        })
    }

    /// The runtime shuts down: its refs go, and the connection when it was
    /// the last runtime on it.
    pub(crate) fn shutdown(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let refs = std::mem::take(&mut lock(&*self.shared.refs).by_id);
        bridge::attach(|_| drop(refs));
        bridge::release();
    }
}

impl Drop for RayBackend {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A failed look-up of the actor named `name` in Ray (Ray's message) as
/// [`Error::ActorNotFound`].
fn not_found(name: &str, err: Error) -> Error {
    match err {
        Error::TaskFailed { message, .. } => Error::ActorNotFound {
            name: name.to_string(),
            reason: message,
        },
        other => other,
    }
}

/// `Ok` when the actor named `name`, found in Ray, is of the actor type
/// `actor` names: an `A`.
fn found_as<A>(name: &str, actor: &str) -> Result<()> {
    if actor == type_name::<A>() {
        return Ok(());
    }
    Err(Error::ActorNotFound {
        name: name.to_string(),
        reason: format!("it is a `{actor}`, not a `{}`", type_name::<A>()),
    })
}

fn short_name<A>() -> &'static str {
    let name = type_name::<A>();
    name.rsplit("::").next().unwrap_or(name)
}

/// The member part of a qualified name (`Counter.incr` → `incr`): what
/// Ray's class names a method or constructor.
fn member(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

/// Custom resources as Ray takes them.
fn resources<'py>(py: Python<'py>, amounts: &[(String, f64)]) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, amount) in amounts {
        dict.set_item(name, amount)?;
    }
    Ok(dict)
}

impl Shared {
    /// The Ray actor of Ray's `handle`, as its handles here reach it
    /// (`label` names it in errors).
    fn actor(
        self: &Arc<Self>,
        store: &Arc<Store>,
        handle: Py<PyAny>,
        label: String,
    ) -> Arc<RayActor> {
        let id = bridge::attach(|py| {
            let id = handle.bind(py).getattr("_actor_id")?.call_method0("hex")?;
            id.extract::<String>()
        })
        .unwrap_or_default();
        Arc::new(RayActor {
            shared: Arc::clone(self),
            store: Arc::clone(store),
            handle,
            id,
            label,
            methods: Mutex::new(HashMap::new()),
        })
    }

    /// The program's command, as Python holds it.
    fn py_command<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.py_command
            .get_or_init(|| {
                PyTuple::new(py, &self.command)
                    .map(|t| t.into_any().unbind())
                    .unwrap_or_else(|_| py.None())
            })
            .bind(py)
            .clone()
    }

    /// The trampoline's `remote` with `call`'s options.
    fn variant(
        &self,
        py: Python<'_>,
        call: &CallSpec<'_>,
        name: &str,
        count: usize,
        split: Option<usize>,
    ) -> Result<Py<PyAny>> {
        // A call placed in a group is made with its own options, uncached.
        let key = call.placement.is_none().then(|| {
            format!(
                "{count}\0{split:?}\0{}\0{name}\0{}\0{}\0{}\0{:?}",
                call.function,
                call.num_cpus,
                call.max_retries,
                call.retry_exceptions,
                call.resources
            )
        });
        if let Some(key) = &key {
            if let Some(remote) = lock(&self.variants).get(key) {
                return Ok(remote.clone_ref(py));
            }
        }
        let ns = self.bridge.ns.bind(py);
        let options = self.task_options(py, call)?;
        let split = split.map(|n| n.to_string()).unwrap_or_default();
        let remote = bridge::call(
            ns,
            "variant",
            (
                self.py_command(py),
                call.function,
                split,
                count,
                name,
                options,
            ),
        )?
        .unbind();
        let Some(key) = key else {
            return Ok(remote);
        };
        let mut variants = lock(&self.variants);
        if variants.len() >= 4096 {
            variants.clear();
        }
        variants.insert(key, remote.clone_ref(py));
        Ok(remote)
    }

    /// Ray's options for a task with `call`'s.
    fn task_options<'py>(&self, py: Python<'py>, call: &CallSpec<'_>) -> Result<Bound<'py, PyAny>> {
        let options = PyDict::new(py);
        let set = || -> PyResult<()> {
            options.set_item("num_cpus", call.num_cpus)?;
            options.set_item("max_retries", call.max_retries)?;
            options.set_item("retry_exceptions", call.retry_exceptions)?;
            if !call.resources.is_empty() {
                options.set_item("resources", resources(py, call.resources)?)?;
            }
            Ok(())
        };
        set().map_err(|e| bridge::py_error("options", e))?;
        place_in(py, self.bridge.ns.bind(py), options, call.placement)
    }

    /// The producer of the cells of a call named `name`: cancelling one
    /// cancels the call in Ray.
    fn producer(&self, name: &str) -> Arc<RayTask> {
        Arc::new(RayTask {
            name: name.to_string(),
            cells: Mutex::new(Vec::new()),
            ray_ref: Mutex::new(None),
            bridge: Arc::clone(&self.bridge),
        })
    }

    /// A streaming generator named `name` that `submit` starts (returning
    /// Ray's `ObjectRefGenerator`): its task cell, complete when it ends
    /// (cancelling the cell cancels it in Ray), and its items.
    fn stream(
        &self,
        store: &Arc<Store>,
        name: &str,
        submit: impl for<'py> FnOnce(Python<'py>) -> Result<Bound<'py, PyAny>>,
    ) -> Result<RemoteStream> {
        let producer = self.producer(name);
        let weak: Weak<dyn Producer> = Arc::downgrade(&producer) as Weak<dyn Producer>;
        let task = store.pending(weak, false);
        *lock(&producer.cells) = vec![Arc::downgrade(&task)];
        let generator = bridge::attach(|py| {
            let generator = submit(py)?.unbind();
            *lock(&producer.ray_ref) = Some(generator.clone_ref(py));
            Ok::<_, Error>(generator)
        })?;
        let items = RayStream {
            name: name.to_string(),
            generator,
            bridge: Arc::clone(&self.bridge),
            _producer: producer,
        };
        Ok((task, Box::new(items)))
    }

    /// Appends the arguments as Ray takes them: values (see
    /// [`ray_value`](Self::ray_value)), or Ray's refs.
    fn push_args<'py>(
        &self,
        py: Python<'py>,
        args: &[RayArg],
        items: &mut Vec<Bound<'py, PyAny>>,
    ) -> Result<()> {
        for arg in args {
            items.push(match &arg.0 {
                RayArgKind::Value(crossed) => self.ray_value(py, crossed)?,
                RayArgKind::Ref(cell) => match lock(&*self.refs).by_id.get(&cell.id()) {
                    Some((_, ray_ref)) => ray_ref.bind(py).clone(),
                    None => PyBytes::new(py, &local_bytes(cell)?).into_any(),
                },
            });
        }
        Ok(())
    }

    /// A value as Ray holds it: its bytes, or, when refs or actor handles
    /// are inside, the pair of its bytes and a list of what they name: Ray's
    /// ref to each object, and for each actor the triple of Ray's handle,
    /// its concurrency groups' names (`io,cpu`) and its type's short name
    /// (what errors call it), and Ray's own placement group for each
    /// group. Ray leaves refs inside a
    /// value unresolved, and its borrower protocol keeps their objects
    /// alive while the value lives.
    fn ray_value<'py>(&self, py: Python<'py>, crossed: &Crossed) -> Result<Bound<'py, PyAny>> {
        let bytes = PyBytes::new(py, &crossed.bytes).into_any();
        if crossed.inside.is_empty() {
            return Ok(bytes);
        }
        let refs = crossed
            .inside
            .iter()
            .map(|handle| self.ray_inside(py, handle))
            .collect::<Result<Vec<_>>>()?;
        let refs = PyList::new(py, refs).map_err(|e| bridge::py_error("arguments", e))?;
        PyTuple::new(py, [bytes, refs.into_any()])
            .map(Bound::into_any)
            .map_err(|e| bridge::py_error("arguments", e))
    }

    /// What a ref or a handle inside a value names, as Ray holds it (see
    /// [`ray_value`](Self::ray_value)).
    fn ray_inside<'py>(&self, py: Python<'py>, handle: &Handle) -> Result<Bound<'py, PyAny>> {
        if let Some(cell) = crossing::cell_of(handle) {
            return match lock(&*self.refs).by_id.get(&cell.id()) {
                Some((_, ray_ref)) => Ok(ray_ref.bind(py).clone()),
                None => Err(not_in_ray(cell)),
            };
        }
        if let Some(handle) = handle.downcast_ref::<GroupHandle>() {
            return match &handle.reservation {
                Reservation::Ray(group) => Ok(group.handle.bind(py).clone()),
                _ => Err(Error::InvalidArgument {
                    call: "remote",
                    reason: "a placement group of another runtime does not cross to Ray".into(),
                }),
            };
        }
        let foreign = handle.downcast_ref::<ForeignActor>();
        let Some((actor, groups)) = foreign.and_then(|foreign| {
            let actor = foreign.remote.as_any().downcast_ref::<RayActor>()?;
            Some((actor, foreign.groups.join(",")))
        }) else {
            return Err(Error::InvalidArgument {
                call: "remote",
                reason: "an actor handle of another runtime does not cross to Ray".into(),
            });
        };
        let label = actor.label.split(' ').next().unwrap_or_default();
        let triple = [
            actor.handle.bind(py).clone(),
            PyString::new(py, &groups).into_any(),
            PyString::new(py, label).into_any(),
        ];
        PyTuple::new(py, triple)
            .map(Bound::into_any)
            .map_err(|e| bridge::py_error("arguments", e))
    }

    /// The arguments as a Python list.
    fn py_args<'py>(&self, py: Python<'py>, args: &[RayArg]) -> Result<Bound<'py, PyList>> {
        let mut items = Vec::with_capacity(args.len());
        self.push_args(py, args, &mut items)?;
        PyList::new(py, items).map_err(|e| bridge::py_error("arguments", e))
    }

    /// The `count` result cells of a call named `name` that `submit` makes
    /// (returning Ray's ref, or a list of `count` refs), each completed
    /// when Ray completes its object and paired with its Ray ref.
    fn results(
        self: &Arc<Self>,
        store: &Arc<Store>,
        count: usize,
        name: &str,
        submit: impl for<'py> FnOnce(Python<'py>) -> Result<Bound<'py, PyAny>>,
    ) -> Result<Vec<Arc<ObjectCell>>> {
        self.results_as(store, count, name, encoded, true, submit)
    }

    /// [`results`](Self::results) whose bytes become values by `decode`;
    /// paired with their Ray refs only if `register` (refs whose bytes a
    /// Rust task could read as its argument).
    fn results_as(
        self: &Arc<Self>,
        store: &Arc<Store>,
        count: usize,
        name: &str,
        decode: Decode,
        register: bool,
        submit: impl for<'py> FnOnce(Python<'py>) -> Result<Bound<'py, PyAny>>,
    ) -> Result<Vec<Arc<ObjectCell>>> {
        let producer = self.producer(name);
        let weak: Weak<dyn Producer> = Arc::downgrade(&producer) as Weak<dyn Producer>;
        let cells: Vec<Arc<ObjectCell>> = (0..count)
            .map(|_| store.pending(weak.clone(), false))
            .collect();
        *lock(&producer.cells) = cells.iter().map(Arc::downgrade).collect();
        bridge::attach(|py| -> Result<()> {
            let submitted = submit(py)?;
            let refs: Vec<Bound<'_, PyAny>> = if count == 1 {
                vec![submitted]
            } else {
                submitted
                    .extract()
                    .map_err(|e| bridge::py_error("submit", e))?
            };
            let landing = Arc::new(Landing {
                store: Arc::clone(store),
                shared: Arc::clone(self),
                classify: bridge::call_item(self.bridge.ns.bind(py), "_classify")?.unbind(),
            });
            for (cell, ray_ref) in cells.iter().zip(&refs) {
                landing.complete_on(ray_ref, cell, name, &producer, decode)?;
            }
            if let Some(first) = refs.first() {
                *lock(&producer.ray_ref) = Some(first.clone().unbind());
            }
            if !register {
                return Ok(());
            }
            let mut table = lock(&*self.refs);
            for (cell, ray_ref) in cells.iter().zip(refs) {
                table.insert(cell, ray_ref.unbind());
            }
            Ok(())
        })?;
        Ok(cells)
    }
}

/// A streaming generator's items as Ray's `ObjectRefGenerator` yields them.
struct RayStream {
    name: String,
    generator: Py<PyAny>,
    bridge: Arc<bridge::Bridge>,
    /// Keeps the cancel path of the task cell alive while items come.
    _producer: Arc<RayTask>,
}

impl ItemSource for RayStream {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_item(&mut self) -> Option<Result<Vec<u8>>> {
        bridge::attach(|py| {
            let next = bridge::call(
                self.bridge.ns.bind(py),
                "stream_next",
                (self.generator.bind(py),),
            )?;
            let (kind, payload): (String, Bound<'_, PyAny>) = next
                .extract()
                .map_err(|e| bridge::py_error("stream_next", e))?;
            match kind.as_str() {
                "item" => payload
                    .extract::<Vec<u8>>()
                    .map(Some)
                    .map_err(|e| bridge::py_error("stream_next", e)),
                "end" => Ok(None),
                _ => {
                    let (kind, who, message): (String, String, String) = payload
                        .extract()
                        .map_err(|e| bridge::py_error("stream_next", e))?;
                    Err(error_of(&kind, &self.name, who, message))
                }
            }
        })
        .transpose()
    }

    fn stop(&mut self) {
        bridge::attach(|py| {
            let ns = self.bridge.ns.bind(py);
            if let Err(err) = bridge::call(ns, "cancel", (self.generator.bind(py),)) {
                tracing::warn!("ray.cancel of a stream: {err}");
            }
        });
    }
}

/// A Ray actor, as its handles reach it.
struct RayActor {
    shared: Arc<Shared>,
    store: Arc<Store>,
    handle: Py<PyAny>,
    /// Ray's id of the actor (hex; empty if Ray did not say).
    id: String,
    label: String,
    /// The `remote` of each method, by name, result count and concurrency
    /// group (a method's retry settings are its own): made once (Ray binds
    /// a method to its handle anew on each look-up).
    methods: Mutex<HashMap<MethodKey, Py<PyAny>>>,
}

/// A method's name, its call's result count and its concurrency group.
type MethodKey = (&'static str, usize, Option<&'static str>);

impl RayActor {
    /// The `remote` of calls of `method` (named `name`) with `outputs`
    /// results, in its concurrency group, retried by Ray as it says.
    fn method<'py>(
        &self,
        py: Python<'py>,
        method: &MethodInfo,
        name: &'static str,
        outputs: usize,
    ) -> Result<Bound<'py, PyAny>> {
        let key = (name, outputs, method.group);
        if let Some(remote) = lock(&self.methods).get(&key) {
            return Ok(remote.bind(py).clone());
        }
        let remote = bridge::call(
            self.shared.bridge.ns.bind(py),
            "actor_method",
            (
                self.handle.bind(py),
                name,
                outputs,
                method.group,
                method.max_retries,
                method.retry_exceptions,
            ),
        )?;
        lock(&self.methods).insert(key, remote.clone().unbind());
        Ok(remote)
    }

    /// What a call fails with when this runtime killed the actor (Ray
    /// learns of the kill asynchronously: a call made after it could still
    /// reach the actor; here it fails, as locally).
    fn killed(&self) -> Option<Error> {
        lock(&self.shared.killed)
            .contains(&self.id)
            .then(|| Error::ActorDied {
                actor: self.label.clone(),
                cause: "it was killed".to_string(),
            })
    }
}

impl RemoteActor for RayActor {
    fn call(
        &self,
        method: MethodInfo,
        args: Vec<RayArg>,
        outputs: usize,
    ) -> Result<Vec<Arc<ObjectCell>>> {
        self.store.check_open()?;
        if let Some(died) = self.killed() {
            return Ok((0..outputs)
                .map(|_| self.store.failed(died.clone()))
                .collect());
        }
        let name = member(method.name);
        let shared = &self.shared;
        shared.results(&self.store, outputs, &self.label, |py| {
            let remote = self.method(py, &method, name, outputs)?;
            let mut items = Vec::with_capacity(args.len());
            shared.push_args(py, &args, &mut items)?;
            let items = PyTuple::new(py, items).map_err(|e| bridge::py_error("call", e))?;
            remote.call1(items).map_err(|e| bridge::py_error("call", e))
        })
    }

    fn call_streaming(
        &self,
        method: MethodInfo,
        args: Vec<RayArg>,
        backpressure: Option<usize>,
    ) -> Result<RemoteStream> {
        self.store.check_open()?;
        if let Some(died) = self.killed() {
            return Err(died);
        }
        let name = member(method.name);
        let shared = &self.shared;
        shared.stream(&self.store, method.name, |py| {
            let remote = bridge::call(
                shared.bridge.ns.bind(py),
                "actor_stream",
                (self.handle.bind(py), method.group, backpressure),
            )?;
            let mut items = vec![PyString::new(py, name).into_any()];
            shared.push_args(py, &args, &mut items)?;
            let items = PyTuple::new(py, items).map_err(|e| bridge::py_error("call", e))?;
            remote.call1(items).map_err(|e| bridge::py_error("call", e))
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn engine_id(&self) -> &str {
        &self.id
    }

    fn kill(&self, no_restart: bool) {
        if no_restart && !self.id.is_empty() {
            lock(&self.shared.killed).insert(self.id.clone());
        }
        bridge::attach(|py| {
            let killed = bridge::call(
                self.shared.bridge.ns.bind(py),
                "kill",
                (self.handle.bind(py), no_restart),
            );
            if let Err(err) = killed {
                tracing::warn!("ray.kill: {err}");
            }
        });
    }
}

/// A ref the driver made that Ray does not have (a ref of another
/// runtime): its value, encoded, once complete.
fn local_bytes(cell: &Arc<ObjectCell>) -> Result<Vec<u8>> {
    match cell.try_get() {
        Some(Ok(crate::object::value::Stored::Memory(value))) => value.encode(),
        Some(Ok(crate::object::value::Stored::Disk(_))) | None => Err(not_in_ray(cell)),
        Some(Err(err)) => Err(err),
    }
}

/// The error of passing a ref Ray does not have.
fn not_in_ray(cell: &ObjectCell) -> Error {
    Error::InvalidArgument {
        call: "remote",
        reason: format!(
            "object {} is not in Ray's object store (a ref of another runtime?)",
            cell.id()
        ),
    }
}

/// What completes cells when Ray completes their objects: the runtime's
/// store and table of Ray refs (a result holding refs brings cells of the
/// objects they name), and how Ray's errors are named (`_classify`).
struct Landing {
    store: Arc<Store>,
    shared: Arc<Shared>,
    classify: Py<PyAny>,
}

impl Landing {
    /// Completes `cell` when Ray completes `ray_ref`'s object (through
    /// `ObjectRef._on_completed`): with its bytes read by `decode`, or with
    /// the error the exception is. `producer` (the call named `task`) stays
    /// alive until then.
    fn complete_on(
        self: &Arc<Self>,
        ray_ref: &Bound<'_, PyAny>,
        cell: &Arc<ObjectCell>,
        task: &str,
        producer: &Arc<RayTask>,
        decode: Decode,
    ) -> Result<()> {
        let landing = Arc::clone(self);
        let cell = Arc::clone(cell);
        let task = task.to_string();
        let producer = Arc::clone(producer);
        let complete = PyCFunction::new_closure(
            ray_ref.py(),
            None,
            None,
            move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
                // Ray calls this from a thread of its own, attaching it for
                // each call: it keeps its thread state from now on.
                bridge::keep_thread_state(args.py(), bridge::Until::Forever);
                let _keep = &producer;
                let result = landing.value(&args.get_item(0)?, &task, decode)?;
                cell.complete(result);
                Ok(())
            },
        )
        .map_err(|e| bridge::py_error("callback", e))?;
        ray_ref
            .call_method1("_on_completed", (complete,))
            .map(drop)
            .map_err(|e| bridge::py_error("_on_completed", e))
    }

    /// What Ray's object `value` (of the call named `task`) is here: bytes
    /// read by `decode`; a pair of bytes and Ray's refs to the objects
    /// inside (see `Shared::ray_value`), each given a cell of its own,
    /// paired with its Ray ref; or an error.
    fn value(
        self: &Arc<Self>,
        value: &Bound<'_, PyAny>,
        task: &str,
        decode: Decode,
    ) -> PyResult<Result<Value>> {
        if let Ok(bytes) = value.cast::<PyBytes>() {
            return Ok(decode(bytes.as_bytes()));
        }
        if value.is_instance_of::<PyTuple>() {
            let (bytes, inside): (Vec<u8>, Vec<Bound<'_, PyAny>>) = value.extract()?;
            let mut handles = Vec::with_capacity(inside.len());
            for item in &inside {
                let handle = match item.cast::<PyTuple>() {
                    // A placement group: it and its reservation's ref.
                    Ok(pair) if pair.len() == 2 => self.group(pair, task),
                    Ok(_) => self.actor(item),
                    Err(_) => Ok(crossing::handle_of(self.object(item, task, encoded))),
                };
                match handle {
                    Ok(handle) => handles.push(handle),
                    Err(err) => return Ok(Err(err)),
                }
            }
            return Ok(Ok(Value::encoded_with(bytes, handles)));
        }
        let (kind, who, message): (String, String, String) =
            self.classify.bind(value.py()).call1((value,))?.extract()?;
        Ok(Err(error_of(&kind, task, who, message)))
    }

    /// A cell of this runtime for Ray's object `ray_ref` (inside a value
    /// of the call named `task`), completed when Ray completes it, its
    /// bytes read by `decode`.
    fn object(
        self: &Arc<Self>,
        ray_ref: &Bound<'_, PyAny>,
        task: &str,
        decode: Decode,
    ) -> Arc<ObjectCell> {
        let producer = self.shared.producer(task);
        *lock(&producer.ray_ref) = Some(ray_ref.clone().unbind());
        let weak = Arc::downgrade(&producer) as Weak<dyn Producer>;
        let cell = self.store.pending(weak, false);
        *lock(&producer.cells) = vec![Arc::downgrade(&cell)];
        if let Err(err) = self.complete_on(ray_ref, &cell, task, &producer, decode) {
            cell.complete(Err(err));
        }
        lock(&*self.shared.refs).insert(&cell, ray_ref.clone().unbind());
        cell
    }

    /// A placement group inside a value from Ray (the pair of Ray's group
    /// and a ref that completes once it is reserved, see the trampoline's
    /// `_group_pair`), as a handle crossing here.
    fn group(self: &Arc<Self>, pair: &Bound<'_, PyTuple>, task: &str) -> Result<Handle> {
        let item = |i| {
            pair.get_item(i)
                .map_err(|e| bridge::py_error("a placement group", e))
        };
        let (group, ready) = (item(0)?, item(1)?);
        Ok(Arc::new(GroupHandle {
            reservation: Reservation::Ray(Arc::new(RayGroup {
                handle: group.unbind(),
            })),
            ready: self.object(&ready, task, unit),
        }))
    }

    /// An actor inside a value from Ray (the triple of Ray's handle, its
    /// concurrency groups' names and its type's short name, see
    /// `Shared::ray_inside`), as a handle crossing here.
    fn actor(&self, item: &Bound<'_, PyAny>) -> Result<Handle> {
        let (handle, groups, label): (Bound<'_, PyAny>, String, String) = item
            .extract()
            .map_err(|e| bridge::py_error("an actor handle", e))?;
        let Some((scheduler, table)) = self.shared.home.get() else {
            return Err(Error::InvalidArgument {
                call: "get",
                reason: "an actor handle reached a runtime that is not running".into(),
            });
        };
        let remote = self.shared.actor(&self.store, handle.unbind(), label);
        Ok(Arc::new(ForeignActor {
            remote,
            groups: protocol::names(&groups),
            scheduler: Arc::clone(scheduler),
            table: Arc::clone(table),
        }))
    }
}

/// How a result's bytes become its value.
type Decode = fn(&[u8]) -> Result<Value>;

/// The one cell of a call made for one result (`call` names it in the
/// error if Ray gave none).
fn only_cell(cells: Vec<Arc<ObjectCell>>, call: &'static str) -> Result<Arc<ObjectCell>> {
    cells
        .into_iter()
        .next()
        .ok_or_else(|| Error::InvalidArgument {
            call,
            reason: "Ray returned no ref".into(),
        })
}

/// A result that only says "done": `()`.
fn unit(_: &[u8]) -> Result<Value> {
    Ok(Value::new(()))
}

/// Places a task or an actor (its Ray `options`) in a bundle of a Ray
/// placement group (`None`: any bundle).
fn place_in<'py>(
    py: Python<'py>,
    ns: &Bound<'py, PyDict>,
    options: Bound<'py, PyDict>,
    placement: Option<(&Reservation, Option<usize>)>,
) -> Result<Bound<'py, PyAny>> {
    let Some((reservation, bundle)) = placement else {
        return Ok(options.into_any());
    };
    let Reservation::Ray(group) = reservation else {
        return Err(Error::InvalidArgument {
            call: "placement_group",
            reason: "the placement group belongs to another runtime, not to this Ray one".into(),
        });
    };
    let bundle = bundle.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
    bridge::call(
        ns,
        "in_placement_group",
        (options, group.handle.bind(py), bundle),
    )
}

/// A Rust result: postcard bytes, decoded as the type a reader asks for.
fn encoded(bytes: &[u8]) -> Result<Value> {
    Ok(Value::encoded(bytes.to_vec()))
}

/// A Python function's result: MessagePack, decoded as an `R` now.
fn msgpack<R: Object>(bytes: &[u8]) -> Result<Value> {
    rmp_serde::from_slice::<R>(bytes)
        .map(Value::new)
        .map_err(|err| {
            Error::Serialization(format!(
                "a Python function's result does not decode as `{}`: {err}",
                type_name::<R>()
            ))
        })
}

/// The error a failure reported by Ray (or by the worker) is.
fn error_of(kind: &str, task: &str, who: String, message: String) -> Error {
    let task = if who.is_empty() {
        task.to_string()
    } else {
        who
    };
    match kind {
        "cancelled" => Error::Cancelled { task },
        "actor_died" => Error::ActorDied {
            actor: task,
            cause: message,
        },
        "object_lost" => Error::ObjectLost {
            object: task,
            reason: message,
        },
        _ => Error::TaskFailed {
            task,
            message,
            cause: None,
        },
    }
}

/// A submitted Ray task, as its results' producer: cancel reaches Ray.
struct RayTask {
    name: String,
    cells: Mutex<Vec<Weak<ObjectCell>>>,
    ray_ref: Mutex<Option<Py<PyAny>>>,
    bridge: Arc<bridge::Bridge>,
}

impl Producer for RayTask {
    fn cancel(self: Arc<Self>) {
        // The refs complete at once, as locally; Ray then stops the task
        // (forcibly: a trampoline waiting for its worker cannot be
        // interrupted).
        for cell in lock(&self.cells).iter().filter_map(Weak::upgrade) {
            cell.complete(Err(Error::Cancelled {
                task: self.name.clone(),
            }));
        }
        let ray_ref = lock(&self.ray_ref).take();
        if let Some(ray_ref) = ray_ref {
            bridge::attach(|py| {
                if let Err(err) = bridge::call(self.bridge.ns.bind(py), "cancel", (ray_ref,)) {
                    tracing::warn!("ray.cancel: {err}");
                }
            });
        }
    }

    fn help(self: Arc<Self>) -> bool {
        false
    }
}
