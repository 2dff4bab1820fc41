//! [`cancel_with`] and [`CancelOptions`]: Ray's `ray.cancel(ref,
//! recursive=..)`.

use crate::error::Result;
use crate::object::wait::cancel_ref_with;
use crate::object::{Object, ObjectRef};
use crate::runtime::{global, Runtime};

/// How [`cancel_with`] cancels.
///
/// ```
/// let opts = rustyray::CancelOptions::default();
/// assert!(opts.is_recursive()); // as `cancel`, and as Ray
/// assert!(!opts.recursive(false).is_recursive());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelOptions {
    recursive: bool,
}

impl Default for CancelOptions {
    /// Ray's defaults: recursive.
    fn default() -> Self {
        CancelOptions { recursive: true }
    }
}

impl CancelOptions {
    /// Whether the tasks and actor calls the cancelled task submitted (and
    /// theirs, and so on) are cancelled too, as well as those it submits
    /// after the cancel. Default `true`, as Ray's `recursive=True`.
    /// Actors it created are not killed.
    pub fn recursive(mut self, yes: bool) -> Self {
        self.recursive = yes;
        self
    }

    /// See [`recursive`](Self::recursive).
    pub fn is_recursive(&self) -> bool {
        self.recursive
    }
}

/// [`cancel`](crate::cancel) with options: `recursive(false)` cancels the
/// task producing `r` alone, and what it submitted runs on.
///
/// ```
/// use rustyray::{CancelOptions, Error};
///
/// #[rustyray::remote(num_cpus = 0)]
/// async fn forever() -> u32 {
///     std::future::pending::<u32>().await
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let r = forever::remote()?;
/// rustyray::cancel_with(&r, CancelOptions::default().recursive(false))?;
/// assert!(matches!(r.get(), Err(Error::Cancelled { .. })));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn cancel_with<T: Object>(r: &ObjectRef<T>, opts: CancelOptions) -> Result<()> {
    global()?.cancel_with(r, opts)
}

impl Runtime {
    /// See [`cancel_with`](crate::cancel_with).
    pub fn cancel_with<T: Object>(&self, r: &ObjectRef<T>, opts: CancelOptions) -> Result<()> {
        self.check_running()?;
        cancel_ref_with(r, opts.recursive)
    }
}
