//! [`TaskSpec`]: a task as data, and [`TaskName`].
//!
//! A spec says everything about a task but its arguments and its body: its
//! name, what it holds while it runs, how often it may run again, how many
//! objects it makes, and where it runs (the pool, or an actor's mailbox as
//! call number `seq`). The scheduler and the runners read only this.

use std::sync::Arc;

use crate::task::place::Place;
use crate::task::resources::Demand;

/// What one task is, besides its arguments and body.
pub(crate) struct TaskSpec {
    pub(crate) name: TaskName,
    /// What it holds while it runs.
    pub(crate) demand: Demand,
    /// Retries of a failed attempt (of application errors only with
    /// `retry_exceptions`).
    pub(crate) max_retries: u32,
    pub(crate) retry_exceptions: bool,
    /// How many objects it makes.
    pub(crate) outputs: usize,
    /// Where it runs: the pool when `None`.
    pub(crate) place: Option<Arc<dyn Place>>,
    /// Its number at its place (actor calls run in this order).
    pub(crate) seq: u64,
    /// The number of its first attempt: 0, but in a Ray worker running a
    /// task that Ray retries.
    pub(crate) first_attempt: u32,
}

/// A task's name: its function's path (no allocation per call) or the name
/// it was given.
#[derive(Clone, Debug)]
pub(crate) enum TaskName {
    Function(&'static str),
    Given(Arc<str>),
}

impl std::ops::Deref for TaskName {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            TaskName::Function(name) => name,
            TaskName::Given(name) => name,
        }
    }
}

impl std::fmt::Display for TaskName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}
