//! What a runtime knows of its tasks, for the state API and the timeline:
//! the live ones, where each is in its life, and a bounded record of those
//! that ended.
//!
//! Nothing here adds a lock or an allocation on the way in: a live task is
//! found through the objects it will produce (the store already tracks
//! every pending output, and each knows its producer), and its phase,
//! attempt and start time are atomics in its own allocation. A task that
//! ends writes one [`Ended`] entry into its runtime's ring (one lock of the
//! thread's own shard, no allocation once the ring is full), which keeps
//! the newest `Config::max_finished_tasks` (runtime layer) entries and
//! counts ended tasks by name. It writes it before its outcome shows (its
//! refs complete, or its actor opens for calls): whoever saw the outcome
//! finds the task ended in the listing and the timeline.
//!
//! A live task whose refs were all dropped is not found until it ends.
//!
//! Times cost no clock read between a caller and its result: a task run by
//! an idle worker starts when the worker took it (the clock read its wait
//! makes anyway), and a task that is its worker's job is stamped as ending
//! once the worker has published the job's results (the pool's
//! `after_publish` hook). Elsewhere (async tasks, tasks run while their
//! caller waits) the clock is read where they start and end.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::{Dispatch, Span};

use crate::exec::pool::{job_taken_at, runs_job};
use crate::object::store::Store;
use crate::object::RuntimeId;
use crate::sync::{lock, FastHash};
use crate::task::id::{ActorId, TaskId};
use crate::task::spec::TaskName;
use crate::task::task::Task;
use crate::task::trace;

/// Where a task is in its life, as [`list_tasks`](crate::state::list_tasks)
/// shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Some of its arguments are refs not complete yet.
    WaitingForDependencies,
    /// Its arguments are ready; it waits for its resources (or, an actor
    /// call, for its turn).
    Queued,
    /// An attempt is running.
    Running,
    /// It ended with its results.
    Finished,
    /// It ended with an error (its own, a failed dependency, a cancel, its
    /// actor's death or shutdown).
    Failed,
}

/// One task or actor call, as [`list_tasks`](crate::state::list_tasks)
/// shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// The task's id.
    pub id: TaskId,
    /// Its name, as [`Context::task_name`](crate::Context::task_name) says
    /// inside it: its function's path, `Actor.method`, or the name it was
    /// given.
    pub name: String,
    /// Where it is in its life.
    pub status: TaskStatus,
    /// Its current (or last) attempt: 0 for the first, 1 for the first
    /// retry, ….
    pub attempt: u32,
    /// The actor, for an actor call (or an actor's creation).
    pub actor: Option<ActorId>,
}

/// What a task keeps for observers, inside its own allocation.
pub(crate) struct Watch {
    /// The submitter's subscriber and span, when it had a subscriber.
    traced: Option<Box<Traced>>,
    attempt: AtomicU32,
    failed: AtomicBool,
    /// Its entry is in the ring (written once, before its refs complete).
    recorded: AtomicBool,
    /// When its first attempt started: nanoseconds since the history's
    /// epoch, plus one (0: not started).
    started: AtomicU64,
    /// The thread that started it (see [`thread_tag`]).
    thread: AtomicU32,
}

/// The tracing context of the thread that submitted a task.
pub(crate) struct Traced {
    pub(crate) dispatch: Dispatch,
    pub(crate) parent: Span,
}

impl Watch {
    /// A task's watch, taking the tracing context of the submitting thread.
    pub(crate) fn new() -> Watch {
        let traced = trace::capture().map(|dispatch| {
            Box::new(Traced {
                dispatch,
                parent: Span::current(),
            })
        });
        Watch {
            traced,
            attempt: AtomicU32::new(0),
            failed: AtomicBool::new(false),
            recorded: AtomicBool::new(false),
            started: AtomicU64::new(0),
            thread: AtomicU32::new(0),
        }
    }

    pub(crate) fn traced(&self) -> Option<&Traced> {
        self.traced.as_deref()
    }

    /// The submitter's subscriber, if it had one.
    pub(crate) fn dispatch(&self) -> Option<&Dispatch> {
        self.traced.as_ref().map(|t| &t.dispatch)
    }

