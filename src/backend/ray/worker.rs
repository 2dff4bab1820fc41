//! Worker mode: the program, started by a Ray worker's trampoline, serving
//! calls by name over the framed protocol (see [`protocol`](super::protocol)).
//!
//! The trampoline sets `RUSTYRAY_WORKER_SOCKET` to a Unix socket it listens
//! on; [`init`](crate::init) (and so `#[rustyray::main]`) finds it set,
//! connects, and serves instead of returning: each call runs in a local
//! runtime of the worker's own through the registry of functions by name,
//! its arguments and results encoded with the codec. The serving threads
//! take turns reading the socket ([`Link::next_request`]): the one reading
//! hands the answers to the program's own requests (a call using Ray) to
//! their callers, and serves the next request of the trampoline's itself,
//! while another reads on (see `Serving`). The process ends when the
//! trampoline's Ray worker does (the socket closes).
//!
//! A program that is a Ray worker itself (`host.rs`) serves its own
//! trampoline the same way over a socket pair ([`serve_in_process`]), and
//! takes its actor's calls as calls ([`direct`]), on the trampoline's
//! thread.

use std::collections::HashMap;
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

pub(crate) use super::link::{Frame, Home, Link};
use super::protocol::{read_value, write_value, Failure, WireValue};
use crate::error::Error;
use crate::object::crossing;
use crate::object::handoff::{self, Handle};
use crate::object::{Codec, ObjectRef, RuntimeId};
use crate::sync::{lock, wait_until};
use crate::task::id::parse_hex;
use crate::task::spec::FirstAttempt;
use crate::task::ObjectRefStream;

/// The refs to a call's results, each encoded.
pub(crate) type Submitted = Result<Vec<ObjectRef<Vec<u8>>>, Failure>;

/// The environment variable naming the trampoline's socket.
pub(crate) const SOCKET_VAR: &str = "RUSTYRAY_WORKER_SOCKET";

/// The environment variable naming the Ray node a worker runs on.
pub(crate) const NODE_VAR: &str = "RUSTYRAY_RAY_NODE_ID";

/// Set once this process serves: an `init` inside a served call starts
/// an ordinary runtime.
static SERVING: AtomicBool = AtomicBool::new(false);

/// What a worker runs: the registry's calls, provided by the API layer.
pub(crate) trait Dispatch {
    /// Submits attempt `attempt` of the remote function `function` on
    /// `args` (its argument tuple, encoded with `codec`, as its results
    /// will be), its returned `Vec` split into `split` objects if given.
    /// Ray does the retrying: the call runs once.
    fn call(
        &mut self,
        function: &str,
        codec: Codec,
        attempt: FirstAttempt,
        split: Option<usize>,
        args: &[u8],
    ) -> Submitted;
    /// Creates this worker's actor with its constructor `constructor`,
    /// running up to `max_concurrency` calls at once in its default group
    /// and up to each limit in its concurrency `groups`, named by Ray's
    /// hex id `ray_id` (if the trampoline knows it); `args` encoded with
    /// `codec`.
    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        actor: &str,
        constructor: &str,
        max_concurrency: usize,
        groups: Vec<(String, usize)>,
        ray_id: &str,
        codec: Codec,
        args: &[u8],
    ) -> Result<(), Failure>;
    /// Submits attempt `attempt` of a call of a method of this worker's
    /// actor (Ray does the retrying: the call runs once), its arguments and
    /// results encoded with `codec`.
    fn method(
        &mut self,
        method: &str,
        codec: Codec,
        attempt: FirstAttempt,
        args: &[u8],
    ) -> Submitted;
    /// Submits attempt `attempt` of the streaming generator `function`.
    fn stream(&mut self, function: &str, attempt: FirstAttempt, args: &[u8]) -> Started;
    /// Calls a streaming method of this worker's actor.
    fn method_stream(&mut self, method: &str, args: &[u8]) -> Started;
    /// Whether a call of this worker's actor called `exit_actor()` (asked
    /// once a call's results are in); `None` before the actor exists.
    fn exit_probe(&self) -> Option<ExitProbe>;
}

/// Whether an actor called `exit_actor()`.
pub(crate) type ExitProbe = Arc<dyn Fn() -> bool + Send + Sync>;

/// A streaming generator's items, each encoded.
pub(crate) type Started = Result<ObjectRefStream<Vec<u8>>, Failure>;

