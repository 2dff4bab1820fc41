//! [`TaskSpec`]: a task as data, and [`TaskName`].
//!
//! A spec says everything about a task but its arguments and its body: its
//! name, what it holds while it runs, how often it may run again, how many
//! objects it makes, and where it runs (the pool, or an actor's mailbox as
//! call number `seq`). The scheduler and the runners read only this.

use std::sync::Arc;

use crate::task::id::RAY_TASK_ID_LEN;
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
    /// Its first attempt: 0 of a new task, but in a Ray worker, the
    /// attempt of Ray's task that Ray runs.
    pub(crate) first_attempt: FirstAttempt,
}

/// The attempt a submission runs first: attempt 0 of a new task of its
/// runtime; in a Ray worker, the attempt Ray runs of Ray's task (Ray does
/// the retrying), whose id [`Context::task_id`](crate::Context::task_id)
/// then says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FirstAttempt {
    pub(crate) number: u32,
    pub(crate) ray_task: Option<[u8; RAY_TASK_ID_LEN]>,
}

impl FirstAttempt {
    /// Attempt 0 of a new task.
    pub(crate) const NEW: FirstAttempt = FirstAttempt {
        number: 0,
        ray_task: None,
    };
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
