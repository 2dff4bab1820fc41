//! The link of a program serving a Ray worker (worker mode) to its
//! trampoline: the socket both speak the protocol on.
//!
//! The trampoline sends calls; the program answers them (see
//! [`worker`](super::worker)). While a call runs, the program may need Ray
//! itself, and asks the trampoline (see [`protocol`](super::protocol)):
//! the tasks a call submits (`qcall`), the actors it creates or finds
//! (`qcreate`, `qgetactor`) and the calls of Ray actors whose handles it
//! holds ([`ForwardedActor`], `qacall`) are made in Ray by the trampoline,
//! placed in the Ray placement groups whose handles it was given
//! ([`ForwardedGroup`]).
//! The refs those return are *forwarded objects*: cells of the program's
//! runtime, under ids the program chose, that the trampoline completes
//! when Ray completes the object (`done` / `fail`). The refs inside a
//! call's arguments (and inside the values of forwarded objects) are
//! forwarded objects too, under ids the trampoline chose: a call starts
//! without waiting for them, as a Ray task does. A blocking `get`,
//! `get_timeout`, `get_all` or `wait` of forwarded objects first waits in
//! the trampoline (`qget`), so that Ray counts the worker as blocked and
//! lends its CPU, as `ray.get` and `ray.wait` do.
//!
//! Whichever serving thread reads the socket (see
//! [`worker`](super::worker)) hands the answers to the program's own
//! requests to the threads waiting for them and completes forwarded
//! objects, until it reads a request of the trampoline's, which it then
//! serves itself; when the socket closes, every waiting request fails and
//! the serving ends.

use std::any::{type_name, Any};
use std::collections::HashMap;
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crossbeam_channel::Sender;

use super::protocol::{
    names, read_frame, read_value, write_frame, write_value, WireInside, WireValue,
};
use crate::actor::handle::{Actor, ActorRef, ForeignActor, RemoteActor};
use crate::actor::method::MethodInfo;
use crate::actor::registry::ActorTable;
use crate::backend::{CallSpec, CreateSpec, GroupHandle, Reservation};
use crate::error::{Error, Result};
use crate::object::cell::{ObjectCell, Producer};
use crate::object::completion::Elsewhere;
use crate::object::crossing::{self, Crossed, Exported, Inside};
use crate::object::handoff::Handle;
use crate::object::store::Store;
use crate::object::value::Value;
use crate::object::{ObjectId, RuntimeId};
use crate::sync::lock;
use crate::task::args::{ArgList, RayArg, RayArgKind};
use crate::task::returns::{Outputs, TaskReturn};
use crate::task::scheduler::Scheduler;
use crate::task::stream::{ItemSource, RemoteStream};

/// The runtime a program serving a Ray worker runs its calls in: what
/// objects and actor handles from the trampoline join.
pub(crate) struct Home {
    pub(crate) runtime: RuntimeId,
    /// Makes the runtime current on a serving thread, until the returned
    /// guard drops.
    pub(crate) enter: Arc<dyn Fn() -> Box<dyn Any> + Send + Sync>,
    pub(crate) store: Arc<Store>,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) table: Arc<ActorTable>,
}

/// A frame's parts.
pub(crate) type Frame = Vec<Vec<u8>>;

/// The program's end of the socket to its trampoline.
pub(crate) struct Link {
    writer: Mutex<UnixStream>,
    home: Home,
    next: AtomicU64,
    /// The program's requests waiting for their answers, by id.
    answers: Mutex<HashMap<u64, Sender<Frame>>>,
    objects: Mutex<Objects>,
}

/// The forwarded objects: the trampoline's id of each and its cell here.
#[derive(Default)]
struct Objects {
    by_id: HashMap<String, Entry>,
    by_cell: HashMap<ObjectId, String>,
    /// The table's size after the last sweep of freed objects.
    swept: usize,
}

/// A forwarded object's cell, and its producer until it is complete (the
/// cell reaches its producer weakly: this keeps it for `cancel` and a
/// blocked `get`).
struct Entry {
    cell: Weak<ObjectCell>,
    producer: Option<Arc<Forwarded>>,
}

