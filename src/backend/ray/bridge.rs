//! The process's one connection to Ray: a thread that owns the embedded
//! Python interpreter, `ray.init` and `ray.shutdown`.
//!
//! Ray requires `ray.init` on the thread that initialized the interpreter
//! (its signal handlers), and allows one connection per process: so the
//! first runtime configured with [`Config::ray`](crate::Config::ray) starts
//! this thread, which initializes Python, imports Ray from the virtualenv
//! and connects; later runtimes share the connection; when the last one
//! shuts down the thread calls `ray.shutdown` (a process that exits while
//! connected crashes in Ray's core worker). Every other Python call (submit,
//! put, cancel) attaches to the interpreter from the caller's own thread,
//! through [`attach`], which has the thread keep its Python thread state
//! (see [`keep_thread_state`]).

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{Error, Result};
use crate::sync::lock;

/// The Ray version this build speaks.
pub(crate) const RAY_VERSION: &str = "2.60.0";

/// How long connecting may take (`"local"` starts a cluster).
const INIT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long `ray.shutdown` may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// A live connection: the bridge module's namespace and the driver's node.
pub(crate) struct Bridge {
    pub(crate) ns: Py<PyDict>,
    pub(crate) node_id: String,
    pub(crate) address: String,
}

enum Command {
    Init(String, Sender<Result<Arc<Bridge>>>),
    Shutdown(Sender<()>),
}

#[derive(Default)]
struct Shared {
    thread: Option<Sender<Command>>,
    users: usize,
    bridge: Option<Arc<Bridge>>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    thread: None,
    users: 0,
    bridge: None,
});

fn invalid(reason: String) -> Error {
    Error::InvalidConfig {
        field: "ray",
        reason,
    }
}

/// The connection to `address`, made now unless another runtime holds it.
pub(crate) fn connect(address: &str) -> Result<Arc<Bridge>> {
    let mut shared = lock(&SHARED);
    if let Some(bridge) = &shared.bridge {
        if bridge.address != address {
            return Err(invalid(format!(
                "= {address:?}: this process is connected to the Ray cluster {:?} (one Ray \
                 connection per process, shared by its runtimes)",
                bridge.address
            )));
        }
        let bridge = Arc::clone(bridge);
        shared.users += 1;
        return Ok(bridge);
    }
    let thread = match &shared.thread {
        Some(thread) => thread.clone(),
        None => {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("rustyray-ray".into())
                .spawn(move || run(rx))
                .map_err(|err| invalid(format!("its thread could not start: {err}")))?;
            shared.thread = Some(tx.clone());
            tx
        }
    };
    let (reply, answer) = mpsc::channel();
    let gone = || invalid("the Ray bridge thread is gone".into());
    thread
        .send(Command::Init(address.to_string(), reply))
        .map_err(|_| gone())?;
    let bridge = answer.recv_timeout(INIT_TIMEOUT).map_err(|_| {
        invalid(format!(
            "= {address:?}: connecting to Ray took more than {INIT_TIMEOUT:?}"
        ))
    })??;
    shared.users = 1;
    shared.bridge = Some(Arc::clone(&bridge));
    Ok(bridge)
}

/// A runtime is done with the connection; the last one closes it.
pub(crate) fn release() {
    let mut shared = lock(&SHARED);
    shared.users = shared.users.saturating_sub(1);
    if shared.users > 0 || shared.bridge.is_none() {
        return;
    }
    shared.bridge = None;
    if let Some(thread) = &shared.thread {
        let (reply, answer) = mpsc::channel();
        if thread.send(Command::Shutdown(reply)).is_ok()
            && answer.recv_timeout(SHUTDOWN_TIMEOUT).is_err()
        {
            tracing::error!("ray.shutdown did not finish within {SHUTDOWN_TIMEOUT:?}");
        }
    }
}

/// The node this process runs on, while connected.
pub(crate) fn node_id() -> Option<String> {
    lock(&SHARED).bridge.as_ref().map(|b| b.node_id.clone())
}

