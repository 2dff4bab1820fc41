//! The program as a Ray worker itself: Ray starts the program's binary
//! where it would start Python (`runtime_env`'s `py_executable`), and the
//! binary runs Ray's worker in the interpreter it embeds, so a trampoline
//! calls the program's code in its own process.
//!
//! Ray execs its `py_executable` with the worker's arguments appended; a
//! program (a libtest harness, a `clap` parser) may refuse arguments it
//! does not know, so the `py_executable` the driver gives
//! (`_host_env` in `bridge.py`) is a shell that moves Ray's arguments
//! into [`ARGV_VAR`] and execs the program with the same arguments as a
//! worker-mode child gets. [`init`](crate::init) finds the variable set
//! and calls [`run`]: the interpreter becomes the virtualenv's (its
//! `sys.executable`, its site directories), gets the module
//! `_rustyray_host`, and runs Ray's `default_worker.py` as `__main__`
//! until Ray ends the worker.
//!
//! `_rustyray_host.connect(node_id)` starts serving the trampoline in this
//! process over a socket pair (the protocol a worker-mode child speaks),
//! and `_rustyray_host.method(parts)` runs an actor's call on the calling
//! thread, the trampoline's, with the interpreter released: no other
//! process and no other thread on the way of a call, which costs a
//! cross-process round trip (two wake-ups on a busy machine) otherwise.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCFunction, PyDict, PyTuple};

use super::worker;

/// The environment variable holding Ray's arguments for its worker, one
/// per line, when Ray started this process as one.
pub(crate) const ARGV_VAR: &str = "RUSTYRAY_RAY_HOST_ARGV";

/// The virtualenv's `python` (what `sys.executable` says in the worker).
const PYTHON_VAR: &str = "RUSTYRAY_RAY_HOST_PYTHON";

/// The virtualenv's site directories, one per line.
const SITE_VAR: &str = "RUSTYRAY_RAY_HOST_SITE";

/// Set once this process runs Ray's worker: an `init` inside a served call
/// starts an ordinary runtime.
static HOSTING: AtomicBool = AtomicBool::new(false);

/// The Ray node this worker runs on, once its trampoline connected.
static NODE: OnceLock<String> = OnceLock::new();

/// What serves the trampoline in this process, given this end of the
/// socket pair: returns when the trampoline's end closes.
pub(crate) type Serve = fn(UnixStream);

/// Ray's arguments for its worker, when Ray started this process as one
/// and it does not run it yet.
pub(crate) fn asked() -> Option<Vec<String>> {
    let argv = std::env::var(ARGV_VAR).ok()?;
    (!HOSTING.swap(true, Ordering::AcqRel)).then(|| argv.lines().map(str::to_string).collect())
}

/// The Ray node this process runs on, when it is a Ray worker.
pub(crate) fn node() -> Option<&'static str> {
    NODE.get().map(String::as_str)
}

/// Runs Ray's worker (`argv[0]` is its `default_worker.py`) in the
/// embedded interpreter until Ray ends it; then ends the process.
pub(crate) fn run(argv: Vec<String>, serve: Serve) -> ! {
    let code = Python::attach(|py| match run_worker(py, &argv, serve) {
        Ok(()) => 0,
        Err(err) if err.is_instance_of::<PySystemExit>(py) => {
            let code = err.value(py).getattr("code").ok();
            match code {
                Some(code) if code.is_none() => 0,
                Some(code) => code.extract::<i32>().unwrap_or(1),
                None => 1,
            }
        }
        Err(err) => {
            err.print(py);
            1
        }
    });
    std::process::exit(code)
}

fn run_worker(py: Python<'_>, argv: &[String], serve: Serve) -> PyResult<()> {
    let sys = py.import("sys")?;
    if let Ok(python) = std::env::var(PYTHON_VAR) {
        sys.setattr("executable", python)?;
    }
    sys.setattr("argv", argv.to_vec())?;
    let site = py.import("site")?;
    for dir in std::env::var(SITE_VAR).unwrap_or_default().lines() {
        site.call_method1("addsitedir", (dir,))?;
    }
    let module = PyModule::new(py, "_rustyray_host")?;
    module.add("connect", connect_function(py, serve)?)?;
    module.add("method", method_function(py)?)?;
    sys.getattr("modules")?.set_item("_rustyray_host", module)?;
    let script = argv.first().cloned().unwrap_or_default();
    let kwargs = PyDict::new(py);
    kwargs.set_item("run_name", "__main__")?;
    py.import("runpy")?
        .getattr("run_path")?
        .call((script,), Some(&kwargs))?;
    Ok(())
}

/// `_rustyray_host.connect(node_id)`: starts serving the trampoline on a
/// thread of its own; returns the trampoline's end of the socket pair.
fn connect_function(py: Python<'_>, serve: Serve) -> PyResult<Bound<'_, PyCFunction>> {
    PyCFunction::new_closure(
        py,
        Some(c"connect"),
        None,
        move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| -> PyResult<i32> {
            let node: String = args.get_item(0)?.extract()?;
            let _ = NODE.set(node);
            let (ours, theirs) = UnixStream::pair()?;
            std::thread::Builder::new()
                .name("rustyray-ray-host".into())
                .spawn(move || serve(ours))?;
            Ok(OwnedFd::from(theirs).into_raw_fd())
        },
    )
}

/// `_rustyray_host.method(parts)`: the reply to a `method` request, served
/// on this thread (see [`worker::direct`]).
fn method_function(py: Python<'_>) -> PyResult<Bound<'_, PyCFunction>> {
    PyCFunction::new_closure(
        py,
        Some(c"method"),
        None,
        |args: &Bound<'_, PyTuple>,
         _kwargs: Option<&Bound<'_, PyDict>>|
         -> PyResult<Vec<Py<PyBytes>>> {
            let py = args.py();
            let parts: Vec<Vec<u8>> = args.get_item(0)?.extract()?;
            let frame = py.detach(|| worker::direct(&parts))?;
            Ok(frame
                .iter()
                .map(|part| PyBytes::new(py, part).unbind())
                .collect())
        },
    )
}