impl Link {
    /// The link over `stream`, and the socket's reading end (see
    /// [`next_request`](Self::next_request)).
    pub(crate) fn start(
        stream: UnixStream,
        home: Home,
    ) -> std::io::Result<(Arc<Link>, BufReader<UnixStream>)> {
        let reader = BufReader::new(stream.try_clone()?);
        let link = Arc::new(Link {
            writer: Mutex::new(stream),
            home,
            next: AtomicU64::new(1),
            answers: Mutex::new(HashMap::new()),
            objects: Mutex::new(Objects::default()),
        });
        Ok((link, reader))
    }

    /// Reads the trampoline's frames until its next request, which it
    /// returns: meanwhile, answers to the program's requests go to the
    /// threads waiting for them, and objects' completions to their cells.
    /// `None` once the socket closes (every waiting request then fails).
    pub(crate) fn next_request(
        self: &Arc<Self>,
        reader: &mut BufReader<UnixStream>,
    ) -> Option<Frame> {
        loop {
            let parts = match read_frame(reader) {
                Ok(Some(parts)) => parts,
                Ok(None) => break,
                Err(err) => {
                    eprintln!("rustyray worker: {err}");
                    break;
                }
            };
            let text = |i| text(&parts, i);
            match parts.first().map(Vec::as_slice) {
                Some(b"re" | b"rerr") => {
                    let waiting = text(1)
                        .parse()
                        .ok()
                        .and_then(|id| lock(&self.answers).remove(&id));
                    if let Some(waiting) = waiting {
                        let _ = waiting.send(parts);
                    }
                }
                Some(b"done") => {
                    let value = parts.get(2).map(|p| read_value(p));
                    let result = match value {
                        Some(Ok(value)) => Ok(self.value(value)),
                        Some(Err(err)) => Err(Error::serialization(err)),
                        None => Err(Error::serialization("a `done` without its value")),
                    };
                    self.complete(&text(1), result);
                }
                Some(b"fail") => {
                    let err = super::error_of(&text(2), "", text(3), text(4));
                    self.complete(&text(1), Err(err));
                }
                _ => return Some(parts),
            }
        }
        // The trampoline is gone: the program's waiting requests fail.
        lock(&self.answers).clear();
        None
    }

    /// Makes the home runtime current on the calling thread, until the
    /// returned guard drops.
    pub(crate) fn enter(&self) -> Box<dyn Any> {
        (self.home.enter)()
    }

    /// Writes one frame.
    pub(crate) fn write(&self, parts: &[&[u8]]) -> std::io::Result<()> {
        write_frame(&mut *lock(&self.writer), parts)
    }

    /// Sends a request of the program's (`q` and `kind`) and waits for its
    /// answer's parts (after the id); a refusal is an error naming the task
    /// the trampoline names, if any.
    fn request(&self, kind: &str, parts: Frame) -> Result<Frame> {
        self.request_for("", kind, parts)
    }