    /// The task failed (some output completes with an error).
    pub(crate) fn failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn attempt(&self) -> u32 {
        self.attempt.load(Ordering::Relaxed)
    }
}

/// One task that left the system, as the ring keeps it (small: its ids
/// without their runtime, which is the history's).
#[derive(Clone)]
pub(crate) struct Ended {
    /// The task's index in its runtime.
    index: u64,
    pub(crate) name: TaskName,
    /// Its actor's index (0: none).
    actor: u64,
    pub(crate) attempt: u32,
    /// The thread it started on (0: it never ran).
    pub(crate) thread: u32,
    pub(crate) failed: bool,
    /// Nanoseconds since the epoch, plus one (0: it never ran).
    pub(crate) started: u64,
    /// Nanoseconds since the epoch.
    pub(crate) ended: u64,
}

impl Ended {
    /// The task's id; `runtime` is the history's.
    pub(crate) fn id(&self, runtime: RuntimeId) -> TaskId {
        TaskId::new(runtime, self.index)
    }

    /// The task's actor, if any.
    pub(crate) fn actor(&self, runtime: RuntimeId) -> Option<ActorId> {
        (self.actor != 0).then(|| ActorId::new(runtime, self.actor))
    }

    fn state(&self, runtime: RuntimeId) -> TaskState {
        TaskState {
            id: self.id(runtime),
            name: self.name.to_string(),
            status: if self.failed {
                TaskStatus::Failed
            } else {
                TaskStatus::Finished
            },
            attempt: self.attempt,
            actor: self.actor(runtime),
        }
    }
}

/// Tasks that ended, by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) finished: u64,
    pub(crate) failed: u64,
}

#[derive(Default)]
struct Ring {
    ended: VecDeque<Ended>,
    /// Ended tasks by name: `names[counts[name]]`.
    counts: HashMap<NameKey, usize, FastHash>,
    names: Vec<(NameKey, Counts)>,
    /// The entry of `names` counted last: a thread usually ends tasks of
    /// one function in a row, which then costs no lookup.
    last: usize,
}

impl Ring {
    /// The counts of `name`.
    fn counts(&mut self, name: &TaskName) -> &mut Counts {
        let key = NameKey(name.clone());
        let hit = self.names.get(self.last).is_some_and(|(k, _)| *k == key);
        if !hit {
            let key = if self.names.len() >= MAX_NAMES && !self.counts.contains_key(&key) {
                NameKey(TaskName::Function(OTHER))
            } else {
                key
            };
            self.last = match self.counts.get(&key) {
                Some(&i) => i,
                None => {
                    self.names.push((NameKey(key.0.clone()), Counts::default()));
                    self.counts.insert(key, self.names.len() - 1);
                    self.names.len() - 1
                }
            };
        }
        &mut self.names[self.last].1
    }
}

/// A task name as a key of the counts: a function's name by its address
/// (hashed in a few instructions), a given name by its text.
struct NameKey(TaskName);

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (TaskName::Function(a), TaskName::Function(b)) => std::ptr::eq(*a, *b),
            (TaskName::Given(a), TaskName::Given(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for NameKey {}

impl Hash for NameKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            TaskName::Function(name) => state.write_usize(name.as_ptr() as usize),
            TaskName::Given(name) => name.hash(state),
        }
    }
}

/// One runtime's record of its tasks that ended: the newest `capacity`.
///
/// In shards, one per worker thread as far as they go (by the thread's
/// tag), so that threads finishing tasks at once rarely meet on a lock.
/// Each shard keeps the newest `capacity` of its own; a listing merges
/// them and keeps the newest `capacity` overall.
pub(crate) struct History {
    runtime: RuntimeId,
    epoch: Instant,
    capacity: AtomicUsize,
    shards: [Shard; SHARDS],
}

const SHARDS: usize = 8;

/// One shard of the ring, on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<Ring>);

/// Distinct given names counted one by one; more are counted together
/// under [`OTHER`] (a runtime that names each call differently must not
/// grow its counts without bound).
const MAX_NAMES: usize = 1024;

/// Where the names past [`MAX_NAMES`] are counted.
const OTHER: &str = "(other names)";

/// How many ended tasks a runtime keeps by default.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