/// The streams being read, by key: the request id that started each (the
/// empty key for the one of a worker serving one call at a time).
type Streams = Arc<Mutex<HashMap<Vec<u8>, Arc<Mutex<ObjectRefStream<Vec<u8>>>>>>>;

/// What a stream's `next` answers.
enum Next {
    Item(Vec<u8>),
    End,
    Failed(Failure),
}

/// The runtime this process serves its Ray worker's calls in, and its link
/// to the trampoline.
static SERVED: OnceLock<(RuntimeId, Arc<Link>)> = OnceLock::new();

/// The link to Ray of a call running in `runtime`, when this process serves
/// a Ray worker's calls there: what a task (or an actor call) running here
/// submits goes to Ray, as a task of the Ray worker, not to this process's
/// own runtime (the calls the worker serves are submitted from outside any
/// task, and run here).
pub(crate) fn nested(runtime: RuntimeId) -> Option<Arc<Link>> {
    let (served, link) = SERVED.get()?;
    (*served == runtime && crate::task::context::is_running()).then(|| Arc::clone(link))
}

/// The trampoline's socket, when this process was started in worker mode
/// and does not serve yet.
pub(crate) fn asked() -> Option<String> {
    let path = std::env::var(SOCKET_VAR).ok()?;
    (!SERVING.swap(true, Ordering::AcqRel)).then_some(path)
}

/// How an error is reported to the driver.
pub(crate) fn failure(err: &Error) -> Failure {
    match err {
        Error::TaskFailed { task, message, .. } => Failure {
            kind: "task_failed",
            task: task.clone(),
            message: message.clone(),
        },
        Error::ActorDied { actor, cause } => Failure {
            kind: "actor_died",
            task: actor.clone(),
            message: cause.clone(),
        },
        Error::Cancelled { task } => Failure {
            kind: "cancelled",
            task: task.clone(),
            message: err.to_string(),
        },
        other => Failure {
            kind: "task_failed",
            task: String::new(),
            message: other.to_string(),
        },
    }
}

/// Connects to the trampoline at `path` and serves its calls until it goes
/// away; then ends the process.
pub(crate) fn serve(path: &str, dispatch: &mut (dyn Dispatch + Send), home: Home) -> ! {
    crossing::results_cross();
    let code = match UnixStream::connect(path) {
        Ok(stream) => serve_stream(stream, dispatch, home),
        Err(err) => {
            eprintln!("rustyray worker: cannot connect to the Ray trampoline at {path}: {err}");
            1
        }
    };
    std::process::exit(code)
}

/// This process's serving, when it is a Ray worker itself (see
/// [`serve_in_process`]): what [`direct`] calls run in.
static IN_PROCESS: OnceLock<&'static Serving<'static>> = OnceLock::new();

/// Serves the trampoline of the Ray worker this process is (the program
/// binary started by Ray as its worker: see `host.rs`) over `stream`, one
/// end of a socket pair whose other end the trampoline holds, as
/// [`serve`] serves a trampoline in another process; and keeps the serving
/// for the trampoline's [`direct`] calls. Returns when the trampoline's end
/// closes.
pub(crate) fn serve_in_process(
    stream: UnixStream,
    dispatch: &'static mut (dyn Dispatch + Send),
    home: Home,
) -> std::io::Result<()> {
    crossing::results_cross();
    let runtime = home.runtime;
    let (link, reader) = Link::start(stream, home)?;
    let _ = SERVED.set((runtime, Arc::clone(&link)));
    let serving: &'static Serving<'static> =
        Box::leak(Box::new(Serving::new(link, reader, dispatch)));
    if IN_PROCESS.set(serving).is_err() {
        return Err(std::io::Error::other(
            "this process serves its trampoline already",
        ));
    }
    std::thread::scope(|scope| serving.lead(scope));
    Ok(())
}

/// Serves a call of the actor this process holds (a `method` request
/// without refs inside its arguments) on the calling thread, the
/// trampoline's own, and returns the reply's frame: no other thread, no
/// socket on the way (see [`serve_in_process`]).
pub(crate) fn direct(parts: &[Vec<u8>]) -> std::io::Result<Vec<Vec<u8>>> {
    let serving = IN_PROCESS
        .get()
        .ok_or_else(|| std::io::Error::other("this process serves no trampoline"))?;
    serving.serve_direct(parts)
}

