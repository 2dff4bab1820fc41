//! Running on a Ray cluster (cargo feature `ray`): see
//! [`Config::ray`](crate::Config::ray) and the README's "Outgrow one
//! machine".
//!
//! A program runs unchanged: its `#[remote]` functions run in Ray worker
//! processes, on any node, as the program's own binary started in *worker
//! mode* by a Python trampoline in each Ray worker; its actors run in Ray
//! worker processes that are the program's binary itself, started by Ray.
//! [`init`](crate::init) (and so `#[rustyray::main]`) enters worker mode
//! (or runs Ray's worker) when the process was started so: call it before
//! anything else in `main`. In a test binary, the test that started the
//! driver is run again in each worker (libtest's `--exact`), and its
//! `init` enters worker mode there.

use std::sync::{Arc, OnceLock};

use crate::api::registry;
use crate::backend::ray::host;
use crate::backend::ray::protocol::Failure;
use crate::backend::ray::worker::{self, Dispatch, ExitProbe, Started, Submitted, NODE_VAR};
use crate::error::{Error, Result};
use crate::object::Codec;
use crate::registry::AnyActor;
use crate::runtime::{global, Config, Runtime, RuntimeGuard};
use crate::task::spec::FirstAttempt;
use crate::task::{ActorId, NodeId};

/// Starts a runtime and installs it as the calling thread's current one
/// (see [`runtime::init`](crate::runtime::init)); in a process that a Ray
/// worker started in worker mode, serves that worker's calls instead and
/// ends the process when the worker does; in a process Ray started as its
/// worker, runs that worker until Ray ends it.
pub fn init(config: Config) -> Result<RuntimeGuard> {
    if let Some(socket) = worker::asked() {
        serve(&socket);
    }
    if let Some(argv) = host::asked() {
        host::run(argv, serve_in_process);
    }
    crate::runtime::init(config)
}

/// The Ray node this process runs on: a Ray worker's (in worker mode) or
/// the driver's (while a runtime is connected to a cluster); `None`
/// otherwise. Ray's hex node id, as `ray.get_runtime_context().get_node_id()`
/// gives it.
pub fn node_id() -> Option<String> {
    match worker_node() {
        Some(node) => Some(node.hex().to_string()),
        None => crate::backend::ray::node_id(),
    }
}

/// The Ray node the calling code runs on (see
/// [`Context::node_id`](crate::Context::node_id)): this Ray worker's, or
/// the driver's when the runtime in scope runs on a Ray cluster.
pub(crate) fn ray_node() -> Option<NodeId> {
    if let Some(node) = worker_node() {
        return Some(node.clone());
    }
    global().ok()?.ray()?;
    crate::backend::ray::node_id().map(|hex| NodeId::from_hex(&hex))
}

/// The Ray node of this process, when a Ray worker started it in worker
/// mode (the trampoline names it in the environment; read once).
fn worker_node() -> Option<&'static NodeId> {
    static WORKER: OnceLock<Option<NodeId>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            std::env::var(NODE_VAR)
                .ok()
                .or_else(|| host::node().map(str::to_string))
                .map(|hex| NodeId::from_hex(&hex))
        })
        .as_ref()
}

/// Serves a Ray worker's calls in a local runtime of this process.
fn serve(socket: &str) -> ! {
    let runtime = match crate::runtime::init(Config::default().name("rustyray-ray-worker")) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rustyray worker: {err}");
            std::process::exit(1)
        }
    };
    let home = home(&runtime);
    let mut dispatch = Worker {
        runtime: Runtime::clone(&runtime),
        actor: None,
    };
    worker::serve(socket, &mut dispatch, home)
}

/// Serves the trampoline of the Ray worker this process is, over `stream`
/// (see `backend::ray::host`), in a local runtime of this process, until
/// the trampoline's end closes.
fn serve_in_process(stream: std::os::unix::net::UnixStream) {
    let runtime = match crate::runtime::init(Config::default().name("rustyray-ray-worker")) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rustyray worker: {err}");
            return;
        }
    };
    let home = home(&runtime);
    let dispatch: &'static mut Worker = Box::leak(Box::new(Worker {
        runtime: Runtime::clone(&runtime),
        actor: None,
    }));
    if let Err(err) = worker::serve_in_process(stream, dispatch, home) {
        eprintln!("rustyray worker: {err}");
    }
}

/// What objects and actor handles from the trampoline join: `runtime`.
fn home(runtime: &Runtime) -> worker::Home {
    let local = runtime.engine().local();
    let entered = runtime.clone();
    worker::Home {
        runtime: runtime.id(),
        enter: Arc::new(move || Box::new(entered.enter())),
        store: Arc::clone(local.store()),
        scheduler: Arc::clone(local.scheduler()),
        table: Arc::clone(local.actors()),
    }
}

