//! What the runtime has and what is free: Ray's `ray.cluster_resources()`
//! and `ray.available_resources()`.

use std::collections::HashMap;

use crate::error::Result;
use crate::runtime::{global, Runtime};

/// The runtime's resources by name: `"CPU"` (its
/// [`Config::num_cpus`](crate::Config::num_cpus)) and every custom
/// resource of its [`Config::resource`](crate::Config::resource). Ray's
/// `ray.cluster_resources()` (without Ray's `memory`, `object_store_memory`
/// and `node:*` entries). On a Ray cluster ([`Config::ray`](crate::Config::ray)),
/// Ray's own figures for the whole cluster, those entries included.
///
/// ```
/// use std::collections::HashMap;
///
/// let _rt = rustyray::init(rustyray::Config::default().num_cpus(4).resource("gpu", 2.0))?;
/// let all = rustyray::cluster_resources()?;
/// assert_eq!(all, HashMap::from([("CPU".to_string(), 4.0), ("gpu".to_string(), 2.0)]));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn cluster_resources() -> Result<HashMap<String, f64>> {
    global()?.cluster_resources()
}

/// What is free now, by the same names as [`cluster_resources`]: the
/// totals less what running tasks, live actors and placement groups hold.
/// Ray's `ray.available_resources()`, except that a resource with nothing
/// free is listed with `0.0` instead of left out.
///
/// A task blocked in `get` (or `wait`, or awaiting a ref) lends its CPUs
/// back while it waits, as in Ray, so they count as free meanwhile; a
/// figure is a snapshot, already old when it returns. On a Ray cluster,
/// Ray's figures (which Ray's nodes report a little late), by the names of
/// [`cluster_resources`].
///
/// ```
/// # use std::collections::HashMap;
/// let _rt = rustyray::init(rustyray::Config::default().num_cpus(2))?;
/// assert_eq!(rustyray::available_resources()?, HashMap::from([("CPU".to_string(), 2.0)]));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn available_resources() -> Result<HashMap<String, f64>> {
    global()?.available_resources()
}

impl Runtime {
    /// See [`cluster_resources`](crate::cluster_resources).
    pub fn cluster_resources(&self) -> Result<HashMap<String, f64>> {
        self.check_running()?;
        #[cfg(feature = "ray")]
        if let Some(ray) = self.ray() {
            return ray.resources(false);
        }
        Ok(self.engine().local().scheduler().capacity().report())
    }

    /// See [`available_resources`](crate::available_resources).
    pub fn available_resources(&self) -> Result<HashMap<String, f64>> {
        self.check_running()?;
        #[cfg(feature = "ray")]
        if let Some(ray) = self.ray() {
            return ray.resources(true);
        }
        Ok(self.engine().local().scheduler().available())
    }
}