/// The bridge thread: initializes Python, then connects and disconnects as
/// asked.
fn run(commands: Receiver<Command>) {
    let setup = Python::attach(|py| setup(py).map(|ns| ns.unbind()));
    for command in commands {
        match command {
            Command::Init(address, reply) => {
                let result = match &setup {
                    Ok(ns) => Python::attach(|py| {
                        let ns = ns.bind(py);
                        let node_id: String = call(ns, "init", (address.as_str(), "rustyray"))
                            .and_then(|id| id.extract().map_err(|e| py_error("ray.init", e)))?;
                        Ok(Arc::new(Bridge {
                            ns: ns.clone().unbind(),
                            node_id,
                            address,
                        }))
                    }),
                    Err(err) => Err(err.clone()),
                };
                let _ = reply.send(result);
            }
            Command::Shutdown(reply) => {
                if let Ok(ns) = &setup {
                    Python::attach(|py| {
                        if let Err(err) = call(ns.bind(py), "shutdown", ()) {
                            tracing::error!("{err}");
                        }
                    });
                }
                let _ = reply.send(());
            }
        }
    }
}

/// Runs `f` attached to the interpreter, as `Python::attach` does, on a
/// thread that keeps its Python thread state until it ends (see
/// [`keep_thread_state`]).
pub(crate) fn attach<F, R>(f: F) -> R
where
    F: for<'py> FnOnce(Python<'py>) -> R,
{
    Python::attach(|py| {
        keep_thread_state(py, Until::ThreadEnds);
        f(py)
    })
}

/// How long a thread keeps its Python thread state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Until it ends: any thread but Ray's own (if Python deletes the
    /// state first, as it does for a thread it started, nothing is given
    /// back).
    ThreadEnds,
    /// For good: a thread of Ray's, which ends while Ray shuts down, maybe
    /// while the thread shutting Ray down holds the interpreter, where
    /// giving the state back would wait for it.
    Forever,
}

/// What a thread keeps: nothing yet, its state for good, or its state
/// until it ends, with a weak reference to an object only that state holds
/// (in a `threading.local`), which tells at the thread's end whether the
/// state is still there.
enum Keeping {
    Nothing,
    Forever,
    UntilThreadEnds(Py<PyAny>),
}

/// The calling thread's [`Keeping`].
struct Kept(std::cell::RefCell<Keeping>);

impl Drop for Kept {
    /// The thread ends: it gives back the attachment it kept, so that its
    /// last detachment deletes its thread state. (The state `0` it gives
    /// back is `PyGILState_LOCKED`, what its `PyGILState_Ensure` returned:
    /// it held the interpreter then.) If Python deleted the state already
    /// (a thread Python started ends so, whatever is outstanding), this
    /// attachment made a new one that its own end deletes, and giving back
    /// another would find no state and abort the process.
    fn drop(&mut self) {
        let Keeping::UntilThreadEnds(holder) = self.0.replace(Keeping::Nothing) else {
            return;
        };
        let attached = Python::try_attach(|py| {
            let still_kept = holder
                .bind(py)
                .call0()
                .is_ok_and(|object| !object.is_none());
            drop(holder);
            if still_kept {
                if let Err(err) = pythonapi(py, "PyGILState_Release").and_then(|f| f.call1((0,))) {
                    tracing::debug!("a thread's Python thread state stays: {err}");
                }
            }
        });
        if attached.is_none() {
            tracing::debug!("a thread's Python thread state stays: the interpreter is gone");
        }
    }
}

std::thread_local! {
    static KEPT: Kept = const { Kept(std::cell::RefCell::new(Keeping::Nothing)) };
}

/// The CPython API function `name`, through `ctypes`.
fn pythonapi<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("ctypes")?.getattr("pythonapi")?.getattr(name)
}

