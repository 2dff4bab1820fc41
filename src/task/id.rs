//! [`TaskId`] and [`ActorId`]: the names of one task and of one actor.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::object::RuntimeId;

/// Identifies a task (or actor call): its runtime and its number there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    runtime: RuntimeId,
    index: u64,
}

impl TaskId {
    pub(crate) fn new(runtime: RuntimeId, index: u64) -> Self {
        TaskId { runtime, index }
    }

    /// The task's number within its runtime.
    pub fn index(&self) -> u64 {
        self.index
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task-{:016x}-{}", self.runtime.as_u64(), self.index)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Identifies an actor: its runtime and its number there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActorId {
    runtime: RuntimeId,
    index: u64,
}

impl ActorId {
    pub(crate) fn new(runtime: RuntimeId, index: u64) -> Self {
        ActorId { runtime, index }
    }

    /// The runtime that owns the actor.
    pub fn runtime(&self) -> RuntimeId {
        self.runtime
    }

    /// The actor's number within its runtime.
    pub fn index(&self) -> u64 {
        self.index
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor-{:016x}-{}", self.runtime.as_u64(), self.index)
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