    /// [`request`](Self::request), a refusal naming `task` when the
    /// trampoline names none.
    fn request_for(&self, task: &str, kind: &str, parts: Frame) -> Result<Frame> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = crossbeam_channel::bounded(1);
        lock(&self.answers).insert(id, answer);
        let head = [format!("q{kind}").into_bytes(), id.to_string().into_bytes()];
        let frame: Vec<&[u8]> = head.iter().chain(&parts).map(Vec::as_slice).collect();
        if let Err(err) = self.write(&frame) {
            lock(&self.answers).remove(&id);
            return Err(gone(&err.to_string()));
        }
        // The answer comes, or the socket closes (which drops the sender).
        let answer = answered
            .recv()
            .map_err(|_| gone("the trampoline went away"))?;
        match answer.first().map(Vec::as_slice) {
            Some(b"re") => Ok(answer.into_iter().skip(2).collect()),
            _ => {
                let text = |i| text(&answer, i);
                Err(super::error_of(&text(2), task, text(3), text(4)))
            }
        }
    }

    /// Submits a task (a call inside a call this program runs) to Ray, by
    /// its registered name: its results are forwarded objects.
    pub(crate) fn submit<A: ArgList, R: TaskReturn>(
        self: &Arc<Self>,
        call: &CallSpec<'_>,
        mut args: A,
    ) -> Result<R::Refs> {
        self.home.store.check_open()?;
        let [group, bundle] = placed(call.placement)?;
        // A count of 0: the call says (`num_returns(n)` of a `Vec`, which
        // the worker splits).
        let (count, split) = match R::COUNT {
            0 => (call.num_returns.unwrap_or(0), call.num_returns),
            n => (n, None),
        };
        let (ids, cells) = self.results(count);
        let mut parts = texts([
            ids,
            call.function.to_string(),
            split.map(|n| n.to_string()).unwrap_or_default(),
            count.to_string(),
            call.task_name().to_string(),
            call.num_cpus.to_string(),
            call.max_retries.to_string(),
            if call.retry_exceptions { "1" } else { "" }.to_string(),
            pairs(call.resources),
            group,
            bundle,
        ]);
        parts.extend(self.args(&args.ray_args()?)?);
        self.request("call", parts)?;
        Ok(R::refs(&Outputs::new(cells.into_iter())))
    }

    /// The cells of `count` results of a request of the program's, each a
    /// forwarded object under a new id, and those ids (`a,b`): the
    /// program names them, so that each is known here before the
    /// trampoline can say it is complete.
    fn results(self: &Arc<Self>, count: usize) -> (String, Vec<Arc<ObjectCell>>) {
        let (ids, cells): (Vec<String>, _) = (0..count).map(|_| self.result()).unzip();
        (ids.join(","), cells)
    }

    /// One forwarded object under a new id (see [`results`](Self::results)).
    fn result(self: &Arc<Self>) -> (String, Arc<ObjectCell>) {
        let id = format!("o{}", self.next.fetch_add(1, Ordering::Relaxed));
        let cell = self.object(id.clone());
        (id, cell)
    }

    /// Creates a Ray actor (inside a call this program runs) holding an `A`
    /// made by the constructor `spec` names, through the trampoline; its
    /// Ray class has a method of each name in `methods`.
    pub(crate) fn create_actor<A: Actor, Ar: ArgList>(
        self: &Arc<Self>,
        spec: CreateSpec<'_>,
        methods: &[&'static str],
        mut args: Ar,
    ) -> Result<ActorRef<A>> {
        self.home.store.check_open()?;
        let [group, bundle] = placed(spec.placement)?;
        let mut parts = texts([
            type_name::<A>().to_string(),
            super::member(spec.constructor).to_string(),
            methods.join(","),
            spec.num_cpus.to_string(),
            spec.max_restarts.to_string(),
            spec.max_task_retries.to_string(),
            spec.max_concurrency.to_string(),
            pairs(&spec.concurrency_groups),
            spec.name.clone().unwrap_or_default(),
            spec.namespace.clone(),
            if spec.get_if_exists { "1" } else { "" }.to_string(),
            pairs(spec.resources),
            group,
            bundle,
        ]);
        parts.extend(self.args(&args.ray_args()?)?);
        let answer = self.request("create", parts)?;
        let groups = spec.concurrency_groups.into_iter().map(|(name, _)| name);
        let ray = text(&answer, 1);
        Ok(self.actor(text(&answer, 0), groups.collect(), ray).handle())
    }

    /// Has Ray make a placement group of `bundles` (each a CPU count and
    /// custom amounts) with `strategy` (Ray's name), inside a call this
    /// program runs: the group, and an object that completes once Ray has
    /// reserved it.
    pub(crate) fn placement_group(
        self: &Arc<Self>,
        bundles: &[(f64, &[(String, f64)])],
        strategy: &str,
    ) -> Result<(Reservation, Arc<ObjectCell>)> {
        self.home.store.check_open()?;
        let id = format!("g{}", self.next.fetch_add(1, Ordering::Relaxed));
        let (ready_id, ready) = self.result();
        let mut parts = texts([id.clone(), ready_id, strategy.to_string()]);
        parts.extend(bundles.iter().map(|(cpus, custom)| {
            let cpu = (*cpus > 0.0).then(|| ("CPU".to_string(), *cpus));
            let amounts: Vec<(String, f64)> = custom.iter().cloned().chain(cpu).collect();
            pairs(&amounts).into_bytes()
        }));
        self.request("group", parts)?;
        let group = ForwardedGroup {
            link: Arc::clone(self),
            id,
        };
        Ok((Reservation::Forwarded(Arc::new(group)), ready))
    }

    /// The live Ray actor named `name` in `namespace`, when it holds an
    /// `A` (inside a call this program runs), through the trampoline.
    pub(crate) fn get_actor<A: Actor>(
        self: &Arc<Self>,
        name: &str,
        namespace: &str,
    ) -> Result<ActorRef<A>> {
        let answer = self
            .request("getactor", vec![name.into(), namespace.into()])
            .map_err(|err| super::not_found(name, err))?;
        let (id, actor, groups) = (text(&answer, 0), text(&answer, 1), text(&answer, 2));
        let foreign = self.actor(id, names(&groups), text(&answer, 3));
        super::found_as::<A>(name, &actor)?;
        Ok(foreign.handle())
    }

    /// The actor the trampoline holds as `id` (Ray's `ray`), as a handle
    /// crossing here.
    fn actor(self: &Arc<Self>, id: String, groups: Vec<String>, ray: String) -> ForeignActor {
        ForeignActor {
            remote: Arc::new(ForwardedActor {
                link: Arc::clone(self),
                id,
                ray,
            }),
            groups,
            scheduler: Arc::clone(&self.home.scheduler),
            table: Arc::clone(&self.home.table),
        }
    }

    /// Sends a message of the program's that is not answered.
    fn tell(&self, parts: &[&[u8]]) {
        if let Err(err) = self.write(parts) {
            tracing::warn!("rustyray worker: {err}");
        }
    }

    /// A forwarded object: a pending cell the trampoline completes, by its
    /// id `id` there.
    fn object(self: &Arc<Self>, id: String) -> Arc<ObjectCell> {
        let producer = Arc::new(Forwarded {
            link: Arc::downgrade(self),
            id: id.clone(),
        });
        let cell = self
            .home
            .store
            .pending(Arc::downgrade(&producer) as Weak<dyn Producer>, false);
        let freed = lock(&self.objects).insert(id, &cell, producer);
        self.free(freed);
        cell
    }

    /// Completes the forwarded object `id` (a `done` or `fail` message).
    fn complete(&self, id: &str, result: Result<Value>) {
        let (cell, producer) = lock(&self.objects).complete(id);
        drop(producer);
        if let Some(cell) = cell {
            cell.complete(result);
        }
    }

    /// The trampoline's id of `cell`, if it is a forwarded object.
    fn forwarded(&self, cell: &ObjectCell) -> Option<String> {
        lock(&self.objects).by_cell.get(&cell.id()).cloned()
    }

    /// Sends the trampoline the ids of forwarded objects freed here.
    fn free(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let mut frame: Vec<&[u8]> = vec![b"qfree"];
        frame.extend(ids.iter().map(|id| id.as_bytes()));
        self.tell(&frame);
    }

    /// What the trampoline sent inside a value, here: its objects
    /// forwarded, its actors as handles whose calls it makes, its
    /// placement groups as handles that place work there (an object the
    /// protocol carries by value or as its failure, which the trampoline
    /// does not send now, is complete in this runtime).
    pub(crate) fn inside(self: &Arc<Self>, inside: Vec<WireInside>) -> Vec<Handle> {
        inside
            .into_iter()
            .map(|inside| match inside {
                WireInside::Value(value) => {
                    let value = self.value(value);
                    let store = &self.home.store;
                    crossing::handle_of(store.put(value).unwrap_or_else(|err| store.failed(err)))
                }
                WireInside::Failed(err) => crossing::handle_of(self.home.store.failed(err)),
                WireInside::Object(id) => crossing::handle_of(self.object(id)),
                WireInside::Actor { id, groups, ray } => {
                    Arc::new(self.actor(id, names(&groups), ray))
                }
                WireInside::Group { id, ready } => {
                    let group = ForwardedGroup {
                        link: Arc::clone(self),
                        id,
                    };
                    Arc::new(GroupHandle {
                        reservation: Reservation::Forwarded(Arc::new(group)),
                        ready: self.object(ready),
                    })
                }
            })
            .collect()
    }

    /// A value the trampoline sent, as this runtime holds it.
    fn value(self: &Arc<Self>, value: WireValue) -> Value {
        let inside = self.inside(value.inside);
        Value::encoded_with(value.bytes, inside)
    }

    /// An object of this runtime as it crosses to the trampoline by value
    /// (waiting for it): forwarded objects inside stay forwarded.
    pub(crate) fn export(&self, cell: &Arc<ObjectCell>) -> Result<WireValue> {
        let keep = |cell: &ObjectCell| self.forwarded(cell).is_some();
        self.wire(crossing::export(cell, &keep)?)
    }

    /// A call's encoded result as it crosses, when refs are inside it
    /// (see [`crossing::export_result`]).
    pub(crate) fn export_result(&self, cell: &Arc<ObjectCell>) -> Option<Result<WireValue>> {
        let keep = |cell: &ObjectCell| self.forwarded(cell).is_some();
        crossing::export_result(cell, &keep).map(|exported| self.wire(exported?))
    }

    /// An exported object as the protocol writes it.
    fn wire(&self, exported: Exported) -> Result<WireValue> {
        let inside = exported
            .inside
            .into_iter()
            .map(|inside| match inside {
                Inside::Object(Ok(object)) => self.wire(object).map(WireInside::Value),
                Inside::Object(Err(err)) => Ok(WireInside::Failed(err)),
                Inside::Kept(handle) => self.kept(&handle),
            })
            .collect::<Result<_>>()?;
        Ok(WireValue {
            bytes: exported.bytes,
            inside,
        })
    }

    /// A forwarded object, or an actor the trampoline holds, by its id
    /// there.
    fn kept(&self, handle: &Handle) -> Result<WireInside> {
        if let Some(id) = crossing::cell_of(handle).and_then(|cell| self.forwarded(cell)) {
            return Ok(WireInside::Object(id));
        }
        if let Some(handle) = handle.downcast_ref::<GroupHandle>() {
            let Reservation::Forwarded(group) = &handle.reservation else {
                return Err(Error::InvalidArgument {
                    call: "remote",
                    reason: "a local runtime's placement group does not cross to Ray".into(),
                });
            };
            return Ok(WireInside::Group {
                id: group.id.clone(),
                ready: self.forwarded(&handle.ready).unwrap_or_default(),
            });
        }
        let forwarded = handle
            .downcast_ref::<ForeignActor>()
            .and_then(|foreign| foreign.remote.as_any().downcast_ref::<ForwardedActor>());
        match forwarded {
            Some(actor) => Ok(WireInside::Actor {
                id: actor.id.clone(),
                groups: String::new(),
                ray: actor.ray.clone(),
            }),
            None => Err(Error::InvalidArgument {
                call: "remote",
                reason: "an actor handle made in a Ray worker does not cross to Ray yet".into(),
            }),
        }
    }

    /// Each argument as the trampoline takes it: `o` and a forwarded
    /// object's id (a ref Ray resolves), or `v` and a value.
    fn args(&self, args: &[RayArg]) -> Result<Vec<Vec<u8>>> {
        args.iter()
            .map(|arg| {
                let value = match &arg.0 {
                    RayArgKind::Ref(cell) => {
                        if let Some(id) = self.forwarded(cell) {
                            return Ok([b"o".as_slice(), id.as_bytes()].concat());
                        }
                        self.export(cell)?
                    }
                    RayArgKind::Value(Crossed { bytes, inside }) => {
                        let keep = |cell: &ObjectCell| self.forwarded(cell).is_some();
                        self.wire(Exported {
                            bytes: bytes.clone(),
                            inside: crossing::exported_inside(inside.clone(), &keep),
                        })?
                    }
                };
                let mut part = vec![b'v'];
                write_value(&mut part, &value);
                Ok(part)
            })
            .collect()
    }
}