/// Puts an object in a `threading.local` of the calling thread, and
/// returns a weak reference to it: it lives exactly as long as the thread's
/// Python thread state.
fn hold_in_thread_state(py: Python<'_>) -> PyResult<Py<PyAny>> {
    static HOLD: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let hold = HOLD.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let ns = PyDict::new(py);
        py.run(
            c"import threading, weakref\n\
              class Held: pass\n\
              local = threading.local()\n\
              def hold():\n    \
                  held = local.held = Held()\n    \
                  return weakref.ref(held)\n",
            Some(&ns),
            None,
        )?;
        ns.get_item("hold")?
            .map(Bound::unbind)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err("hold"))
    })?;
    hold.call0(py)
}

/// Makes the calling thread keep its Python thread state from now on,
/// `until` it ends or for good.
///
/// A thread Python did not start gets a thread state when it attaches
/// (`PyGILState_Ensure`) and loses it when it detaches again with no other
/// attachment outstanding (`PyGILState_Release`). So every call from such
/// a thread (the program's own, or Ray's thread completing an object) made
/// a thread state and unmapped its 16 KiB frame stack again, and unmapping
/// interrupts every other core to flush its address cache: on a busy
/// 2-core machine a Rust thread submitting actor calls spent 250–540 µs per
/// call, against 40–55 µs with its thread state kept. CPython's documented
/// remedy is to keep one attachment outstanding for the thread's lifetime:
/// made here once per thread, from Python (`ctypes.pythonapi`, so no
/// `unsafe` here), later attachments nest inside it and only take and
/// release the interpreter lock.
pub(crate) fn keep_thread_state(py: Python<'_>, until: Until) {
    if KEPT.try_with(|kept| matches!(*kept.0.borrow(), Keeping::Nothing)) != Ok(true) {
        return;
    }
    let keeping = match until {
        Until::Forever => Ok(Keeping::Forever),
        Until::ThreadEnds => hold_in_thread_state(py).map(Keeping::UntilThreadEnds),
    };
    let kept = keeping.and_then(|keeping| {
        pythonapi(py, "PyGILState_Ensure")?.call0()?;
        Ok(keeping)
    });
    match kept {
        Ok(keeping) => {
            let _ = KEPT.try_with(|kept| *kept.0.borrow_mut() = keeping);
        }
        Err(err) => tracing::debug!("this thread keeps no Python thread state: {err}"),
    }
}

/// The bridge module's item `name`.
pub(crate) fn call_item<'py>(ns: &Bound<'py, PyDict>, name: &str) -> Result<Bound<'py, PyAny>> {
    ns.get_item(name)
        .map_err(|e| py_error(name, e))?
        .ok_or_else(|| invalid(format!("the Ray bridge has no `{name}`")))
}

/// Calls the bridge module's function `name`.
pub(crate) fn call<'py>(
    ns: &Bound<'py, PyDict>,
    name: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> Result<Bound<'py, PyAny>> {
    call_item(ns, name)?
        .call1(args)
        .map_err(|e| py_error(name, e))
}

/// A Python exception, as an error.
pub(crate) fn py_error(what: &str, err: PyErr) -> Error {
    attach(|py| Error::TaskFailed {
        task: format!("ray bridge `{what}`"),
        message: err.value(py).to_string(),
        cause: None,
    })
}

/// The Python that has Ray: `RUSTYRAY_PYTHON`, else the active
/// virtualenv's, else `python3`.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("RUSTYRAY_PYTHON") {
        return python.into();
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        return PathBuf::from(venv).join("bin").join("python");
    }
    PathBuf::from("python3")
}

fn install_hint(python: &std::path::Path) -> String {
    format!(
        "RustyRay needs Ray {RAY_VERSION} for {}: `pip install ray=={RAY_VERSION}` in a \
         virtualenv, activate it (or set RUSTYRAY_PYTHON to its python)",
        python.display()
    )
}

