//! Calling Python functions on a Ray cluster (cargo feature `ray`).
//!
//! ```no_run
//! let _rt = rustyray::init(rustyray::Config::default().ray("auto"))?;
//! let hypot = rustyray::python::function("math", "hypot");
//! let r: rustyray::ObjectRef<f64> = hypot.remote((3.0, 4.0))?;
//! assert_eq!(r.get()?, 5.0);
//! # Ok::<(), rustyray::Error>(())
//! ```
//!
//! Values cross languages as [MessagePack](https://msgpack.org): the
//! arguments as one array (a tuple), the result as the function returns it
//! (a Python `int`, `float`, `str`, `bytes`, `list`, `dict`, …, read as
//! the Rust type asked for). The function runs as a Ray task in a Ray
//! worker, so its module must be importable there. A ref it returns holds
//! a Rust value once complete: pass it to a Rust task after `get` or
//! `wait` has seen it complete.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::object::{Object, ObjectRef};
use crate::runtime::global;

/// A Python function, by module and name: see [`function`].
#[derive(Clone, Debug)]
pub struct Function {
    module: String,
    name: String,
}

/// The Python function `name` of the module `module` (`"math"`,
/// `"hypot"`), to call on the Ray cluster the current runtime runs on.
pub fn function(module: impl Into<String>, name: impl Into<String>) -> Function {
    Function {
        module: module.into(),
        name: name.into(),
    }
}

impl Function {
    /// Calls the function with `args` (a tuple: `(x,)` for one argument,
    /// `()` for none) as a Ray task; returns at once with a ref to its
    /// result, read as an `R`. An exception is the task's
    /// [`Error::TaskFailed`], its message `Type: text`. A runtime that
    /// does not run on Ray refuses with [`Error::InvalidArgument`].
    pub fn remote<R: Object>(&self, args: impl Serialize) -> Result<ObjectRef<R>> {
        let runtime = global()?;
        runtime.check_running()?;
        let ray = runtime.ray().ok_or_else(|| Error::InvalidArgument {
            call: "python::Function::remote",
            reason: "the current runtime does not run on Ray: start it with \
                     `Config::default().ray(..)`"
                .into(),
        })?;
        let args = rmp_serde::to_vec(&args).map_err(Error::serialization)?;
        ray.call_python::<R>(
            runtime.engine().local().store(),
            &self.module,
            &self.name,
            &args,
        )
    }
}
