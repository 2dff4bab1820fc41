//! The probe task tests share: a gate a test opens, and counters its tasks
//! report to. Tasks reach it by key (task arguments must be objects).

use std::sync::{Arc, Mutex};

use super::{Count, Keyed, Registry, TestState};

/// What tasks report to their test, and the gate that holds them.
#[derive(Default)]
pub struct Probe {
    /// Opened (count 1) by the test.
    pub gate: Count,
    pub started: Count,
    pub finished: Count,
    /// Set by a sync task that saw `is_cancelled()`.
    pub saw_cancel: Count,
    /// Drops of an async task's future.
    pub dropped: Count,
    /// Attempt numbers seen by a retried task.
    pub attempts: Mutex<Vec<u32>>,
}

impl Probe {
    pub fn open(&self) {
        self.gate.incr();
    }
}

/// Probes stay after their test: a task that starts late finds its gate
/// open.
static PROBES: Registry<Probe> = Registry::keeping_released();

impl Keyed for Probe {
    fn registry() -> &'static Registry<Probe> {
        &PROBES
    }

    fn release(&self) {
        self.open();
    }
}

/// The probe with this key (created on first use).
pub fn probe(key: u64) -> Arc<Probe> {
    PROBES.get_or_default(key)
}

/// A test's own probe: a fresh key, and its gate opened on drop so that a
/// failing test leaves no task blocked.
pub type TestProbe = TestState<Probe>;

/// Reports the drop of the future holding it.
pub struct DropSignal(pub Arc<Probe>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.dropped.incr();
    }
}