impl Objects {
    /// Adds the forwarded object `id`; sweeps out those freed here as the
    /// table doubles: their ids, for the trampoline.
    fn insert(
        &mut self,
        id: String,
        cell: &Arc<ObjectCell>,
        producer: Arc<Forwarded>,
    ) -> Vec<String> {
        self.by_cell.insert(cell.id(), id.clone());
        let entry = Entry {
            cell: Arc::downgrade(cell),
            producer: Some(producer),
        };
        self.by_id.insert(id, entry);
        if self.by_id.len() <= 2 * self.swept.max(64) {
            return Vec::new();
        }
        let freed: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, entry)| entry.cell.strong_count() == 0)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &freed {
            self.by_id.remove(id);
        }
        self.by_cell.retain(|_, id| !freed.contains(id));
        self.swept = self.by_id.len();
        freed
    }

    /// The cell of the forwarded object `id`, now complete, and its
    /// producer (to drop outside the lock).
    fn complete(&mut self, id: &str) -> (Option<Arc<ObjectCell>>, Option<Arc<Forwarded>>) {
        match self.by_id.get_mut(id) {
            Some(entry) => (entry.cell.upgrade(), entry.producer.take()),
            None => (None, None),
        }
    }
}

/// Part `i` of a frame as text (empty if missing).
fn text(parts: &[Vec<u8>], i: usize) -> String {
    parts
        .get(i)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default()
}

