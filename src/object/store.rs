//! [`Store`]: one runtime's object accounts, memory limit and spilling.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use slab::Slab;

use crate::error::{Error, Result};
use crate::object::cell::{ObjectCell, Producer, State};
use crate::object::copy;
use crate::object::id::ObjectId;
use crate::object::recycle::BytePool;
use crate::object::spill::{self, SpillDir, SpillFile};
use crate::object::value::Value;
use crate::runtime::{context, RuntimeId, WeakRuntime};
use crate::sync::lock;

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

#[derive(Default)]
struct Account {
    objects: AtomicU64,
    bytes: AtomicU64,
}

impl Account {
    fn add(&self, bytes: u64) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sub(&self, bytes: u64) {
        self.objects.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// The per-runtime part of the object store that cells share.
///
/// Objects live in their [`ObjectCell`]s, reached through refs. The store
/// numbers them, keeps the accounts, enforces the memory limit (a value that
/// would pass it spills the least recently read unpinned objects, or goes
/// to disk itself), and keeps two tables: every live cell (for spilling and
/// shutdown) and the cells whose refs were serialized (so a decoded ref can
/// find them). Each runtime has its own; nothing here is process-wide.
pub(crate) struct Store {
    runtime: RuntimeId,
    runtime_name: Arc<str>,
    scope: OnceLock<WeakRuntime>,
    next_index: AtomicU64,
    closed: AtomicBool,
    memory: Account,
    spilled: Account,
    limit: u64,
    clock: AtomicU64,
    spill_dir: SpillDir,
    /// Serializes spilling: one thread picks victims and writes at a time.
    spilling: Mutex<()>,
    /// Every live cell, in shards so that threads creating and freeing
    /// objects at once rarely meet on a lock.
    cells: [Mutex<Slab<Weak<ObjectCell>>>; SHARDS],
    bytes: BytePool,
    exported: Mutex<HashMap<u64, Weak<ObjectCell>>>,
}

const SHARDS: usize = 16;

impl Store {
    pub(crate) fn new(
        runtime: RuntimeId,
        runtime_name: Arc<str>,
        limit: u64,
        spill_dir: &Path,
    ) -> Store {
        Store {
            runtime,
            runtime_name,
            scope: OnceLock::new(),
            next_index: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            memory: Account::default(),
            spilled: Account::default(),
            limit,
            clock: AtomicU64::new(0),
            spill_dir: SpillDir::new(spill_dir.to_path_buf()),
            spilling: Mutex::new(()),
            cells: std::array::from_fn(|_| Mutex::new(Slab::new())),
            bytes: BytePool::default(),
            exported: Mutex::new(HashMap::new()),
        }
    }

    /// The runtime this store belongs to, while it exists.
    pub(crate) fn runtime(&self) -> Option<crate::runtime::Runtime> {
        self.scope.get().and_then(WeakRuntime::upgrade)
    }

    /// The runtime whose scope decoding runs in (set once at start).
    pub(crate) fn set_scope(&self, runtime: WeakRuntime) {
        let _ = self.scope.set(runtime);
    }

    pub(crate) fn next_id(&self) -> ObjectId {
        ObjectId::new(
            self.runtime,
            self.next_index.fetch_add(1, Ordering::Relaxed),
        )
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

    /// Stores `value` as a new, ready object.
    pub(crate) fn put(self: &Arc<Self>, value: Value) -> Result<Arc<ObjectCell>> {
        self.check_open()?;
        ObjectCell::ready(self, self.next_id(), value)
    }

    /// A new object that is already an error (a call that failed before it
    /// was submitted).
    pub(crate) fn failed(self: &Arc<Self>, err: Error) -> Arc<ObjectCell> {
        ObjectCell::failed(self, self.next_id(), err)
    }

    /// A new object that `producer` will complete.
    pub(crate) fn pending(self: &Arc<Self>, producer: Weak<dyn Producer>) -> Arc<ObjectCell> {
        ObjectCell::pending(self, self.next_id(), producer)
    }

    /// Advances the access clock: every put and read is one tick, so the
    /// least recently used object is the one with the oldest tick.
    pub(crate) fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn bytes(&self) -> &BytePool {
        &self.bytes
    }

    pub(crate) fn spill_dir(&self) -> &SpillDir {
        &self.spill_dir
    }

    /// Plain std values (numbers, short strings…) born ready below this
    /// size are not in the table: spilling them would free next to nothing,
    /// and a put of one stays a few allocations and no lock. (Values that
    /// may hold refs, and objects completed by tasks, are always in it:
    /// shutdown completes the pending ones through it.)
    pub(crate) const TRACK_MIN: u64 = 64;

    /// Adds a cell to the table; its key (shard in the low bits).
    pub(crate) fn track(&self, id: ObjectId, cell: Weak<ObjectCell>) -> usize {
        let shard = id.index() as usize % SHARDS;
        lock(&self.cells[shard]).insert(cell) * SHARDS + shard
    }

    pub(crate) fn untrack(&self, key: usize) {
        lock(&self.cells[key % SHARDS]).try_remove(key / SHARDS);
    }

    fn live_cells(&self) -> Vec<Arc<ObjectCell>> {
        self.cells
            .iter()
            .flat_map(|shard| {
                lock(shard)
                    .iter()
                    .filter_map(|(_, w)| w.upgrade())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Where a new value goes: memory when it fits under the limit (after
    /// spilling older objects if need be), else disk. Only when the disk
    /// fails too is it refused, with `StoreFull`; nothing stored is lost.
    pub(crate) fn admit(self: &Arc<Self>, id: ObjectId, value: Value) -> Result<State> {
        let size = value.size();
        if size <= self.limit {
            if self.reserve(size) {
                return Ok(State::Ready(value));
            }
            let spilled = self.make_room(size);
            if spilled.is_ok() && self.reserve(size) {
                return Ok(State::Ready(value));
            }
        }
        self.write_through(id, &value)
            .map_err(|err| Error::StoreFull {
                reason: format!(
                "object {id} of {size} bytes does not fit in memory ({} of {} bytes in use) and \
                 could not be spilled to {}: {err}",
                self.memory.bytes.load(Ordering::Relaxed),
                self.limit,
                self.spill_dir.path().display()
            ),
            })
    }

    /// Takes `size` bytes of the memory limit, if they are free.
    fn reserve(&self, size: u64) -> bool {
        let bytes = &self.memory.bytes;
        let mut used = bytes.load(Ordering::Relaxed);
        loop {
            if used + size > self.limit {
                return false;
            }
            match bytes.compare_exchange_weak(
                used,
                used + size,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.memory.objects.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(now) => used = now,
            }
        }
    }

    /// Spills least recently read, unpinned objects until `size` more bytes
    /// fit under the limit (or nothing more can go).
    fn make_room(&self, size: u64) -> std::io::Result<()> {
        let _one_at_a_time = lock(&self.spilling);
        let over = |store: &Store| {
            (store.memory.bytes.load(Ordering::Relaxed) + size).saturating_sub(store.limit)
        };
        if over(self) == 0 {
            return Ok(());
        }
        let mut candidates = self.live_cells();
        candidates.sort_by_cached_key(|cell| cell.last_access());
        for cell in candidates {
            if over(self) == 0 {
                break;
            }
            cell.spill()?;
        }
        Ok(())
    }

    fn write_through(self: &Arc<Self>, id: ObjectId, value: &Value) -> std::io::Result<State> {
        let (bytes, keep_alive) =
            spill::encode(value).map_err(|e| std::io::Error::other(e.to_string()))?;
        let path = self.spill_dir.write(id, &bytes)?;
        let file = SpillFile::new(self, id, path, bytes.len() as u64, keep_alive);
        Ok(State::Spilled(Arc::new(file)))
    }

    /// Returns the bytes of a state that leaves a cell to the account.
    pub(crate) fn unaccount(&self, state: &State) {
        if let State::Ready(value) = state {
            self.memory.sub(value.size());
        }
    }

    pub(crate) fn account_spilled(&self, bytes: u64, added: bool) {
        if added {
            self.spilled.add(bytes);
        } else {
            self.spilled.sub(bytes);
        }
    }

    pub(crate) fn memory(&self) -> MemoryStats {
        MemoryStats {
            objects_in_memory: self.memory.objects.load(Ordering::Relaxed),
            bytes_in_memory: self.memory.bytes.load(Ordering::Relaxed),
            objects_spilled: self.spilled.objects.load(Ordering::Relaxed),
            bytes_spilled: self.spilled.bytes.load(Ordering::Relaxed),
            limit: self.limit,
        }
    }

    /// Decodes `bytes` as a `T` in the scope of this store's runtime, so
    /// that refs inside bind to it whichever thread reads. Every byte must
    /// belong to the `T` (see [`decode_value`](crate::object::decode_value)).
    pub(crate) fn decode<T: serde::de::DeserializeOwned + 'static>(
        &self,
        bytes: &[u8],
    ) -> Result<T> {
        if let Some(value) = copy::decode_bytes(bytes) {
            return Ok(value);
        }
        let runtime = self.scope.get().and_then(WeakRuntime::upgrade);
        let _scope = runtime
            .filter(|rt| !context::is_current(rt))
            .map(context::install);
        crate::object::decode_value(bytes)
    }

    pub(crate) fn register(&self, cell: &Arc<ObjectCell>) {
        lock(&self.exported).insert(cell.id().index(), Arc::downgrade(cell));
    }

    pub(crate) fn forget(&self, id: ObjectId) {
        let mut table = lock(&self.exported);
        // A dead entry only: a new cell never reuses an index.
        if table
            .get(&id.index())
            .is_some_and(|w| w.strong_count() == 0)
        {
            table.remove(&id.index());
        }
    }

    /// The live cell with this id, for a decoded ref.
    pub(crate) fn lookup(&self, id: ObjectId) -> Result<Arc<ObjectCell>> {
        self.check_open()?;
        lock(&self.exported)
            .get(&id.index())
            .and_then(Weak::upgrade)
            .ok_or_else(|| Error::ObjectLost {
                object: id.to_string(),
                reason: "no live object has this id in its runtime (freed, or never exported)"
                    .to_string(),
            })
    }

    /// Shutdown: refuse new work, complete every pending object, drop
    /// every value (in memory and on disk) and remove the spill directory.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn release_all(&self) {
        let cells = self.live_cells();
        for cell in &cells {
            cell.release(self.shut_down());
        }
        drop(cells);
        self.spill_dir.remove();
    }
}