impl History {
    pub(crate) fn new(runtime: RuntimeId) -> History {
        History {
            runtime,
            epoch: Instant::now(),
            capacity: AtomicUsize::new(DEFAULT_CAPACITY),
            shards: Default::default(),
        }
    }

    /// Keeps the newest `capacity` ended tasks from now on.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity, Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        self.since_epoch(Instant::now())
    }

    /// `at` in nanoseconds since the epoch (0 before it).
    fn since_epoch(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Attempt `attempt` of `task` starts on this thread.
    pub(crate) fn attempt_starts(&self, task: &Task, attempt: u32) {
        let watch = &task.watch;
        if attempt > 0 {
            watch.attempt.store(attempt, Ordering::Relaxed);
        }
        if watch.started.load(Ordering::Relaxed) == 0 {
            // The moment its worker took it, when known: no clock read
            // between its caller and its result.
            let at = job_taken_at(as_job(task)).unwrap_or_else(Instant::now);
            watch
                .started
                .store(self.since_epoch(at) + 1, Ordering::Relaxed);
            watch.thread.store(thread_tag(), Ordering::Relaxed);
        }
    }

    /// `task` ended: its entry goes into the ring, once (later calls do
    /// nothing). Made before its refs complete, so that whoever sees them
    /// complete finds the task ended in the listing and the timeline.
    ///
    /// When the task is the job its worker thread runs (a thread of its own
    /// runtime's pool, which publishes the job's results only once it is
    /// ready for its next job), the entry's end time is stamped then
    /// (see [`stamp_pending`](Self::stamp_pending)): no clock read between
    /// a caller and its result. A listing in between reads the entry as
    /// ending at that listing.
    pub(crate) fn ended(&self, task: &Task) {
        if task.watch.recorded.swap(true, Ordering::Relaxed) {
            return;
        }
        let index = task.id.index();
        let ended = if runs_job(as_job(task)) {
            // One entry per thread waits for its stamp (a stamp the hook
            // missed is made now).
            if let Some(earlier) = UNSTAMPED.with(|u| u.replace(Some(index))) {
                self.stamp(earlier, self.now());
            }
            UNSTAMPED_AT
        } else {
            self.now()
        };
        let capacity = self.capacity.load(Ordering::Relaxed);
        let watch = &task.watch;
        let started = watch.started.load(Ordering::Relaxed);
        let entry = Ended {
            index,
            name: task.name.clone(),
            actor: match &task.place {
                Some(place) => place.actor().map_or(0, |a| a.id().index()),
                None => 0,
            },
            attempt: watch.attempt(),
            thread: watch.thread.load(Ordering::Relaxed),
            failed: watch.failed.load(Ordering::Relaxed),
            started,
            ended,
        };
        let shard = &self.shards[thread_tag() as usize % SHARDS];
        let old = {
            let mut ring = lock(&shard.0);
            let counts = ring.counts(&entry.name);
            if entry.failed {
                counts.failed += 1;
            } else {
                counts.finished += 1;
            }
            let old = if ring.ended.len() >= capacity {
                ring.ended.pop_front()
            } else {
                None
            };
            if capacity > 0 {
                ring.ended.push_back(entry);
            }
            old
        };
        // A given name's `Arc<str>` is freed outside the lock.
        drop(old);
    }

    /// Run by this runtime's worker threads once the results of a job are
    /// out: stamps the end of the entry the thread left unstamped; the
    /// clock read that took, if any (the start of the thread's next job,
    /// when it has one in hand).
    pub(crate) fn stamp_pending(&self) -> Option<Instant> {
        let index = UNSTAMPED.with(|u| u.take())?;
        let at = Instant::now();
        self.stamp(index, self.since_epoch(at));
        Some(at)
    }

    /// Stamps the entry of the task `index`, written by this thread, as
    /// ending at `at`.
    fn stamp(&self, index: u64, at: u64) {
        let shard = &self.shards[thread_tag() as usize % SHARDS];
        let mut ring = lock(&shard.0);
        // The newest entry of this thread's shard, but for a thread that
        // shares it.
        if let Some(entry) = ring
            .ended
            .iter_mut()
            .rev()
            .find(|e| e.index == index && e.ended == UNSTAMPED_AT)
        {
            entry.ended = at;
        }
    }

    /// The newest `capacity` ended tasks kept, oldest first.
    pub(crate) fn entries(&self) -> Vec<Ended> {
        let now = self.now();
        let mut entries: Vec<Ended> = self
            .shards
            .iter()
            .flat_map(|shard| lock(&shard.0).ended.iter().cloned().collect::<Vec<_>>())
            .map(|mut e| {
                if e.ended == UNSTAMPED_AT {
                    e.ended = now;
                }
                e
            })
            .collect();
        entries.sort_by_key(|e| (e.ended, e.index));
        let capacity = self.capacity.load(Ordering::Relaxed);
        let excess = entries.len().saturating_sub(capacity);
        entries.drain(..excess);
        entries
    }

    /// Ended tasks by name, since the runtime started.
    pub(crate) fn counts(&self) -> Vec<(String, Counts)> {
        let mut by_name: BTreeMap<String, Counts> = BTreeMap::new();
        for shard in &self.shards {
            for (name, counts) in lock(&shard.0).names.iter() {
                let total = by_name.entry(name.0.to_string()).or_default();
                total.finished += counts.finished;
                total.failed += counts.failed;
            }
        }
        by_name.into_iter().collect()
    }

    /// Every task of `store`'s runtime: the live ones found through their
    /// pending outputs, then those kept in the ring, ordered by id.
    pub(crate) fn list(&self, store: &Store) -> Vec<TaskState> {
        let mut tasks: Vec<TaskState> = self
            .entries()
            .iter()
            .map(|e| e.state(self.runtime))
            .collect();
        let ended: HashSet<TaskId> = tasks.iter().map(|t| t.id).collect();
        for task in live_tasks(store) {
            if ended.contains(&task.id) {
                continue;
            }
            if let Some(status) = task.status() {
                tasks.push(TaskState {
                    id: task.id,
                    name: task.name.to_string(),
                    status,
                    attempt: task.watch.attempt(),
                    actor: task.place.as_ref().and_then(|p| p.actor()).map(|a| a.id()),
                });
            }
        }
        tasks.sort_by_key(|t| t.id.index());
        tasks
    }
}

