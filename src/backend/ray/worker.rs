//! Worker mode: the program, started by a Ray worker's trampoline, serving
//! calls by name over the framed protocol (see [`protocol`](super::protocol)).
//!
//! The trampoline sets `RUSTYRAY_WORKER_SOCKET` to a Unix socket it listens
//! on; [`init`](crate::init) (and so `#[rustyray::main]`) finds it set,
//! connects, and serves instead of returning: each call runs in a local
//! runtime of the worker's own through the registry of functions by name,
//! its arguments and results encoded with the codec. The process ends when
//! the trampoline's Ray worker does (the socket closes).

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

use super::protocol::{read_frame, write_frame, Failure};
use crate::error::Error;

/// The environment variable naming the trampoline's socket.
pub(crate) const SOCKET_VAR: &str = "RUSTYRAY_WORKER_SOCKET";

/// The environment variable naming the Ray node a worker runs on.
pub(crate) const NODE_VAR: &str = "RUSTYRAY_RAY_NODE_ID";

/// Set once this process serves: an `init` inside a served call starts
/// an ordinary runtime.
static SERVING: AtomicBool = AtomicBool::new(false);

/// What a worker runs: the registry's calls, provided by the API layer.
pub(crate) trait Dispatch {
    /// Runs the remote function `function` on `args` (its argument tuple,
    /// encoded); its results, encoded.
    fn call(&mut self, function: &str, args: &[u8]) -> Result<Vec<Vec<u8>>, Failure>;
    /// Creates this worker's actor with its constructor `constructor`.
    fn create(&mut self, actor: &str, constructor: &str, args: &[u8]) -> Result<(), Failure>;
    /// Calls a method of this worker's actor.
    fn method(&mut self, method: &str, args: &[u8]) -> Result<Vec<Vec<u8>>, Failure>;
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
pub(crate) fn serve(path: &str, dispatch: &mut dyn Dispatch) -> ! {
    let code = match UnixStream::connect(path) {
        Ok(stream) => serve_stream(stream, dispatch),
        Err(err) => {
            eprintln!("rustyray worker: cannot connect to the Ray trampoline at {path}: {err}");
            1
        }
    };
    std::process::exit(code)
}

fn serve_stream(stream: UnixStream, dispatch: &mut dyn Dispatch) -> i32 {
    let mut reader = match stream.try_clone() {
        Ok(reader) => std::io::BufReader::new(reader),
        Err(err) => {
            eprintln!("rustyray worker: {err}");
            return 1;
        }
    };
    let mut writer = stream;
    loop {
        let parts = match read_frame(&mut reader) {
            Ok(Some(parts)) => parts,
            Ok(None) => return 0,
            Err(err) => {
                eprintln!("rustyray worker: {err}");
                return 1;
            }
        };
        let reply = handle(&parts, dispatch);
        let written = match &reply {
            Ok(results) => {
                let mut frame: Vec<&[u8]> = vec![b"ok"];
                frame.extend(results.iter().map(Vec::as_slice));
                write_frame(&mut writer, &frame)
            }
            Err(f) => write_frame(
                &mut writer,
                &[
                    b"err",
                    f.kind.as_bytes(),
                    f.task.as_bytes(),
                    f.message.as_bytes(),
                ],
            ),
        };
        if let Err(err) = written {
            eprintln!("rustyray worker: {err}");
            return 1;
        }
    }
}

fn handle(parts: &[Vec<u8>], dispatch: &mut dyn Dispatch) -> Result<Vec<Vec<u8>>, Failure> {
    let text = |i: usize| {
        parts
            .get(i)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    };
    // A tuple's encoding is its elements' encodings, in order: the
    // arguments, each encoded on its own, concatenate into it.
    let args = |from: usize| parts.get(from..).unwrap_or_default().concat();
    match text(0).as_str() {
        "call" => dispatch.call(&text(1), &args(2)),
        "create" => dispatch
            .create(&text(1), &text(2), &args(3))
            .map(|()| Vec::new()),
        "method" => dispatch.method(&text(1), &args(2)),
        other => Err(Failure {
            kind: "task_failed",
            task: String::new(),
            message: format!("RustyRay worker protocol: unknown message {other:?}"),
        }),
    }
}
