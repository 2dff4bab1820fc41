//! [`Runtime`], the handle, and the guards that install it.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::config::Config;
use super::context::{self, SlotGuard};
use super::hooks;
use super::scope::Scoped;
use crate::actor::handle::{Actor, ActorHandle, ActorRef};
use crate::backend::local::{LocalBackend, LocalConfig};
use crate::backend::Backend;
use crate::error::Result;
use crate::exec::blocking::would_stall_executor;
use crate::exec::executor::Executor;
use crate::object::wait::{self, ReadyPending};
use crate::object::{MemoryStats, Object, ObjectRef, RuntimeId};
use crate::sync::deadline_after;

/// A handle to one runtime: cheap to clone, `Send + Sync`.
///
/// Every free function (`put`, `get`, …) is a thin wrapper that calls the
/// method of the same name on [`global()`](crate::global); call the methods
/// directly to pass the context explicitly.
///
/// ```
/// let guard = rustyray::init(rustyray::Config::default())?;
/// let rt: rustyray::Runtime = guard.clone();
/// std::thread::spawn(move || {
///     let _entered = rt.enter();
///     let r = rustyray::put(7u32)?;
///     assert_eq!(rt.get(&r)?, 7);
///     Ok::<(), rustyray::Error>(())
/// })
/// .join()
/// .unwrap()?;
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    id: RuntimeId,
    name: Arc<str>,
    config: Config,
    shut_down: AtomicBool,
    engine: Engine,
    /// The Ray cluster this runtime runs its tasks on (`Config::ray`).
    #[cfg(feature = "ray")]
    ray: Option<crate::backend::ray::RayBackend>,
}

/// The engine a runtime drives (see [`crate::backend`]).
pub(crate) enum Engine {
    Local(LocalBackend),
}

impl Engine {
    /// The in-process engine.
    pub(crate) fn local(&self) -> &LocalBackend {
        match self {
            Engine::Local(local) => local,
        }
    }
}

impl Runtime {
    fn start(config: Config) -> Result<Runtime> {
        config.validate()?;
        hooks::install_process_hooks();
        let (id, seq) = RuntimeId::next();
        let name: Arc<str> = match &config.name {
            Some(name) => name.as_str().into(),
            None => format!("rustyray-{seq}").into(),
        };
        // Inside a tokio runtime, RustyRay's async work runs there: no
        // second executor.
        let tokio = config
            .tokio_handle
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        let local = LocalConfig {
            id,
            name: Arc::clone(&name),
            num_cpus: config.num_cpus,
            resources: config.resources.clone(),
            object_store_memory: config.object_store_memory,
            spill_parent: config.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
            tokio,
            executor_threads: config.executor_threads(),
            zero_cpu_threads: config.zero_cpu_threads(),
            stack_size: config.worker_stack_size,
        };
        #[cfg(feature = "ray")]
        let ray = match &config.ray {
            Some(address) => Some(crate::backend::ray::RayBackend::connect(address)?),
            None => None,
        };
        let max_finished_tasks = config.max_finished_tasks;
        let inner = Arc::new_cyclic(|weak| {
            let engine = LocalBackend::new(local, hooks::thread_start(WeakRuntime(weak.clone())));
            Inner {
                id,
                name,
                config,
                shut_down: AtomicBool::new(false),
                engine: Engine::Local(engine),
                #[cfg(feature = "ray")]
                ray,
            }
        });
        let runtime = Runtime { inner };
        #[cfg(feature = "ray")]
        if let Some(ray) = runtime.ray() {
            let local = runtime.engine().local();
            ray.attach(local.scheduler(), local.actors());
        }
        runtime
            .engine()
            .local()
            .scheduler()
            .history()
            .set_capacity(max_finished_tasks);
        hooks::install(&runtime);
        Ok(runtime)
    }

    /// The runtime's globally unique id.
    pub fn id(&self) -> RuntimeId {
        self.inner.id
    }

    /// The runtime's name ([`Config::name`], or `rustyray-<n>` for the
    /// process's `n`th runtime).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether [`shutdown`](Self::shutdown) has run.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    pub(crate) fn ptr_eq(&self, other: &Runtime) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The Ray engine, when the runtime runs on a cluster.
    #[cfg(feature = "ray")]
    pub(crate) fn ray(&self) -> Option<&crate::backend::ray::RayBackend> {
        self.inner.ray.as_ref()
    }

    pub(crate) fn executor(&self) -> &Executor {
        self.inner.engine.local().executor()
    }

