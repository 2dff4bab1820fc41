//! [`Config`]: what a runtime is given at [`init`](crate::init).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::task::resources::MAX_AMOUNT;

/// The settings of one runtime, built by value.
///
/// Every setter takes and returns `self`; [`init`](crate::init) checks the
/// result and refuses invalid values with [`Error::InvalidConfig`] naming the
/// field.
///
/// ```
/// use std::time::Duration;
/// use rustyray::Config;
///
/// let config = Config::default()
///     .num_cpus(2)
///     .resource("gpu", 1.0)
///     .object_store_memory(64 << 20)
///     .name("example")
///     .shutdown_timeout(Duration::from_secs(2));
/// let rt = rustyray::init(config)?;
/// assert_eq!(rt.name(), "example");
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) num_cpus: usize,
    pub(crate) resources: BTreeMap<String, f64>,
    pub(crate) object_store_memory: u64,
    pub(crate) spill_dir: Option<PathBuf>,
    pub(crate) tokio_handle: Option<tokio::runtime::Handle>,
    pub(crate) name: Option<String>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) zero_cpu_task_threads: Option<usize>,
    pub(crate) worker_stack_size: Option<usize>,
    pub(crate) namespace: Option<String>,
    /// The Ray cluster to run on (`Config::ray`), if any.
    pub(crate) ray: Option<String>,
    pub(crate) max_finished_tasks: usize,
}

impl Default for Config {
    /// `num_cpus` = the machine's available parallelism, no custom resources,
    /// a 2 GiB object store limit, spilling under the system temp dir, an
    /// owned tokio runtime, a generated name and a 10 s shutdown timeout.
    fn default() -> Self {
        Config {
            num_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            resources: BTreeMap::new(),
            object_store_memory: 2 << 30,
            spill_dir: None,
            tokio_handle: None,
            name: None,
            shutdown_timeout: Duration::from_secs(10),
            zero_cpu_task_threads: None,
            worker_stack_size: None,
            namespace: None,
            ray: None,
            max_finished_tasks: crate::task::history::DEFAULT_CAPACITY,
        }
    }
}

impl Config {
    /// The number of CPUs tasks may use at once (default: available
    /// parallelism), from 1 to 10^12. A task takes 1 CPU unless it asks
    /// otherwise.
    pub fn num_cpus(mut self, n: usize) -> Self {
        self.num_cpus = n;
        self
    }

