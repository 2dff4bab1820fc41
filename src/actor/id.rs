//! [`ActorId`]: the name of one actor.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::runtime::RuntimeId;

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