/// A placement as the protocol gives it: the trampoline's id of the group
/// and the bundle (each empty for none; an empty bundle: any).
fn placed(placement: Option<(&Reservation, Option<usize>)>) -> Result<[String; 2]> {
    match placement {
        None => Ok([String::new(), String::new()]),
        Some((Reservation::Forwarded(group), bundle)) => Ok([
            group.id.clone(),
            bundle.map(|b| b.to_string()).unwrap_or_default(),
        ]),
        Some(_) => Err(Error::InvalidArgument {
            call: "placement_group",
            reason: "inside a Ray worker, only a placement group made on the cluster places \
                     what it starts"
                .into(),
        }),
    }
}

/// A request's text parts, as a frame's parts.
fn texts<const N: usize>(texts: [String; N]) -> Frame {
    texts.into_iter().map(String::into_bytes).collect()
}

/// Names and amounts as the protocol lists them: `a=1,b=2`.
fn pairs<T: std::fmt::Display>(items: &[(String, T)]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    items.join(",")
}

/// The error of a request whose trampoline went away.
fn gone(why: &str) -> Error {
    Error::Io {
        what: "a request to the Ray worker's trampoline".into(),
        reason: why.to_string(),
    }
}

/// What completes a forwarded object: the trampoline, through Ray.
struct Forwarded {
    link: Weak<Link>,
    id: String,
}