    /// Declares a custom resource (`"gpu"`, `"license"`, …) with its total
    /// amount (finite, from 0 to 10^12). Tasks and actors ask for it with
    /// `.resource(name, amount)`.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.resources.insert(name.into(), amount);
        self
    }

    /// The hard limit on bytes of objects held in memory; objects beyond it
    /// spill to disk.
    pub fn object_store_memory(mut self, bytes: u64) -> Self {
        self.object_store_memory = bytes;
        self
    }

    /// The directory under which spilled objects go (default: the system
    /// temp dir). Each runtime spills into a directory of its own inside it
    /// (see [`Runtime::spill_dir`](crate::Runtime::spill_dir)), so runtimes
    /// in one process or several may share it. It is created on the first
    /// spill if missing, and removed at shutdown only if this runtime
    /// created it and it is empty by then.
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Runs the runtime's async work (async remote functions and actor
    /// methods, [`Runtime::spawn`](crate::Runtime::spawn)) on this tokio
    /// executor, starting none of RustyRay's own.
    ///
    /// Without it, [`init`](crate::init) called inside a tokio runtime uses
    /// that one, and called outside any starts an executor of RustyRay's own
    /// on first use. Set it to run on another one:
    ///
    /// ```
    /// let app = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .thread_name("app")
    ///     .enable_all()
    ///     .build()
    ///     .unwrap();
    /// let _rt = rustyray::init(rustyray::Config::default().tokio_handle(app.handle().clone()))?;
    ///
    /// #[rustyray::remote]
    /// async fn where_am_i() -> String {
    ///     std::thread::current().name().unwrap_or_default().to_string()
    /// }
    /// assert_eq!(where_am_i::remote()?.get()?, "app");
    /// # Ok::<(), rustyray::Error>(())
    /// ```
    pub fn tokio_handle(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_handle = Some(handle);
        self
    }

    /// The namespace of named actors created without
    /// [`ActorOptions::namespace`](crate::ActorOptions::namespace), and
    /// where [`get_actor`](crate::get_actor) looks (default:
    /// [`DEFAULT_NAMESPACE`](crate::runtime::DEFAULT_NAMESPACE)). Names are
    /// unique within a namespace; [`get_actor_in`](crate::get_actor_in)
    /// looks in another one.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// A name for the runtime, shown in errors and thread names.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long shutdown waits for running work and threads before it
    /// completes the remaining refs with [`Error::ShutDown`] and detaches.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How many threads may run at once before a task that needs no
    /// resources (`num_cpus = 0`) waits for a thread to free up instead of
    /// starting another (default: 4 per CPU, at least 64). Tasks that hold
    /// CPUs or custom resources are bounded by them, and actors by their own
    /// concurrency, so neither waits for this. Reaching the limit is
    /// reported once through `tracing`: raise it when zero-CPU tasks wait
    /// for each other (on a barrier, say).
    pub fn zero_cpu_task_threads(mut self, n: usize) -> Self {
        self.zero_cpu_task_threads = Some(n);
        self
    }

    /// The stack size, in bytes, of the runtime's worker threads (default:
    /// Rust's, 2 MiB unless `RUST_MIN_STACK` says otherwise). Tasks that
    /// recurse deeply need more.
    pub fn worker_stack_size(mut self, bytes: usize) -> Self {
        self.worker_stack_size = Some(bytes);
        self
    }

    /// Runs the program on a Ray cluster (cargo feature `ray`): `"auto"`
    /// joins the cluster started on this machine with `ray start`,
    /// `"HOST:PORT"` the one at that address, and `"local"` starts a private
    /// one for this process. Tasks then run in Ray worker processes, objects
    /// live in Ray's object store and actors are Ray actors (see the
    /// README's "Outgrow one machine").
    ///
    /// Without the feature, [`init`](crate::init) refuses it with
    /// [`Error::InvalidConfig`] naming the feature.
    pub fn ray(mut self, address: impl Into<String>) -> Self {
        self.ray = Some(address.into());
        self
    }

    /// How many ended tasks the runtime remembers for
    /// [`list_tasks`](crate::state::list_tasks) and the
    /// [`timeline`](crate::timeline) (default 10,000): the newest are kept,
    /// the oldest forgotten, so memory stays bounded however many tasks
    /// run (about 100 bytes a task; the threads that end tasks keep theirs
    /// apart, up to 8 shares of `n`, and a listing shows the newest `n`).
    /// 0 keeps none. Live tasks are always listed.
    pub fn max_finished_tasks(mut self, n: usize) -> Self {
        self.max_finished_tasks = n;
        self
    }

    /// How many threads an executor of RustyRay's own runs: one per CPU,
    /// but no more than the machine has cores (`num_cpus` may count
    /// virtual CPUs for scheduling).
    pub(crate) fn executor_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.num_cpus.clamp(1, cores.max(1))
    }

    /// The zero-CPU task thread limit this config gives.
    pub(crate) fn zero_cpu_threads(&self) -> usize {
        self.zero_cpu_task_threads
            .unwrap_or_else(|| self.num_cpus.saturating_mul(4).max(64))
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_string(),
            })
        };
        if self.num_cpus == 0 {
            return invalid("num_cpus", "must be at least 1");
        }
        if self.num_cpus as u128 > u128::from(MAX_AMOUNT) {
            return Err(Error::InvalidConfig {
                field: "num_cpus",
                reason: format!(
                    "= {}: must be at most {MAX_AMOUNT}, the largest amount of a resource",
                    self.num_cpus
                ),
            });
        }
        if self.object_store_memory == 0 {
            return invalid("object_store_memory", "must be at least 1 byte");
        }
        for (name, &amount) in &self.resources {
            if name.is_empty() {
                return invalid("resource", "names must not be empty");
            }
            if name == "CPU" {
                return invalid("resource", "\"CPU\" is set with `num_cpus`");
            }
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(Error::InvalidConfig {
                    field: "resource",
                    reason: format!("`{name}` = {amount}: amounts must be finite and >= 0"),
                });
            }
            if amount > MAX_AMOUNT as f64 {
                return Err(Error::InvalidConfig {
                    field: "resource",
                    reason: format!(
                        "`{name}` = {amount}: amounts must be at most {MAX_AMOUNT}, the largest \
                         amount of a resource"
                    ),
                });
            }
        }
        if matches!(&self.name, Some(n) if n.is_empty()) {
            return invalid("name", "must not be empty");
        }
        if self.zero_cpu_task_threads == Some(0) {
            return invalid("zero_cpu_task_threads", "must be at least 1");
        }
        if self.worker_stack_size == Some(0) {
            return invalid("worker_stack_size", "must be at least 1 byte");
        }
        if let Some(address) = &self.ray {
            validate_ray(address)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("num_cpus", &self.num_cpus)
            .field("resources", &self.resources)
            .field("object_store_memory", &self.object_store_memory)
            .field("spill_dir", &self.spill_dir)
            .field("embedded", &self.tokio_handle.is_some())
            .field("name", &self.name)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("zero_cpu_task_threads", &self.zero_cpu_threads())
            .field("worker_stack_size", &self.worker_stack_size)
            .field("ray", &self.ray)
            .field("max_finished_tasks", &self.max_finished_tasks)
            .finish()
    }
}

/// Checks a [`Config::ray`] address: `"auto"`, `"local"` or `HOST:PORT`,
/// and the feature that runs it.
fn validate_ray(address: &str) -> Result<()> {
    let port = address
        .rsplit_once(':')
        .map(|(host, port)| (host, port.parse::<u16>()));
    let well_formed = matches!(address, "auto" | "local")
        || matches!(port, Some((host, Ok(port))) if !host.is_empty() && port != 0);
    if !well_formed {
        return Err(Error::InvalidConfig {
            field: "ray",
            reason: format!(
                "= {address:?}: must be \"auto\", \"local\" or \"HOST:PORT\" (as `ray start` \
                 prints it)"
            ),
        });
    }
    if cfg!(feature = "ray") {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            field: "ray",
            reason: format!(
                "= {address:?}: running on a Ray cluster needs RustyRay's cargo feature `ray` \
                 (`rustyray = {{ version = \"0.1\", features = [\"ray\"] }}`) and Ray \
                 itself (`pip install ray==2.60.0`)"
            ),
        })
    }
}
