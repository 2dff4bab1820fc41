//! Waiting inside a task: lend the task's CPUs back while it waits, and
//! run the task waited for on this thread when it has not started.
//!
//! Ray's rule: a task blocked in `get` gives its CPUs back to the scheduler,
//! so a task waiting for the tasks it submitted cannot starve them and
//! recursion works with one CPU. The same holds for an async task awaiting
//! a ref. When the wait ends the task takes its CPUs back, even if that
//! oversubscribes them for a while. These are the object store's hooks
//! (`object::hooks`), installed by the runtime: the store itself knows
//! nothing of tasks.

use std::sync::Arc;

use crate::task::context;
use crate::task::task::Task;

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
