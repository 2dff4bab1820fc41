//! [`Config`]: what a runtime is given at [`init`](crate::init).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

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
        }
    }
}

impl Config {
    /// The number of CPUs tasks may use at once (default: available
    /// parallelism). A task takes 1 CPU unless it asks otherwise.
    pub fn num_cpus(mut self, n: usize) -> Self {
        self.num_cpus = n;
        self
    }

    /// Declares a custom resource (`"gpu"`, `"license"`, …) with its total
    /// amount. Tasks and actors ask for it with `.resource(name, amount)`.
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

    /// Embeds the runtime in an existing tokio application: async work runs
    /// on this executor and no tokio runtime of RustyRay's own is started.
    pub fn tokio_handle(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_handle = Some(handle);
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
        }
        if matches!(&self.name, Some(n) if n.is_empty()) {
            return invalid("name", "must not be empty");
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
            .finish()
    }
}
