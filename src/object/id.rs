//! [`ObjectId`]: the name of one object.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::runtime::RuntimeId;

/// Identifies an object: the runtime that owns it and its index there.
///
/// Globally unique (128 bits): runtime ids are 64 random bits, and each
/// runtime numbers its objects from 1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId {
    runtime: RuntimeId,
    index: u64,
}

impl ObjectId {
    pub(crate) fn new(runtime: RuntimeId, index: u64) -> Self {
        ObjectId { runtime, index }
    }

    /// The runtime that owns the object.
    pub fn runtime(&self) -> RuntimeId {
        self.runtime
    }

    /// The object's index within its runtime.
    pub fn index(&self) -> u64 {
        self.index
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obj-{:016x}-{}", self.runtime.as_u64(), self.index)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