fn serve_stream(stream: UnixStream, dispatch: &mut (dyn Dispatch + Send), home: Home) -> i32 {
    let runtime = home.runtime;
    let (link, reader) = match Link::start(stream, home) {
        Ok(started) => started,
        Err(err) => {
            eprintln!("rustyray worker: {err}");
            return 1;
        }
    };
    let _ = SERVED.set((runtime, Arc::clone(&link)));
    let serving = Serving::new(link, reader, dispatch);
    // Until the trampoline goes away: then every serving thread ends.
    std::thread::scope(|scope| serving.lead(scope));
    0
}

/// The serving threads, as leader and followers: one at a time reads the
/// socket (holding `reading`), until it reads a request of the
/// trampoline's; it then leaves reading to a follower (started if none
/// waits) and serves the request itself. So a call runs on the thread
/// that read it, and its reply is written there: no hand-over between
/// threads on the way (each would cost a wake-up), while the socket is
/// always read, for the answers a running call may wait for.
///
/// Requests are served one at a time, in the order they were read (a
/// concurrent actor's calls are only submitted in turn, and answered by
/// threads of their own).
struct Serving<'a> {
    link: Arc<Link>,
    reading: Mutex<Reading>,
    /// Threads waiting to read (for `reading`).
    waiting_to_read: AtomicUsize,
    turn: Mutex<Turn<'a>>,
    /// Notified when a request has been served.
    turned: Condvar,
    streams: Streams,
}

/// The socket's reading end, and how many requests were read from it.
struct Reading {
    reader: BufReader<UnixStream>,
    issued: u64,
}

/// What serving a request changes, and how many were served.
struct Turn<'a> {
    dispatch: &'a mut (dyn Dispatch + Send),
    exiting: Option<ExitProbe>,
    served: u64,
}

impl<'a> Serving<'a> {
    fn new(
        link: Arc<Link>,
        reader: BufReader<UnixStream>,
        dispatch: &'a mut (dyn Dispatch + Send),
    ) -> Serving<'a> {
        Serving {
            link,
            reading: Mutex::new(Reading { reader, issued: 0 }),
            waiting_to_read: AtomicUsize::new(0),
            turn: Mutex::new(Turn {
                dispatch,
                exiting: None,
                served: 0,
            }),
            turned: Condvar::new(),
            streams: Streams::default(),
        }
    }

    /// Serves a `method` request on this thread (see [`direct`]).
    fn serve_direct(&self, parts: &[Vec<u8>]) -> std::io::Result<Vec<Vec<u8>>> {
        let _entered = self.link.enter();
        let mut turn = lock(&self.turn);
        let Turn {
            dispatch, exiting, ..
        } = &mut *turn;
        let kind = parts.first().map(Vec::as_slice).unwrap_or_default();
        if kind != b"method" {
            return Err(std::io::Error::other("a direct request is a `method` call"));
        }
        let submitted = handle(kind, Codec::Postcard, &parts[1..], &mut **dispatch);
        let reply = submitted
            .as_ref()
            .map_err(Failure::clone)
            .and_then(|refs| results(&self.link, refs));
        let exited = exiting.as_ref().is_some_and(|exiting| exiting());
        let frame = reply_frame(None, &reply, exited)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        drop(turn);
        // The results (and what they hold) stay until the reply is out.
        drop(submitted);
        Ok(frame)
    }

    /// Reads and serves requests until the socket closes.
    fn lead<'s>(&'s self, scope: &'s std::thread::Scope<'s, '_>) {
        loop {
            self.waiting_to_read.fetch_add(1, Ordering::AcqRel);
            let mut reading = lock(&self.reading);
            self.waiting_to_read.fetch_sub(1, Ordering::AcqRel);
            let Some(request) = self.link.next_request(&mut reading.reader) else {
                return;
            };
            // The objects its arguments name are known here before the
            // next frame is read: it may say one is complete.
            let request = take_inside(&self.link, request);
            let ticket = reading.issued;
            reading.issued += 1;
            if self.waiting_to_read.load(Ordering::Acquire) == 0 {
                let follower = std::thread::Builder::new()
                    .name("rustyray-ray-serve".into())
                    .spawn_scoped(scope, move || {
                        let _entered = self.link.enter();
                        self.lead(scope);
                    });
                if let Err(err) = follower {
                    eprintln!("rustyray worker: no thread to read the socket: {err}");
                    std::process::exit(1);
                }
            }
            drop(reading);
            self.serve(ticket, request);
        }
    }

    /// Serves request number `ticket` once those before it are served.
    fn serve(&self, ticket: u64, request: std::io::Result<(Frame, Inside)>) {
        let mut turn = lock(&self.turn);
        while turn.served != ticket {
            turn = wait_until(&self.turned, turn, None);
        }
        let Turn {
            dispatch, exiting, ..
        } = &mut *turn;
        let served = request.and_then(|(parts, inside)| {
            handoff::with_handles(&inside, || {
                serve_request(&parts, &mut **dispatch, &self.link, &self.streams, exiting)
            })
        });
        turn.served += 1;
        drop(turn);
        self.turned.notify_all();
        if let Err(err) = served {
            eprintln!("rustyray worker: {err}");
            std::process::exit(1);
        }
    }
}

