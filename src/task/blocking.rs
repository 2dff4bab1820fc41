//! Waiting inside a task: lend the task's CPUs back while it waits.
//!
//! Ray's rule: a task blocked in `get` gives its CPUs back to the scheduler,
//! so a task waiting for the tasks it submitted cannot starve them and
//! recursion works with one CPU. The same holds for an async task awaiting
//! a ref. When the wait ends the task takes its CPUs back, even if that
//! oversubscribes them for a while.

use std::sync::Arc;

use crate::task::context;
use crate::task::task::Task;
use crate::task::worker;

/// One wait of the running task, if any; ends on drop.
pub(crate) struct Lent(Arc<Task>);

impl Lent {
    /// Starts a wait for the task running on this thread (none outside a
    /// task).
    pub(crate) fn begin() -> Option<Lent> {
        context::with_running(|running| {
            running.map(|r| {
                r.task.wait_begins();
                Lent(Arc::clone(&r.task))
            })
        })
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.0.wait_ends();
    }
}

/// Runs the blocking wait `f`, lending the running task's CPUs meanwhile
/// (and, on a worker thread, its place under the pool's thread limit).
pub(crate) fn while_blocked<R>(f: impl FnOnce() -> R) -> R {
    let _lent = Lent::begin();
    let _blocked = worker::blocking();
    f()
}