impl Producer for Forwarded {
    fn cancel(self: Arc<Self>) {
        if let Some(link) = self.link.upgrade() {
            link.tell(&[b"qcancel", self.id.as_bytes()]);
        }
    }

    fn help(self: Arc<Self>) -> bool {
        false
    }

    fn elsewhere(&self) -> Option<(Arc<dyn Elsewhere>, String)> {
        let link: Arc<dyn Elsewhere> = self.link.upgrade()?;
        Some((link, self.id.clone()))
    }
}

/// A thread of the program about to block on forwarded objects waits in
/// Ray first (`qget`): in `ray.get` for all of them (which returns early
/// on a failure), in `ray.wait` for fewer. Both count this worker as
/// blocked and lend its CPU, which a task it waits for may need.
impl Elsewhere for Link {
    fn wait(&self, keys: Vec<String>, ready: usize, deadline: Option<Instant>) {
        let timeout = deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            left.as_secs_f64().to_string()
        });
        let mut parts = texts([timeout.unwrap_or_default(), ready.to_string()]);
        parts.extend(keys.into_iter().map(String::into_bytes));
        if let Err(err) = self.request("get", parts) {
            tracing::debug!("rustyray worker: waiting in Ray: {err}");
        }
    }
}

/// A Ray actor the trampoline holds, whose handle was passed to a call of
/// this program: its calls go to the trampoline (`qacall`).
pub(crate) struct ForwardedActor {
    link: Arc<Link>,
    /// The trampoline's id of the actor's handle.
    id: String,
    /// Ray's hex id of the actor.
    ray: String,
}

