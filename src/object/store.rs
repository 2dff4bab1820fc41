//! [`Store`]: one runtime's object accounts, memory limit and spilling.

use std::any::type_name;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use slab::Slab;

use crate::error::{Error, Result};
use crate::object::cell::{ObjectCell, Producer, State};
use crate::object::codec::Codec;
use crate::object::copy;
use crate::object::hooks::{Guard, Hooks, SendGuard};
use crate::object::id::ObjectId;
use crate::object::recycle::BytePool;
use crate::object::spill::{self, Encoded, SpillDir, SpillFile, PACK_MAX};
use crate::object::value::Value;
use crate::object::RuntimeId;
use crate::sync::{catch, lock, Padded};

/// What a runtime's object store holds, from [`Runtime::memory`](crate::Runtime::memory).
///
/// Sizes are bytes of each object's serialized (postcard) form, so they are
/// the same whatever the in-memory layout and can be asserted on exactly.
/// An object on disk counts its own bytes, whether it has a file to itself
/// or shares one with others.
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
    /// Objects ever spilled (cumulative): moved from memory to disk, or
    /// written straight to disk for want of room, including those since
    /// freed or restored.
    pub spilled_total: u64,
    /// Objects ever restored (cumulative): read back from disk into memory
    /// because there was room for them again.
    pub restored_total: u64,
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

/// One shard of the resident table: slots of weak cells, reused.
#[derive(Default)]
struct Ring {
    slots: Vec<Option<Weak<ObjectCell>>>,
    free: Vec<usize>,
    len: usize,
}

impl Ring {
    fn insert(&mut self, cell: Weak<ObjectCell>) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(cell);
                slot
            }
            None => {
                self.slots.push(Some(cell));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) {
        if self.slots.get_mut(slot).and_then(Option::take).is_some() {
            self.len -= 1;
            self.free.push(slot);
        }
    }
}

/// Where the spilling sweep's CLOCK hand is: a slot, and the shard of the
/// resident table whose slot it is.
#[derive(Default)]
struct Hand {
    shard: usize,
    slot: usize,
}

/// The most a spill batch frees beyond what the new object needs.
const BATCH_MAX: u64 = 4 << 20;

/// Spill batches one `put` may run before it writes its value to disk
/// instead (each one frees down to the low-water mark unless readers pin
/// the victims).
const ROUNDS: usize = 4;