/// Initializes the embedded interpreter as the virtualenv's Python, imports
/// Ray (checking its version) and loads the bridge module.
fn setup(py: Python<'_>) -> Result<Bound<'_, PyDict>> {
    let python = python();
    // The virtualenv's prefix, version and site-packages, asked of its own
    // Python: the embedded one is the system's libpython.
    let probe = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys, site; print('%d.%d.%d' % sys.version_info[:3]); \
             print('\\n'.join(site.getsitepackages()))",
        ])
        .output()
        .map_err(|err| {
            invalid(format!(
                "Python not found ({err}); {}",
                install_hint(&python)
            ))
        })?;
    if !probe.status.success() {
        return Err(invalid(format!(
            "{} failed: {}; {}",
            python.display(),
            String::from_utf8_lossy(&probe.stderr).trim(),
            install_hint(&python)
        )));
    }
    let stdout = String::from_utf8_lossy(&probe.stdout).into_owned();
    let mut lines = stdout.lines();
    let version = lines.next().unwrap_or_default().to_string();
    let site_dirs: Vec<String> = lines.map(str::to_string).collect();
    let sys = py.import("sys").map_err(|e| py_error("import sys", e))?;
    let embedded: String = py
        .eval(
            c"'%d.%d.%d' % __import__('sys').version_info[:3]",
            None,
            None,
        )
        .and_then(|v| v.extract())
        .map_err(|e| py_error("sys.version_info", e))?;
    // Ray refuses a driver whose Python differs from its workers' by even
    // a patch version.
    if embedded != version {
        return Err(invalid(format!(
            "{} is Python {version}, but this program embeds Python {embedded} (its \
             libpython): make the virtualenv with that Python (`python{} -m venv`), or set \
             RUSTYRAY_PYTHON to one",
            python.display(),
            embedded
                .rsplit_once('.')
                .map_or(embedded.as_str(), |(minor, _)| minor),
        )));
    }
    let prepare = || -> PyResult<()> {
        sys.setattr("executable", python.to_string_lossy().as_ref())?;
        sys.setattr("argv", vec!["rustyray"])?;
        let site = py.import("site")?;
        for dir in &site_dirs {
            site.call_method1("addsitedir", (dir.as_str(),))?;
        }
        Ok(())
    };
    prepare().map_err(|e| py_error("site", e))?;
    let ray = py.import("ray").map_err(|e| {
        invalid(format!(
            "{}; {}",
            py_error("import ray", e),
            install_hint(&python)
        ))
    })?;
    let found: String = ray
        .getattr("__version__")
        .and_then(|v| v.extract())
        .map_err(|e| py_error("ray.__version__", e))?;
    if found != RAY_VERSION {
        return Err(invalid(format!(
            "found Ray {found}; {}",
            install_hint(&python)
        )));
    }
    let ns = PyDict::new(py);
    let load = || -> PyResult<()> {
        ns.set_item("__name__", "rustyray_bridge")?;
        ns.set_item("__builtins__", py.import("builtins")?)?;
        let code = CString::new(include_str!("bridge.py"))
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        py.run(&code, Some(&ns), None)
    };
    load().map_err(|e| py_error("bridge.py", e))?;
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Python functions keeping a marker in a `threading.local` of the
    /// calling thread (returning a weak reference to it) and telling
    /// whether the thread still has it.
    fn marker_functions() -> (Py<PyAny>, Py<PyAny>) {
        Python::attach(|py| -> PyResult<_> {
            let ns = PyDict::new(py);
            py.run(
                c"import threading, weakref\n\
                  class Marker: pass\n\
                  local = threading.local()\n\
                  def keep():\n    \
                      marker = Marker()\n    \
                      local.marker = marker\n    \
                      return weakref.ref(marker)\n\
                  def kept():\n    \
                      return getattr(local, 'marker', None) is not None\n",
                Some(&ns),
                None,
            )?;
            Ok((
                ns.get_item("keep")?.unwrap().unbind(),
                ns.get_item("kept")?.unwrap().unbind(),
            ))
        })
        .expect("the test's Python runs")
    }

    /// Runs `first` and then two attachments through [`attach`] on a new
    /// thread; returns whether the thread kept its Python thread state
    /// between them and whether it gave it back when it ended.
    fn keeps_then_gives_back(first: fn(Python<'_>)) -> (bool, bool) {
        let (keep, kept) = marker_functions();
        let (weak, still_there) = std::thread::spawn(move || {
            Python::attach(first);
            let weak = attach(|py| keep.call0(py).expect("keep"));
            let still_there = attach(|py| {
                kept.call0(py)
                    .and_then(|kept| kept.extract::<bool>(py))
                    .expect("kept")
            });
            (weak, still_there)
        })
        .join()
        .expect("the thread ends");
        let gone = Python::attach(|py| weak.call0(py).expect("weakref").is_none(py));
        (still_there, gone)
    }

    /// A thread that attaches through [`attach`] keeps its Python thread
    /// state between attachments (what it keeps in a `threading.local`
    /// stays), and gives it back when it ends (what it kept there goes).
    #[test]
    fn a_thread_keeps_its_python_thread_state_until_it_ends() {
        assert_eq!(keeps_then_gives_back(|_| {}), (true, true));
    }

    /// Python's `threading` lists a thread it did not start once Python
    /// code asks for it, and keeps listing its id after it ends, for the
    /// next thread that gets the same id: neither makes a thread keep its
    /// state for good.
    #[test]
    fn a_thread_threading_has_seen_gives_its_python_thread_state_back() {
        let seen = |py: Python<'_>| {
            py.import("threading")
                .and_then(|threading| threading.call_method0("current_thread"))
                .expect("threading.current_thread");
        };
        assert_eq!(keeps_then_gives_back(seen), (true, true));
    }

    std::thread_local! {
        /// Tells the test that the thread ended, after the thread's kept
        /// state was dealt with (thread-local values are dropped in the
        /// reverse order of their first use).
        static ENDED: std::cell::RefCell<Option<Ended>> = const { std::cell::RefCell::new(None) };
    }

    struct Ended(mpsc::Sender<()>);

    impl Drop for Ended {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    /// Runs `start` (Python code that calls `call()` twice on a thread it
    /// starts) and returns how many calls reached the backend, once the
    /// thread has ended.
    fn calls_from_a_thread_python_started(start: &std::ffi::CStr) -> usize {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let (ended, on_end) = mpsc::channel();
        let ended = Mutex::new(Some(ended));
        Python::attach(|py| -> PyResult<()> {
            let call = pyo3::types::PyCFunction::new_closure(
                py,
                None,
                None,
                move |_args: &Bound<'_, pyo3::types::PyTuple>,
                      _kwargs: Option<&Bound<'_, PyDict>>| {
                    if let Some(ended) = lock(&ended).take() {
                        ENDED.with(|slot| *slot.borrow_mut() = Some(Ended(ended)));
                    }
                    attach(|_| counted.fetch_add(1, Ordering::SeqCst));
                },
            )?;
            let ns = PyDict::new(py);
            ns.set_item("call", call)?;
            py.run(start, Some(&ns), None)
        })
        .expect("the Python thread starts");
        on_end
            .recv_timeout(Duration::from_secs(60))
            .expect("the Python thread ends");
        calls.load(Ordering::SeqCst)
    }

    /// A thread `threading` started may call into the backend: it ends as
    /// Python ends it (giving its state back then would abort the process).
    #[test]
    fn a_thread_python_started_ends_as_python_ends_it() {
        let calls = calls_from_a_thread_python_started(
            c"import threading\n\
              def twice():\n    call()\n    call()\n\
              threading.Thread(target=twice).start()\n",
        );
        assert_eq!(calls, 2);
    }

    /// So may a thread started with `_thread`, which `threading` never
    /// lists.
    #[test]
    fn a_thread_python_started_without_threading_ends_as_python_ends_it() {
        let calls = calls_from_a_thread_python_started(
            c"import _thread\n\
              def twice():\n    call()\n    call()\n\
              _thread.start_new_thread(twice, ())\n",
        );
        assert_eq!(calls, 2);
    }
}