/// Serves one request, its arguments decoded here (inside
/// `handoff::with_handles` what their refs and handles name here).
fn serve_request(
    parts: &[Vec<u8>],
    dispatch: &mut dyn Dispatch,
    link: &Arc<Link>,
    streams: &Streams,
    exiting: &mut Option<ExitProbe>,
) -> std::io::Result<()> {
    let kind = parts.first().map(Vec::as_slice).unwrap_or_default();
    if let Some(outcome) = serve_streams(kind, parts, dispatch, link, streams) {
        return outcome;
    }
    let (kind, codec) = unmarked(kind);
    if kind == b"cmethod" {
        // A call of an actor with `max_concurrency` above 1: submitted
        // here, in the order received, and answered (under its id) by a
        // thread of its own when done, so later calls run meanwhile.
        let id = parts.get(1).cloned().unwrap_or_default();
        let submitted = handle(kind, codec, parts.get(2..).unwrap_or_default(), dispatch);
        let link = Arc::clone(link);
        let exiting = exiting.clone();
        let answer = move || {
            let reply = submitted.as_ref().map_err(Failure::clone);
            let reply = reply.and_then(|refs| results(&link, refs));
            let exited = exiting.is_some_and(|exiting| exiting());
            if let Err(err) = write_call_reply(&link, Some(&id), &reply, exited) {
                eprintln!("rustyray worker: {err}");
                std::process::exit(1);
            }
            // Only now may what the results hold go (and the trampoline be
            // told it may free it): the reply names it.
            drop(submitted);
        };
        return std::thread::Builder::new()
            .name("rustyray-ray-call".into())
            .spawn(answer)
            .map(drop);
    }
    let submitted = handle(kind, codec, parts.get(1..).unwrap_or_default(), dispatch);
    let reply = submitted
        .as_ref()
        .map_err(Failure::clone)
        .and_then(|refs| results(link, refs));
    if kind == b"create" {
        *exiting = dispatch.exit_probe();
    }
    let exited = kind == b"method" && exiting.as_ref().is_some_and(|exiting| exiting());
    // The results (and what they hold) stay until the reply that names
    // them is written.
    write_call_reply(link, None, &reply, exited)
}

/// What a request's arguments name, in this process.
type Inside = Vec<Handle>;

/// A request without the part that carries the objects its arguments'
/// refs name (an `r`-marked request's: see [`protocol`](super::protocol)),
/// and cells of those objects in this process's runtime.
fn take_inside(
    link: &Arc<Link>,
    mut parts: Vec<Vec<u8>>,
) -> std::io::Result<(Vec<Vec<u8>>, Inside)> {
    let kind = parts.first().map(Vec::as_slice).unwrap_or_default();
    let at = match kind {
        b"rcall" | b"rcreate" | b"rmethod" | b"rstream" => 1,
        b"rcmethod" | b"rcsmethod" => 2,
        _ => return Ok((parts, Vec::new())),
    };
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    if parts.len() <= at {
        return Err(broken(
            "RustyRay worker protocol: a request without its refs",
        ));
    }
    let inside = read_value(&parts.remove(at))?;
    parts[0].remove(0);
    Ok((parts, link.inside(inside.inside)))
}