/// `task` as the worker pool knows it: the address of the job.
fn as_job(task: &Task) -> *const () {
    task as *const Task as *const ()
}

/// The end time of an entry not stamped yet.
const UNSTAMPED_AT: u64 = u64::MAX;

thread_local! {
    /// The task whose entry this thread wrote last, unstamped.
    static UNSTAMPED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The tasks that some pending object of `store` waits for, each once.
pub(crate) fn live_tasks(store: &Store) -> Vec<Arc<Task>> {
    let mut seen = HashSet::new();
    store
        .live_cells()
        .iter()
        .filter_map(|cell| cell.producer())
        .filter_map(|producer| producer.observe())
        .filter_map(|any| any.downcast::<Arc<Task>>().ok())
        .map(|task| *task)
        .filter(|task| seen.insert(task.id))
        .collect()
}

/// Threads that ran tasks, by tag: for the timeline's row names. A thread
/// enters on its first task and leaves when it exits.
static THREADS: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());

static NEXT_TAG: AtomicU32 = AtomicU32::new(1);

/// The calling thread's entry in [`THREADS`].
struct ThreadTag(u32);

impl ThreadTag {
    fn new() -> ThreadTag {
        let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        let thread = std::thread::current();
        let name = match thread.name() {
            Some(name) => name.to_string(),
            None => format!("thread {tag}"),
        };
        lock(&THREADS).insert(tag, name);
        ThreadTag(tag)
    }
}

impl Drop for ThreadTag {
    fn drop(&mut self) {
        lock(&THREADS).remove(&self.0);
    }
}

thread_local! {
    static TAG: ThreadTag = ThreadTag::new();
}

/// A small number naming the calling thread while it lives (0 once it is
/// exiting).
pub(crate) fn thread_tag() -> u32 {
    TAG.try_with(|t| t.0).unwrap_or(0)
}

/// The name of the thread tagged `tag`, if it is still running.
pub(crate) fn thread_name(tag: u32) -> Option<String> {
    lock(&THREADS).get(&tag).cloned()
}
