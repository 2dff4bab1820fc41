//! What the layers above lend the object store: how a wait behaves, and in
//! whose context values are decoded.
//!
//! The store knows nothing of tasks, executors or runtimes. A blocking
//! `get` inside a task must lend the task's CPUs to the scheduler, a
//! blocking call on an executor's thread must be refused, and a ref inside
//! a value must decode in the context of the store's runtime: each is the
//! policy of a layer above, which installs it here ([`Store::set_hooks`],
//! [`set_current_store`]). Without hooks (a store on its own, in unit
//! tests) waits just block and nothing is refused.
//!
//! [`Store::set_hooks`]: super::store::Store::set_hooks

use std::any::Any;
use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::object::store::Store;

/// A guard held for the length of something; its drop ends it.
pub(crate) type Guard = Box<dyn Any>;

/// A guard that may cross threads with the future holding it.
pub(crate) type SendGuard = Box<dyn Any + Send>;

/// The policy of the runtime a store belongs to.
pub(crate) trait Hooks: Send + Sync + 'static {
    /// `Err(BlockingInAsync)` where a blocking `call` would stall an
    /// async executor.
    fn refuse_blocking(&self, call: &'static str) -> Result<()>;

    /// Whether the calling thread, about to wait for several objects,
    /// runs their producers that have not started itself first (it runs a
    /// task; see `Producer::help`). A client thread does not: it waits,
    /// so that whichever object completes (or fails) first ends its wait
    /// at once. A wait for one object always may (see `ObjectRef::get`).
    fn may_help_many(&self) -> bool;

    /// The calling thread is about to block: what it holds (the running
    /// task's CPUs, its place among the worker threads) is lent until the
    /// guard drops.
    fn blocking(&self) -> Option<Guard>;

    /// An async wait of the running task suspended: its CPUs are lent
    /// until the guard drops.
    fn lend(&self) -> Option<SendGuard>;

    /// Installs the store's runtime as the current one on this thread for
    /// the guard's life (to decode refs inside a value), unless it is
    /// already.
    fn enter(&self) -> Option<Guard>;

    /// The executor timers of async waits are made on.
    fn timers(&self) -> Option<tokio::runtime::Handle>;
}

/// The store of the runtime current on this thread: what a ref decoded
/// from bytes binds to. Installed by the runtime layer once per process.
static CURRENT_STORE: OnceLock<fn() -> Option<Arc<Store>>> = OnceLock::new();

/// Installs how to find the current store (the runtime layer does, at its
/// first start; later calls change nothing).
pub(crate) fn set_current_store(find: fn() -> Option<Arc<Store>>) {
    let _ = CURRENT_STORE.set(find);
}

/// The store of the runtime current on this thread, if any.
pub(crate) fn current_store() -> Option<Arc<Store>> {
    CURRENT_STORE.get().and_then(|find| find())
}