/// Serves a request about streams, if `kind` is one: `stream` starts one
/// (answered `ok`), `next` takes its next item (answered `item`, `end` or
/// `err`); `csmethod` and `cnext` do the same for a streaming method,
/// under a request id, each `cnext` on a thread of its own; `sdrop`
/// forgets a stream read no more. `None` for other requests.
fn serve_streams(
    kind: &[u8],
    parts: &[Vec<u8>],
    dispatch: &mut dyn Dispatch,
    link: &Arc<Link>,
    streams: &Streams,
) -> Option<std::io::Result<()>> {
    let request = Parts(parts);
    let id = parts.get(1).cloned().unwrap_or_default();
    let start = |started: Started, key: &[u8]| {
        started.map(|stream| {
            lock(&**streams).insert(key.to_vec(), Arc::new(Mutex::new(stream)));
        })
    };
    Some(match kind {
        b"stream" => {
            let started = dispatch.stream(&request.text(1), request.attempt(2), &request.args(3));
            write_reply(link, None, start(started, b"").map(|()| Vec::new()))
        }
        b"next" => write_next(link, None, &next_item(streams, b"")),
        b"csmethod" => {
            let started = dispatch.method_stream(&request.text(2), &request.args(3));
            write_reply(
                link,
                Some(&id),
                start(started, &id).map(|()| vec![id.clone()]),
            )
        }
        b"sdrop" => {
            // Nobody reads the stream any more (its Ray generator was
            // closed): dropping it stops its producer. No answer.
            lock(&**streams).remove(&id);
            Ok(())
        }
        b"cnext" => {
            let (link, streams) = (Arc::clone(link), Arc::clone(streams));
            let key = parts.get(2).cloned().unwrap_or_default();
            let answer = move || {
                if let Err(err) = write_next(&link, Some(&id), &next_item(&streams, &key)) {
                    eprintln!("rustyray worker: {err}");
                    std::process::exit(1);
                }
            };
            std::thread::Builder::new()
                .name("rustyray-ray-next".into())
                .spawn(answer)
                .map(drop)
        }
        _ => return None,
    })
}

/// The next item of the stream under `key`, waiting for it; a stream that
/// ended (or failed) is forgotten.
fn next_item(streams: &Streams, key: &[u8]) -> Next {
    let Some(stream) = lock(&**streams).get(key).cloned() else {
        return Next::Failed(Failure {
            kind: "task_failed",
            task: String::new(),
            message: "RustyRay worker protocol: `next` of no stream".into(),
        });
    };
    let next = lock(&*stream).next();
    let next = match next {
        Some(Ok(item)) => match item.get() {
            Ok(bytes) => return Next::Item(bytes),
            Err(err) => Next::Failed(failure(&err)),
        },
        Some(Err(err)) => Next::Failed(failure(&err)),
        None => Next::End,
    };
    lock(&**streams).remove(key);
    next
}

fn write_next(link: &Link, id: Option<&[u8]>, next: &Next) -> std::io::Result<()> {
    match next {
        Next::Item(bytes) => {
            let mut frame: Vec<&[u8]> = vec![b"item"];
            frame.extend(id);
            frame.push(bytes);
            link.write(&frame)
        }
        Next::End => {
            let mut frame: Vec<&[u8]> = vec![b"end"];
            frame.extend(id);
            link.write(&frame)
        }
        Next::Failed(failure) => write_reply(link, id, Err(failure.clone())),
    }
}

/// Every result of a call, once complete: its bytes, or, if refs are
/// inside any, each result as a value with the objects they name
/// (`crossed`, see [`write_value`]).
fn results(link: &Link, refs: &[ObjectRef<Vec<u8>>]) -> Result<Results, Failure> {
    let exported = refs
        .iter()
        .map(|r| match link.export_result(&r.cell) {
            Some(exported) => exported,
            None => r.get().map(|bytes| WireValue {
                bytes,
                inside: Vec::new(),
            }),
        })
        .collect::<Result<Vec<_>, Error>>()
        .map_err(|err| failure(&err))?;
    let crossed = exported.iter().any(|value| !value.inside.is_empty());
    let parts = exported
        .into_iter()
        .map(|value| {
            if !crossed {
                return value.bytes;
            }
            let mut part = Vec::new();
            write_value(&mut part, &value);
            part
        })
        .collect();
    Ok(Results { parts, crossed })
}

/// A call's results as the reply carries them.
#[derive(Default)]
struct Results {
    parts: Vec<Vec<u8>>,
    /// Whether each part is a value with the objects its refs name.
    crossed: bool,
}

fn write_reply(
    link: &Link,
    id: Option<&[u8]>,
    reply: Result<Vec<Vec<u8>>, Failure>,
) -> std::io::Result<()> {
    let reply = reply.map(|parts| Results {
        parts,
        crossed: false,
    });
    write_call_reply(link, id, &reply, false)
}

