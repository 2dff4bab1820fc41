//! Blocking inside a task: lend the task's CPUs back while it waits.

use crate::task::context;

/// Runs the blocking wait `f`. Inside a task holding CPUs, the CPUs go back
/// to the scheduler for the duration (Ray's rule), so a task waiting for the
/// tasks it submitted cannot starve them, and recursion works with one CPU.
pub(crate) fn while_blocked<R>(f: impl FnOnce() -> R) -> R {
    let lent = context::with_running(|running| {
        running
            .map(|r| &r.task)
            .filter(|task| task.demand.cpu > 0)
            .map(|task| (task.runtime.clone(), task.demand.cpu))
    });
    let Some((runtime, cpu)) = lent else {
        return f();
    };
    struct Reclaim(crate::runtime::Runtime, i64);
    impl Drop for Reclaim {
        fn drop(&mut self) {
            self.0.scheduler().reclaim_cpu(self.1);
        }
    }
    runtime.scheduler().lend_cpu(cpu);
    let _reclaim = Reclaim(runtime, cpu);
    f()
}
