//! [`Store`]: one runtime's object accounts and id table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::id::ObjectId;
use crate::object::value::Value;
use crate::runtime::RuntimeId;

/// What a runtime's object store holds, from [`Runtime::memory`](crate::Runtime::memory).
///
/// Sizes are bytes of each object's serialized (postcard) form, so they are
/// the same whatever the in-memory layout and can be asserted on exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// Objects held in memory.
    pub objects_in_memory: u64,
    /// Their bytes.
    pub bytes_in_memory: u64,
    /// Objects spilled to disk.
    pub objects_spilled: u64,
    /// Their bytes.
    pub bytes_spilled: u64,
    /// The configured limit on `bytes_in_memory`.
    pub limit: u64,
}

/// The per-runtime part of the object store that cells share.
///
/// Objects themselves live in their [`ObjectCell`]s, reached through refs;
/// the store only numbers them, keeps the accounts, and keeps an id table
/// for the cells whose refs were serialized (so a decoded ref can find
/// them). None of it is process-wide: each runtime has its own.
pub(crate) struct Store {
    runtime: RuntimeId,
    runtime_name: Arc<str>,
    next_index: AtomicU64,
    closed: AtomicBool,
    objects: AtomicU64,
    bytes: AtomicU64,
    limit: u64,
    exported: Mutex<HashMap<u64, Weak<ObjectCell>>>,
}

impl Store {
    pub(crate) fn new(runtime: RuntimeId, runtime_name: Arc<str>, limit: u64) -> Store {
        Store {
            runtime,
            runtime_name,
            next_index: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            limit,
            exported: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn next_id(&self) -> ObjectId {
        ObjectId::new(self.runtime, self.next_index.fetch_add(1, Ordering::Relaxed))
    }

    /// Refuses work once the runtime is shut down.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(self.shut_down())
        } else {
            Ok(())
        }
    }

    pub(crate) fn shut_down(&self) -> Error {
        Error::ShutDown {
            runtime: self.runtime_name.to_string(),
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Stores `value` as a new, ready object.
    pub(crate) fn put(self: &Arc<Self>, value: Value) -> Result<Arc<ObjectCell>> {
        self.check_open()?;
        Ok(ObjectCell::ready(Arc::clone(self), self.next_id(), value))
    }

    /// A new object that a task will complete.
    pub(crate) fn pending(self: &Arc<Self>) -> Arc<ObjectCell> {
        ObjectCell::pending(Arc::clone(self), self.next_id())
    }

    pub(crate) fn account_add(&self, bytes: u64) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn account_sub(&self, bytes: u64) {
        self.objects.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub(crate) fn memory(&self) -> MemoryStats {
        MemoryStats {
            objects_in_memory: self.objects.load(Ordering::Relaxed),
            bytes_in_memory: self.bytes.load(Ordering::Relaxed),
            objects_spilled: 0,
            bytes_spilled: 0,
            limit: self.limit,
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<ObjectCell>>> {
        self.exported.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, cell: &Arc<ObjectCell>) {
        self.table().insert(cell.id().index(), Arc::downgrade(cell));
    }

    pub(crate) fn forget(&self, id: ObjectId) {
        let mut table = self.table();
        // A dead entry only: a new cell never reuses an index.
        if table.get(&id.index()).is_some_and(|w| w.strong_count() == 0) {
            table.remove(&id.index());
        }
    }

    /// The live cell with this id, for a decoded ref.
    pub(crate) fn lookup(&self, id: ObjectId) -> Result<Arc<ObjectCell>> {
        self.check_open()?;
        self.table()
            .get(&id.index())
            .and_then(Weak::upgrade)
            .ok_or_else(|| Error::ObjectLost {
                object: id.to_string(),
                reason: "no live object has this id in its runtime (freed, or never exported)"
                    .to_string(),
            })
    }
}