thread_local! {
    /// Set while this thread runs user code for a spill (a `Serialize`):
    /// a `put` from there must not start spilling again.
    static IN_SPILL: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as spilling while alive.
struct InSpill(bool);

impl InSpill {
    fn enter() -> InSpill {
        InSpill(IN_SPILL.with(|s| s.replace(true)))
    }
}

impl Drop for InSpill {
    fn drop(&mut self) {
        IN_SPILL.with(|s| s.set(self.0));
    }
}

/// Drops `item`, which may run user code (a value's `Drop`), inside
/// `catch`: a panic there is reported and goes no further.
pub(crate) fn drop_caught<T>(item: T) {
    if let Err(panic) = catch(move || drop(item)) {
        tracing::warn!(%panic, "a stored value's `Drop` panicked while the store moved it; ignored");
    }
}

/// What spilling lets go of: dropped outside the spilling lock, each item
/// inside `catch` (dropping a value or a cell may run a user `Drop`).
#[derive(Default)]
struct Garbage {
    cells: Vec<Arc<ObjectCell>>,
    values: Vec<Value>,
    states: Vec<State>,
    files: Vec<SpillFile>,
    encoded: Vec<Encoded>,
}

impl Garbage {
    fn drop_each(self) {
        self.states.into_iter().for_each(drop_caught);
        self.values.into_iter().for_each(drop_caught);
        self.files.into_iter().for_each(drop_caught);
        self.encoded.into_iter().for_each(drop_caught);
        self.cells.into_iter().for_each(drop_caught);
    }
}

/// A victim of the sweep: its cell and its value, pinned.
type Victim = (Arc<ObjectCell>, Value);

/// The per-runtime part of the object store that cells share.
///
/// Objects live in their [`ObjectCell`]s, reached through refs. The store
/// numbers them, keeps the accounts, enforces the memory limit, and keeps
/// three tables: every live cell (for shutdown), the cells whose value is
/// in memory and may be spilled (the *resident* table, swept by spilling),
/// and the cells whose refs were serialized (so a decoded ref can find
/// them). Each runtime has its own; nothing here is process-wide.
///
/// # Spilling
///
/// A value that does not fit under the limit makes room (`make_room`):
/// one thread at a time sweeps the resident table with a CLOCK hand. A cell
/// read since the hand last passed has its referenced bit set: the hand
/// clears it and moves on; a cell not read since is a victim, unless a
/// reader holds its value or its `Serialize` once failed. Each victim costs
/// O(1), and no read touches anything shared. One sweep frees down to a
/// low-water mark (`limit − min(limit / 8, 4 MiB)`), so the puts after it
/// find room without spilling; its small victims (under
/// [`PACK_MAX`]) go into one shared file, the others into a file each.
pub(crate) struct Store {
    runtime: RuntimeId,
    runtime_name: Arc<str>,
    /// The policy of the runtime above (see `hooks`).
    hooks: OnceLock<Arc<dyn Hooks>>,
    /// Taken by every submit, apart from the accounts that completions
    /// write.
    next_index: Padded<AtomicU64>,
    closed: AtomicBool,
    memory: Account,
    spilled: Account,
    spilled_total: AtomicU64,
    /// Objects that completed with an error (what a failing-fast wait
    /// watches for).
    failures: AtomicU64,
    restored_total: AtomicU64,
    limit: u64,
    spill_dir: SpillDir,
    /// Serializes spilling: one thread sweeps and writes at a time.
    spilling: Mutex<Hand>,
    /// Every live cell, in shards so that threads creating and freeing
    /// objects at once rarely meet on a lock.
    cells: [Mutex<Slab<Weak<ObjectCell>>>; SHARDS],
    /// The cells whose value is in memory and may be spilled.
    resident: [Mutex<Ring>; SHARDS],
    bytes: BytePool,
    exported: Mutex<HashMap<u64, Weak<ObjectCell>>>,
}

const SHARDS: usize = 16;

impl Store {
    pub(crate) fn new(
        runtime: RuntimeId,
        runtime_name: Arc<str>,
        limit: u64,
        spill_dir: SpillDir,
    ) -> Store {
        Store {
            runtime,
            runtime_name,
            hooks: OnceLock::new(),
            next_index: Padded(AtomicU64::new(1)),
            closed: AtomicBool::new(false),
            memory: Account::default(),
            spilled: Account::default(),
            spilled_total: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            restored_total: AtomicU64::new(0),
            limit,
            spill_dir,
            spilling: Mutex::new(Hand::default()),
            cells: std::array::from_fn(|_| Mutex::new(Slab::new())),
            resident: std::array::from_fn(|_| Mutex::new(Ring::default())),
            bytes: BytePool::default(),
            exported: Mutex::new(HashMap::new()),
        }
    }

    /// The runtime this store belongs to, while it exists.
    /// Installs the policy of the runtime above (once, at its start).
    pub(crate) fn set_hooks(&self, hooks: Arc<dyn Hooks>) {
        let _ = self.hooks.set(hooks);
    }

    /// The id of the runtime this store belongs to.
    pub(crate) fn runtime_id(&self) -> RuntimeId {
        self.runtime
    }

    /// The name of that runtime.
    pub(crate) fn runtime_name(&self) -> &str {
        &self.runtime_name
    }

    /// See [`Hooks::may_help_many`].
    pub(crate) fn may_help_many(&self) -> bool {
        self.hooks.get().is_some_and(|hooks| hooks.may_help_many())
    }

    /// See [`Hooks::refuse_blocking`].
    pub(crate) fn refuse_blocking(&self, call: &'static str) -> Result<()> {
        match self.hooks.get() {
            Some(hooks) => hooks.refuse_blocking(call),
            None => Ok(()),
        }
    }

    /// See [`Hooks::blocking`].
    pub(crate) fn blocking(&self) -> Option<Guard> {
        self.hooks.get().and_then(|hooks| hooks.blocking())
    }

    /// See [`Hooks::lend`].
    pub(crate) fn lend(&self) -> Option<SendGuard> {
        self.hooks.get().and_then(|hooks| hooks.lend())
    }

    /// See [`Hooks::timers`].
    pub(crate) fn timers(&self) -> Option<tokio::runtime::Handle> {
        self.hooks.get().and_then(|hooks| hooks.timers())
    }

    pub(crate) fn next_id(&self) -> ObjectId {
        ObjectId::new(
            self.runtime,
            self.next_index.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// An object completed with an error.
    pub(crate) fn note_failure(&self) {
        self.failures.fetch_add(1, Ordering::AcqRel);
    }

    /// How many objects completed with an error so far.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Acquire)
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
    /// A new pending object of `producer`; with `keep_block`, the
    /// producer's allocation is freed with the object (see `ObjectCell`).
    pub(crate) fn pending(
        self: &Arc<Self>,
        producer: Weak<dyn Producer>,
        keep_block: bool,
    ) -> Arc<ObjectCell> {
        ObjectCell::pending(self, self.next_id(), producer, keep_block)
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

    /// Adds a cell whose value is in memory to the resident table; its
    /// key (shard in the low bits).
    pub(crate) fn make_resident(&self, id: ObjectId, cell: Weak<ObjectCell>) -> usize {
        // Indices start at 1: object 1 goes to slot 0 of shard 0, so that the
        // sweep's slot-by-slot order is the order of creation.
        let shard = (id.index() as usize).wrapping_sub(1) % SHARDS;
        lock(&self.resident[shard]).insert(cell) * SHARDS + shard
    }

    pub(crate) fn evict(&self, key: usize) {
        lock(&self.resident[key % SHARDS]).remove(key / SHARDS);
    }

    pub(crate) fn live_cells(&self) -> Vec<Arc<ObjectCell>> {
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
    /// fails too is it refused, with `StoreFull`; nothing stored is lost. A
    /// value that must go to disk but cannot be encoded is refused with the
    /// `Serialization` error of its own `Serialize`.
    pub(crate) fn admit(self: &Arc<Self>, id: ObjectId, value: Value) -> Result<State> {
        let size = value.size();
        let mut spill_error = None;
        if size <= self.limit {
            if self.reserve(size) {
                return Ok(State::Ready(value));
            }
            spill_error = self.make_room(size).err();
            if self.reserve(size) {
                return Ok(State::Ready(value));
            }
        }
        let encoded = spill::encode(id, &value)?;
        let written = spill::write(self, vec![encoded]).and_then(|mut files| {
            files
                .pop()
                .ok_or_else(|| std::io::Error::other("no file written"))
        });
        match written {
            Ok(file) => {
                self.spilled_total.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    target: "rustyray::object",
                    runtime = %self.runtime_name,
                    object = %id,
                    bytes = size,
                    "spilled on arrival: no room in memory"
                );
                drop_caught(value);
                Ok(State::Spilled(Arc::new(file)))
            }
            Err(err) => {
                let err = spill_error.map_or(err.to_string(), |first| {
                    format!("{err} (and making room failed: {first})")
                });
                Err(Error::StoreFull {
                    reason: format!(
                        "object {id} of {size} bytes does not fit in memory ({} of {} bytes in \
                         use) and could not be spilled to {}: {err}",
                        self.memory.bytes.load(Ordering::Relaxed),
                        self.limit,
                        self.spill_dir.path().display()
                    ),
                })
            }
        }
    }

    /// Takes `size` bytes of the memory limit, if they are free.
    pub(crate) fn reserve(&self, size: u64) -> bool {
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

    /// Gives back what [`reserve`](Self::reserve) took.
    pub(crate) fn release(&self, size: u64) {
        self.memory.sub(size);
    }

    /// Spills objects nobody read lately until `size` more bytes fit under
    /// the limit, and down to the low-water mark if it can (see the type's
    /// docs). A spill batch that the disk refuses stops it with the error.
    fn make_room(self: &Arc<Self>, size: u64) -> std::io::Result<()> {
        if IN_SPILL.with(Cell::get) {
            return Ok(()); // a `Serialize` run by spilling put something
        }
        let mut garbage = Garbage::default();
        let result = {
            let mut hand = lock(&self.spilling);
            let mut result = Ok(());
            for _ in 0..ROUNDS {
                let used = self.memory.bytes.load(Ordering::Relaxed);
                if used + size <= self.limit {
                    break;
                }
                let low_water = self.limit - (self.limit / 8).min(BATCH_MAX);
                let want = (used + size).saturating_sub(low_water).min(used);
                let victims = self.sweep(&mut hand, want, &mut garbage);
                if victims.is_empty() {
                    break;
                }
                result = self.spill(victims, &mut garbage);
                if result.is_err() {
                    break;
                }
            }
            result
        };
        garbage.drop_each();
        result
    }

    /// Moves the hand over the resident table until the victims found hold
    /// `want` bytes, or every cell was passed twice (once to clear its
    /// referenced bit, once to take it).
    ///
    /// The hand goes slot by slot across the shards (slot 0 of every shard,
    /// then slot 1, …): objects are numbered round-robin over the shards, so
    /// in a table filled in order this is the order of creation, and the
    /// oldest unread objects go first.
    fn sweep(&self, hand: &mut Hand, want: u64, garbage: &mut Garbage) -> Vec<Victim> {
        let (mut entries, mut width) = (0, 0);
        for shard in &self.resident {
            let ring = lock(shard);
            entries += ring.len;
            width = width.max(ring.slots.len());
        }
        let (max_seen, max_visited) = (2 * entries, 2 * width * SHARDS + SHARDS);
        let (mut seen, mut visited, mut bytes) = (0, 0, 0);
        let mut victims = Vec::new();
        while bytes < want && seen < max_seen && visited < max_visited {
            if hand.slot >= width {
                *hand = Hand::default();
            }
            // The lock is released before the upgraded cell can be dropped:
            // dropping the last strong ref would take it again.
            let found = lock(&self.resident[hand.shard])
                .slots
                .get(hand.slot)
                .and_then(Option::as_ref)
                .map(Weak::upgrade);
            hand.shard += 1;
            if hand.shard == SHARDS {
                hand.shard = 0;
                hand.slot += 1;
            }
            visited += 1;
            let Some(found) = found else { continue };
            seen += 1;
            let Some(cell) = found else { continue };
            if !cell.clear_referenced() {
                if let Some(value) = cell.spill_candidate() {
                    bytes += value.size();
                    victims.push((cell, value));
                    continue;
                }
            }
            garbage.cells.push(cell);
        }
        victims
    }

    /// Writes the victims to disk (the small ones into one shared file, each
    /// large one into its own) and moves those nobody pinned meanwhile out
    /// of memory. A victim whose `Serialize` fails stays in memory, marked
    /// so that no sweep takes it again.
    fn spill(self: &Arc<Self>, victims: Vec<Victim>, garbage: &mut Garbage) -> std::io::Result<()> {
        let mut small = Vec::new();
        let mut groups = Vec::new();
        {
            let _user_code = InSpill::enter();
            for (cell, value) in victims {
                match spill::encode(cell.id(), &value) {
                    Ok(encoded) if encoded.len() < PACK_MAX => small.push((cell, value, encoded)),
                    Ok(encoded) => groups.push(vec![(cell, value, encoded)]),
                    Err(err) => {
                        tracing::warn!(object = %cell.id(), %err, "kept in memory: its value cannot be spilled");
                        garbage.values.push(value);
                        garbage.cells.push(cell);
                    }
                }
            }
        }
        if !small.is_empty() {
            groups.push(small);
        }
        let mut result = Ok(());
        for group in groups {
            let mut owners = Vec::with_capacity(group.len());
            let mut encoded = Vec::with_capacity(group.len());
            for (cell, value, bytes) in group {
                owners.push((cell, value));
                encoded.push(bytes);
            }
            let files = if result.is_ok() {
                spill::write(self, encoded)
            } else {
                garbage.encoded.extend(encoded);
                Ok(Vec::new())
            };
            match files {
                Ok(files) => {
                    let mut committed = 0;
                    for ((cell, value), file) in owners.iter().zip(files) {
                        match cell.commit_spill(value, file) {
                            Ok(old) => {
                                committed += 1;
                                garbage.states.push(old);
                            }
                            Err(file) => garbage.files.push(file),
                        }
                    }
                    self.spilled_total.fetch_add(committed, Ordering::Relaxed);
                    tracing::debug!(
                        target: "rustyray::object",
                        runtime = %self.runtime_name,
                        objects = committed,
                        "spilled"
                    );
                }
                Err(err) => result = Err(err),
            }
            for (cell, value) in owners {
                garbage.values.push(value);
                garbage.cells.push(cell);
            }
        }
        result
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

    /// One more object restored from disk.
    pub(crate) fn count_restore(&self) {
        self.restored_total.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(target: "rustyray::object", runtime = %self.runtime_name, "restored");
    }

    pub(crate) fn memory(&self) -> MemoryStats {
        MemoryStats {
            objects_in_memory: self.memory.objects.load(Ordering::Relaxed),
            bytes_in_memory: self.memory.bytes.load(Ordering::Relaxed),
            objects_spilled: self.spilled.objects.load(Ordering::Relaxed),
            bytes_spilled: self.spilled.bytes.load(Ordering::Relaxed),
            spilled_total: self.spilled_total.load(Ordering::Relaxed),
            restored_total: self.restored_total.load(Ordering::Relaxed),
            limit: self.limit,
        }
    }

    /// Decodes `bytes` as a `T` in the scope of this store's runtime, so
    /// that refs inside bind to it whichever thread reads. Every byte must
    /// belong to the `T` (see [`Codec::decode`](crate::object::Codec::decode)).
    pub(crate) fn decode<T: serde::de::DeserializeOwned + 'static>(
        &self,
        bytes: &[u8],
    ) -> Result<T> {
        if let Some(value) = copy::decode_bytes(bytes) {
            return Ok(value);
        }
        let _scope = self.hooks.get().and_then(|hooks| hooks.enter());
        match catch(|| Codec::Postcard.decode(bytes)) {
            Ok(decoded) => decoded,
            Err(panic) => Err(Error::Serialization(format!(
                "decoding a `{}`: its `Deserialize` {panic}",
                type_name::<T>()
            ))),
        }
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

    /// Shutdown: refuses new work (see [`release_all`](Self::release_all)
    /// for the rest).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Shutdown: completes every pending object, drops every value (in
    /// memory and on disk) and deletes this runtime's spill files and
    /// directory.
    pub(crate) fn release_all(&self) {
        let cells = self.live_cells();
        for cell in &cells {
            cell.release(self.shut_down());
        }
        drop(cells);
        self.spill_dir.remove();
    }
}