/// What a worker-mode program serves its trampoline's calls with: the
/// runtime they run in (current on every serving thread, installed by the
/// guard `serve` keeps) and the actor it holds, once created.
struct Worker {
    runtime: Runtime,
    actor: Option<AnyActor>,
}

fn failed(err: Error) -> Failure {
    worker::failure(&err)
}

impl Dispatch for Worker {
    fn call(
        &mut self,
        function: &str,
        codec: Codec,
        attempt: FirstAttempt,
        split: Option<usize>,
        args: &[u8],
    ) -> Submitted {
        let function = registry::function(function).map_err(failed)?;
        let mut options = attempt_options(function, attempt);
        if let Some(n) = split {
            options = options.__num_returns(n);
        }
        function.remote_with(options, codec, args).map_err(failed)
    }

    fn create(
        &mut self,
        actor: &str,
        constructor: &str,
        max_concurrency: usize,
        groups: Vec<(String, usize)>,
        ray_id: &str,
        codec: Codec,
        args: &[u8],
    ) -> std::result::Result<(), Failure> {
        let constructor = registry::constructor(actor, constructor).map_err(failed)?;
        let mut options = groups.into_iter().fold(
            crate::ActorOptions::default().max_concurrency(max_concurrency),
            |options, (name, limit)| options.concurrency_group(name, limit),
        );
        options.ray_id = ActorId::ray(self.runtime.id(), ray_id);
        self.actor = Some(constructor.remote(options, codec, args).map_err(failed)?);
        Ok(())
    }

    fn method(
        &mut self,
        method: &str,
        codec: Codec,
        attempt: FirstAttempt,
        args: &[u8],
    ) -> Submitted {
        let actor = self.actor.as_ref().ok_or_else(no_actor)?;
        actor
            .as_ray_attempt(attempt)
            .call(method, codec, args)
            .map_err(failed)
    }

    fn stream(&mut self, function: &str, attempt: FirstAttempt, args: &[u8]) -> Started {
        let function = registry::function(function).map_err(failed)?;
        function
            .remote_streaming_with(attempt_options(function, attempt), Codec::Postcard, args)
            .map_err(failed)
    }

    fn exit_probe(&self) -> Option<ExitProbe> {
        let actor = self.actor.clone()?;
        Some(Arc::new(move || actor.is_exiting()))
    }

    fn method_stream(&mut self, method: &str, args: &[u8]) -> Started {
        let actor = self.actor.as_ref().ok_or_else(no_actor)?;
        actor
            .call_streaming(method, Codec::Postcard, args)
            .map_err(failed)
    }
}

/// `function`'s options for the attempt `attempt` of Ray's task: Ray
/// retries the task (its options say how often), so here it runs once, as
/// the attempt Ray runs.
fn attempt_options(function: &registry::Function, attempt: FirstAttempt) -> crate::TaskOptions {
    function.options().max_retries(0).ray_attempt(attempt)
}

/// The failure of a method call in a Ray worker that holds no actor.
fn no_actor() -> Failure {
    Failure {
        kind: "actor_died",
        task: String::new(),
        message: "this Ray worker holds no actor".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::home;
    use crate::backend::ray::protocol::{read_value, write_value, WireInside, WireValue};
    use crate::backend::ray::worker::Link;
    use crate::object::crossing::{self, encode};
    use crate::object::handoff;
    use crate::{Codec, Config, ObjectRef};

    #[test]
    fn a_value_crosses_to_another_runtime_with_the_objects_its_refs_name() {
        let here = crate::runtime::init(Config::default()).unwrap();
        let one = here.put(1_u32).unwrap();
        let two = here.put(2_u32).unwrap();
        let crossed = encode("test", &vec![one.clone(), two, one]).unwrap();
        assert_eq!(crossed.inside.len(), 3);
        // The other side: a runtime whose link to a trampoline reads the
        // value, its objects written by value as the protocol does.
        let there = crate::runtime::init(Config::default()).unwrap();
        let (ours, _trampoline) = std::os::unix::net::UnixStream::pair().unwrap();
        let (link, _requests) = Link::start(ours, home(&there)).unwrap();
        let inside = crossed
            .inside
            .iter()
            .map(|handle| {
                let cell = crossing::cell_of(handle).unwrap();
                WireInside::Value(link.export(cell).unwrap())
            })
            .collect();
        let mut part = Vec::new();
        let value = WireValue {
            bytes: crossed.bytes.clone(),
            inside,
        };
        write_value(&mut part, &value);
        let read = read_value(&part).unwrap();
        let handles = link.inside(read.inside);
        let refs: Vec<ObjectRef<u32>> =
            handoff::with_handles(&handles, || Codec::Postcard.decode(&read.bytes)).unwrap();
        let values: Vec<u32> = refs.iter().map(|r| there.get(r).unwrap()).collect();
        assert_eq!(values, vec![1, 2, 1]);
        assert!(refs.iter().all(|r| r.id().runtime() == there.id()));
    }
}