impl RemoteActor for ForwardedActor {
    fn call(
        &self,
        method: MethodInfo,
        args: Vec<RayArg>,
        outputs: usize,
    ) -> Result<Vec<Arc<ObjectCell>>> {
        self.link.home.store.check_open()?;
        let (ids, cells) = self.link.results(outputs);
        let mut parts = texts([
            ids,
            self.id.clone(),
            super::member(method.name).to_string(),
            outputs.to_string(),
            method.group.unwrap_or_default().to_string(),
            method
                .max_retries
                .map(|n| n.to_string())
                .unwrap_or_default(),
            if method.retry_exceptions { "1" } else { "" }.to_string(),
        ]);
        parts.extend(self.link.args(&args)?);
        self.link.request("acall", parts)?;
        Ok(cells)
    }

    fn call_streaming(
        &self,
        method: MethodInfo,
        args: Vec<RayArg>,
        backpressure: Option<usize>,
    ) -> Result<RemoteStream> {
        self.link.home.store.check_open()?;
        // The stream's task is a forwarded object under the generator's id
        // (its cancel is the generator's); its items come by `qnext`.
        let (id, task) = self.link.result();
        let mut parts = texts([
            id.clone(),
            self.id.clone(),
            super::member(method.name).to_string(),
            method.group.unwrap_or_default().to_string(),
            backpressure.map(|n| n.to_string()).unwrap_or_default(),
        ]);
        parts.extend(self.link.args(&args)?);
        self.link.request("astream", parts)?;
        let items = ForwardedItems {
            link: Arc::clone(&self.link),
            id,
            name: method.name.to_string(),
        };
        Ok((task, Box::new(items)))
    }

    fn kill(&self, no_restart: bool) {
        let no_restart: &[u8] = if no_restart { b"1" } else { b"" };
        self.link.tell(&[b"qkill", self.id.as_bytes(), no_restart]);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn engine_id(&self) -> &str {
        &self.ray
    }
}

/// A Ray placement group the trampoline holds, whose handle a call of this
/// program was given: the tasks and actors it places in the group are
/// placed there by the trampoline.
pub(crate) struct ForwardedGroup {
    link: Arc<Link>,
    /// The trampoline's id of the group.
    id: String,
}

impl ForwardedGroup {
    /// Has Ray remove the group.
    pub(crate) fn remove(&self) {
        self.link.tell(&[b"qremovegroup", self.id.as_bytes()]);
    }
}

impl Drop for ForwardedGroup {
    fn drop(&mut self) {
        self.link.tell(&[b"qfreegroup", self.id.as_bytes()]);
    }
}

/// The items of a streaming method the trampoline called (see
/// [`ForwardedActor::call_streaming`]): each asked for in turn (`qnext`).
struct ForwardedItems {
    link: Arc<Link>,
    /// The trampoline's id of the stream's generator.
    id: String,
    name: String,
}

impl ItemSource for ForwardedItems {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_item(&mut self) -> Option<Result<Vec<u8>>> {
        let answer = self
            .link
            .request_for(&self.name, "next", texts([self.id.clone()]));
        match answer {
            Ok(mut parts) => match parts.first().map(Vec::as_slice) {
                Some(b"item") if parts.len() == 2 => parts.pop().map(Ok),
                Some(b"end") => None,
                _ => Some(Err(Error::serialization(
                    "a stream's next item of no known kind",
                ))),
            },
            Err(err) => Some(Err(err)),
        }
    }

    fn stop(&mut self) {
        self.link.tell(&[b"qcancel", self.id.as_bytes()]);
    }
}

impl Drop for ForwardedActor {
    fn drop(&mut self) {
        self.link.tell(&[b"qfreeactor", self.id.as_bytes()]);
    }
}