    /// Installs this runtime as the current one of the calling thread until
    /// the returned guard drops. Does not shut anything down.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _slot: context::install(self.clone()),
        }
    }

    /// Wraps `future` so that this runtime is the current one during every
    /// poll of it, on whichever thread polls it.
    ///
    /// ```
    /// # let rt = rustyray::init(rustyray::Config::default())?;
    /// let scoped = rt.scope(async {
    ///     tokio::task::yield_now().await;
    ///     rustyray::global().map(|rt| rt.id())
    /// });
    /// let tokio = tokio::runtime::Runtime::new().unwrap();
    /// assert_eq!(tokio.block_on(tokio.spawn(scoped)).unwrap()?, rt.id());
    /// # Ok::<(), rustyray::Error>(())
    /// ```
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped::new(self.clone(), future)
    }

    /// Spawns `future` on the runtime's executor (its own, or the tokio
    /// runtime it runs in), with this runtime current on every poll
    /// ([`scope`](Self::scope)): inside it, `put`, `get` and remote calls
    /// work on whichever thread polls it.
    ///
    /// On a runtime that is shut down (its executor gone) the future is
    /// dropped and the handle resolves to a cancelled
    /// [`JoinError`](tokio::task::JoinError).
    ///
    /// ```
    /// let rt = rustyray::init(rustyray::Config::default())?;
    /// let handle = rt.spawn(async { rustyray::put(5u32)?.await });
    /// let tokio = tokio::runtime::Runtime::new().unwrap();
    /// assert_eq!(tokio.block_on(handle).unwrap()?, 5);
    /// # Ok::<(), rustyray::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let scoped = self.scope(future);
        match self.executor().handle() {
            Ok(handle) => handle.spawn(scoped),
            Err(_) => {
                // No executor to run it: a handle whose task is dropped
                // unpolled, as tokio does on a runtime that shut down.
                let gone = tokio::runtime::Builder::new_current_thread().build().ok();
                match gone {
                    Some(gone) => gone.spawn(scoped),
                    None => tokio::spawn(scoped),
                }
            }
        }
    }

    /// See [`put`](crate::put).
    pub fn put<T: Object>(&self, value: T) -> Result<ObjectRef<T>> {
        #[cfg(feature = "ray")]
        if let Some(ray) = self.ray() {
            return ray.put(self.inner.engine.local().store(), value);
        }
        self.inner.engine.local().put(value)
    }

    /// See [`put_bytes`](crate::put_bytes).
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<ObjectRef<Vec<u8>>> {
        #[cfg(feature = "ray")]
        if self.ray().is_some() {
            return self.put(bytes.to_vec());
        }
        self.inner.engine.local().put_bytes(bytes)
    }

    /// See [`get`](crate::get).
    pub fn get<T: Object>(&self, r: &ObjectRef<T>) -> Result<T> {
        r.wait_value(None)
    }

    /// See [`get_timeout`](crate::get_timeout).
    pub fn get_timeout<T: Object>(&self, r: &ObjectRef<T>, timeout: Duration) -> Result<T> {
        r.wait_value(Some(timeout))
    }

    /// See [`get_all`](crate::get_all).
    pub fn get_all<T: Object>(&self, refs: &[ObjectRef<T>]) -> Result<Vec<T>> {
        wait::get_all_refs(refs)
    }

    /// See [`wait`](crate::wait).
    pub fn wait<T: Object>(
        &self,
        refs: &[ObjectRef<T>],
        num_ready: usize,
        timeout: Option<Duration>,
    ) -> Result<ReadyPending<T>> {
        self.check_running()?;
        wait::wait_refs(refs, num_ready, timeout)
    }

    /// See [`cancel`](crate::cancel).
    pub fn cancel<T: Object>(&self, r: &ObjectRef<T>) -> Result<()> {
        self.check_running()?;
        wait::cancel_ref(r)
    }

    /// The directory this runtime spills objects to: its own,
    /// `rustyray-<pid>-<runtime id>` (the id as a decimal number) under
    /// [`Config::spill_dir`], or under the system temp dir by default.
    /// Runtimes may share the parent, in one process or several; each
    /// writes and deletes only in its own directory.
    ///
    /// The directory is created on the first spill. In it,
    /// `<object id>.<n>.spill` holds one object (a large one, or one written
    /// straight to disk) and `pack-<n>.spill` is shared by the small objects
    /// of one spill batch, deleted when the last of them is freed (`<n>`
    /// numbers the runtime's files, so no name is used twice); each
    /// object is a record, a header naming it (with its length and a
    /// checksum) then its serialized bytes. At shutdown the runtime deletes
    /// its files, then its directory if nothing else is in it, then the
    /// parent only if this runtime created it and it is empty by then.
    pub fn spill_dir(&self) -> &std::path::Path {
        self.inner.engine.local().spill_dir()
    }

    /// Where `r`'s object is on disk, if it is spilled: the file, the
    /// offset of the object's record in it and the record's length (header
    /// and payload). For tests that damage spill files.
    #[doc(hidden)]
    pub fn __spill_location<T>(&self, r: &ObjectRef<T>) -> Option<(std::path::PathBuf, u64, u64)> {
        r.cell.spill_location()
    }

    /// What the object store holds now.
    pub fn memory(&self) -> MemoryStats {
        self.inner.engine.local().memory()
    }

    /// See [`get_actor`](crate::get_actor).
    pub fn get_actor<A: Actor>(&self, name: &str) -> Result<A::Handle> {
        self.get_actor_in::<A>(name, self.namespace())
    }

    /// See [`get_actor_in`](crate::get_actor_in).
    pub fn get_actor_in<A: Actor>(&self, name: &str, namespace: &str) -> Result<A::Handle> {
        self.check_running()?;
        #[cfg(feature = "ray")]
        if let Some(ray) = self.ray() {
            let actor = ray.get_actor::<A>(self.inner.engine.local(), name, namespace)?;
            return Ok(A::Handle::from_actor_ref(actor));
        }
        #[cfg(feature = "ray")]
        if let Some(link) = crate::backend::ray::worker::nested(self.id()) {
            return Ok(A::Handle::from_actor_ref(
                link.get_actor::<A>(name, namespace)?,
            ));
        }
        let actor: ActorRef<A> = self.inner.engine.local().get_actor(name, namespace)?;
        Ok(A::Handle::from_actor_ref(actor))
    }

    /// The namespace of this runtime's named actors when they name none
    /// ([`Config::namespace`](crate::Config::namespace)).
    pub fn namespace(&self) -> &str {
        self.inner
            .config
            .namespace
            .as_deref()
            .unwrap_or(super::DEFAULT_NAMESPACE)
    }

    /// See [`kill`](crate::kill).
    pub fn kill<H: ActorHandle>(&self, handle: &H) -> Result<()> {
        handle.actor_ref().kill();
        Ok(())
    }

    /// Shuts the runtime down; idempotent.
    ///
    /// New work is refused with [`Error::ShutDown`](crate::Error::ShutDown), every outstanding ref
    /// completes (with its value or `ShutDown`), and the runtime's threads
    /// are stopped within [`Config::shutdown_timeout`]. Safe to call from
    /// inside an async context.
    pub fn shutdown(&self) {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Inside async code, waiting for threads would stall the executor
        // polling this: they are detached at once instead (every ref is
        // complete by then anyway).
        let timeout = if would_stall_executor() {
            Duration::ZERO
        } else {
            self.inner.config.shutdown_timeout
        };
        self.inner.engine.local().shutdown(deadline_after(timeout));
        #[cfg(feature = "ray")]
        if let Some(ray) = self.ray() {
            ray.shutdown();
        }
    }

    pub(crate) fn check_running(&self) -> Result<()> {
        self.inner.engine.local().check_open()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

/// A runtime handle that does not keep the runtime alive.
#[derive(Clone)]
pub(crate) struct WeakRuntime(std::sync::Weak<Inner>);

impl Runtime {
    pub(crate) fn downgrade(&self) -> WeakRuntime {
        WeakRuntime(Arc::downgrade(&self.inner))
    }
}

impl WeakRuntime {
    pub(crate) fn upgrade(&self) -> Option<Runtime> {
        self.0.upgrade().map(|inner| Runtime { inner })
    }
}

/// Starts a runtime and installs it as the calling thread's current one.
///
/// Dropping the returned guard shuts the runtime down and restores whatever
/// runtime was current before, so runtimes nest, and each test or thread can
/// own one. Starting costs no thread: executors and workers start on first
/// use.
///
/// ```
/// use rustyray::Config;
///
/// let outer = rustyray::init(Config::default().name("outer"))?;
/// {
///     let _inner = rustyray::init(Config::default().name("inner"))?;
///     assert_eq!(rustyray::global()?.name(), "inner");
/// }
/// assert_eq!(rustyray::global()?.name(), "outer");
/// drop(outer);
/// assert!(!rustyray::is_initialized());
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn init(config: Config) -> Result<RuntimeGuard> {
    let runtime = Runtime::start(config)?;
    context::started(&runtime);
    let slot = context::install(runtime.clone());
    Ok(RuntimeGuard {
        runtime,
        _slot: slot,
    })
}

/// The current runtime of this context: the innermost guard, `enter` or
/// `scope`. [`Error::NotInitialized`](crate::Error::NotInitialized) when there is none.
pub fn global() -> Result<Runtime> {
    context::current()
}

/// Whether a runtime is installed in the current context.
pub fn is_initialized() -> bool {
    context::with_current(|rt| rt.is_some())
}

/// Owns a runtime started by [`init`]: dereferences to its [`Runtime`],
/// shuts it down and restores the previous one on drop. `!Send`.
#[must_use = "dropping the guard shuts the runtime down at once"]
pub struct RuntimeGuard {
    runtime: Runtime,
    _slot: SlotGuard,
}

impl Deref for RuntimeGuard {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        &self.runtime
    }
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        self.runtime.shutdown();
    }
}

impl fmt::Debug for RuntimeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RuntimeGuard").field(&self.runtime).finish()
    }
}

/// Keeps a runtime installed on this thread until dropped (from
/// [`Runtime::enter`]); does not shut it down. `!Send`.
#[must_use = "dropping the guard uninstalls the runtime at once"]
pub struct EnterGuard {
    _slot: SlotGuard,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}