/// A reply: `ok` with the results, `exit` with them when the call's actor
/// called `exit_actor()` (`exited`: its Ray actor is to end after it), or
/// `err` with the failure (`okv` and `exitv` for results written as values
/// with the objects their refs name).
fn write_call_reply(
    link: &Link,
    id: Option<&[u8]>,
    reply: &Result<Results, Failure>,
    exited: bool,
) -> std::io::Result<()> {
    link.write(&reply_frame(id, reply, exited))
}

/// The frame [`write_call_reply`] writes.
fn reply_frame<'r>(
    id: Option<&'r [u8]>,
    reply: &'r Result<Results, Failure>,
    exited: bool,
) -> Vec<&'r [u8]> {
    let mut frame: Vec<&[u8]> = Vec::new();
    match reply {
        Ok(results) => {
            frame.push(match (exited, results.crossed) {
                (false, false) => b"ok",
                (true, false) => b"exit",
                (false, true) => b"okv",
                (true, true) => b"exitv",
            });
            frame.extend(id);
            frame.extend(results.parts.iter().map(Vec::as_slice));
        }
        Err(f) => {
            frame.push(b"err");
            frame.extend(id);
            frame.extend([f.kind.as_bytes(), f.task.as_bytes(), f.message.as_bytes()]);
        }
    }
    frame
}

/// A request's kind without the mark of a Python program's request
/// (`mcall`, `mcreate`, `mmethod`: arguments and results in MessagePack),
/// and the codec it asks for.
fn unmarked(kind: &[u8]) -> (&[u8], Codec) {
    match kind {
        b"mcall" => (b"call", Codec::MessagePack),
        b"mcreate" => (b"create", Codec::MessagePack),
        b"mmethod" => (b"method", Codec::MessagePack),
        other => (other, Codec::Postcard),
    }
}

/// Submits the request `kind` (`call`, `create`, `method`, `cmethod`) with
/// the rest of its parts `rest`, its arguments and results in `codec`.
fn handle(kind: &[u8], codec: Codec, rest: &[Vec<u8>], dispatch: &mut dyn Dispatch) -> Submitted {
    let request = Parts(rest);
    match kind {
        b"call" => dispatch.call(
            &request.text(0),
            codec,
            request.attempt(1),
            request.text(2).parse().ok(),
            &request.args(3),
        ),
        b"create" => {
            let max_concurrency = request.text(2).parse().unwrap_or(1);
            dispatch
                .create(
                    &request.text(0),
                    &request.text(1),
                    max_concurrency,
                    parse_groups(&request.text(3)),
                    &request.text(4),
                    codec,
                    &request.args(5),
                )
                .map(|()| Vec::new())
        }
        b"method" | b"cmethod" => dispatch.method(
            &request.text(0),
            codec,
            request.attempt(1),
            &request.args(2),
        ),
        other => Err(Failure {
            kind: "task_failed",
            task: String::new(),
            message: format!(
                "RustyRay worker protocol: unknown message {:?}",
                String::from_utf8_lossy(other)
            ),
        }),
    }
}

/// A request's parts, read by position.
struct Parts<'a>(&'a [Vec<u8>]);

impl Parts<'_> {
    /// Part `i` as text (empty if missing).
    fn text(&self, i: usize) -> String {
        self.0
            .get(i)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    }

    /// Part `i` as an attempt: Ray's number of it, then `/` and Ray's hex
    /// task id if known (`2/00ab…`).
    fn attempt(&self, i: usize) -> FirstAttempt {
        let text = self.text(i);
        let (number, task) = text.split_once('/').unwrap_or((&text, ""));
        FirstAttempt {
            number: number.parse().unwrap_or(0),
            ray_task: parse_hex(task),
        }
    }

    /// The encoded arguments from part `from` on, as one tuple: a tuple's
    /// encoding is its elements' encodings, in order, so the arguments,
    /// each encoded on its own, concatenate into it.
    fn args(&self, from: usize) -> Vec<u8> {
        self.0.get(from..).unwrap_or_default().concat()
    }
}

/// Concurrency groups as the `create` message lists them: `io=2,cpu=1`.
fn parse_groups(text: &str) -> Vec<(String, usize)> {
    text.split(',')
        .filter_map(|group| {
            let (name, limit) = group.split_once('=')?;
            Some((name.to_string(), limit.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_groups;
    #[test]
    fn concurrency_groups_parse_as_the_trampoline_lists_them() {
        assert_eq!(parse_groups(""), Vec::<(String, usize)>::new());
        assert_eq!(
            parse_groups("cpu=1,io=2"),
            vec![("cpu".to_string(), 1), ("io".to_string(), 2)]
        );
    }
}
