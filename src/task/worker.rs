//! [`WorkerPool`]: the threads that run sync tasks (and the first poll of
//! async ones, when the runtime owns its executor).
//!
//! Threads start on demand, so a runtime that runs no sync task starts
//! none. Idle threads wait on a stack, each on its own parking slot; a
//! dispatch hands the task to the most recently idle thread (the one most
//! likely still spinning, with warm caches), or starts a new thread when
//! none is idle. A thread that is finishing a task takes the first task its
//! own release of resources dispatches, and tasks dispatched while threads
//! are finishing wait in a short backlog for them rather than starting new
//! threads (the last thread to finish hands what is left to idle or new
//! threads, so a backlog is never stranded behind blocked ones). Only the
//! newest idle thread spins before it sleeps. A task blocked in `get` is
//! not idle, so work submitted meanwhile gets a thread of its own: the scheduler's resource accounting bounds how
//! many tasks run at once, and a thread limit (not counting threads blocked
//! in RustyRay waits) bounds the threads that work needing no resources can
//! start; beyond it, work waits in the backlog. Threads idle for a while
//! retire. Shutdown stops idle threads at once and busy ones when their
//! task ends, and waits for them until its deadline.
//!
//! Threads are named `<runtime name>-w<n>` and have their runtime installed
//! in their context slot for their whole life.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::runtime::{context, RuntimeId};
use crate::sync::{lock, spin_until, wait_until};
use crate::task::resources::Demand;
use crate::task::run;
use crate::task::task::Task;

/// How long a thread with nothing to do waits before it retires.
const IDLE_RETIRE: Duration = Duration::from_secs(10);

/// What an idle thread is given.
enum Job {
    Run(Arc<Task>),
    Stop,
}

/// One idle thread's mailbox.
#[derive(Default)]
struct Parker {
    job: Mutex<Option<Job>>,
    has_job: AtomicBool,
    sleeping: AtomicBool,
    given: Condvar,
}

impl Parker {
    fn give(&self, job: Job) {
        let mut slot = lock(&self.job);
        *slot = Some(job);
        self.has_job.store(true, Ordering::Release);
        // Only a sleeping thread needs the (system call) wake-up; `sleeping`
        // is set under the slot's lock, so it cannot be missed.
        if self.sleeping.load(Ordering::Acquire) {
            self.given.notify_one();
        }
    }

    /// Waits for a job, spinning briefly first while `newest()` (this is
    /// the most recently idle thread, the next to be given work); `None` on
    /// timeout.
    fn wait(&self, timeout: Duration, newest: impl Fn() -> bool) -> Option<Job> {
        spin_until(|| self.has_job.load(Ordering::Acquire) || !newest());
        let deadline = Instant::now() + timeout;
        let mut job = lock(&self.job);
        loop {
            if let Some(job) = job.take() {
                self.has_job.store(false, Ordering::Relaxed);
                self.sleeping.store(false, Ordering::Relaxed);
                return Some(job);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                self.sleeping.store(false, Ordering::Relaxed);
                return None;
            };
            self.sleeping.store(true, Ordering::Release);
            job = self
                .given
                .wait_timeout(job, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[derive(Default)]
struct State {
    idle: Vec<Arc<Parker>>,
    /// Tasks dispatched while no thread was idle and either some were
    /// finishing or the pool was at its thread limit.
    backlog: VecDeque<Arc<Task>>,
    live: usize,
    /// Threads blocked in a RustyRay wait (`get`, `wait`): they do not count
    /// towards the thread limit, so tasks they wait for always get a thread.
    blocked: usize,
    closed: bool,
}

pub(crate) struct WorkerPool {
    runtime: RuntimeId,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Threads that may run (not blocked in a RustyRay wait) before a new
    /// zero-CPU task waits in the backlog instead of starting another
    /// thread ([`Config::zero_cpu_task_threads`](crate::Config::zero_cpu_task_threads)).
    limit: usize,
    /// Whether reaching `limit` was reported.
    warned: AtomicBool,
    /// The stack size of new threads, if set.
    stack_size: Option<usize>,
    /// Threads finishing a task: raised before the task releases its
    /// resources, lowered under the state lock once the thread has looked
    /// at the backlog, so a task put there is always picked up.
    finishing: AtomicUsize,
    /// Counts threads going idle: only the newest idle thread spins, the
    /// one a dispatch takes first, so idle threads never crowd the cores.
    idle_epoch: AtomicUsize,
    exited: Condvar,
    started: AtomicUsize,
}

/// Whether a task may start a thread of its own beyond the pool's limit.
/// Only tasks that need nothing are limited: tasks that hold resources are
/// bounded by them, and actor work (creations, calls, restarts) by the
/// actors' own concurrency (in Ray each actor is a process of its own:
/// 500 actors blocked at once on one barrier need 500 threads).
fn exempt(task: &Task) -> bool {
    task.actor.is_some() || task.demand != Demand::default()
}

impl State {
    fn may_spawn(&self, limit: usize, task: &Task) -> bool {
        exempt(task) || self.live - self.blocked < limit
    }
}

impl Shared {
    /// Gives backlog tasks to idle threads, or to new ones while the limit
    /// allows; returns what to do once the lock is released.
    fn drain_backlog(&self, state: &mut State) -> Vec<(Option<Arc<Parker>>, Arc<Task>)> {
        let mut out = Vec::new();
        let mut kept = VecDeque::new();
        while let Some(task) = state.backlog.pop_front() {
            if let Some(parker) = state.idle.pop() {
                out.push((Some(parker), task));
            } else if state.may_spawn(self.limit, &task) {
                state.live += 1;
                out.push((None, task));
            } else {
                kept.push_back(task);
            }
        }
        state.backlog = kept;
        out
    }

    /// A zero-CPU task waits for a thread because of the limit: said once.
    fn limit_reached(&self) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                limit = self.limit,
                "zero-CPU tasks wait for a thread: {} threads already run; raise \
                 `Config::zero_cpu_task_threads` if they wait for each other",
                self.limit
            );
        }
    }

    fn hand_out(self: &Arc<Self>, id: RuntimeId, work: Vec<(Option<Arc<Parker>>, Arc<Task>)>) {
        for (parker, task) in work {
            match parker {
                Some(parker) => parker.give(Job::Run(task)),
                None => spawn(self, id, task),
            }
        }
    }
}

thread_local! {
    /// The runtime whose worker this thread is, if any.
    static WORKER_OF: Cell<Option<RuntimeId>> = const { Cell::new(None) };
    /// Whether this worker is finishing a task and free to run the next.
    static ACCEPTING: Cell<bool> = const { Cell::new(false) };
    /// The task handed to this worker by the dispatch its own task's end made.
    static NEXT: Cell<Option<Arc<Task>>> = const { Cell::new(None) };
    /// This worker's pool.
    static POOL: std::cell::RefCell<Option<(RuntimeId, Arc<Shared>)>> =
        const { std::cell::RefCell::new(None) };
}

/// A worker thread blocked in a RustyRay wait; unblocked on drop.
pub(crate) struct Blocked {
    shared: Arc<Shared>,
}

/// Marks this worker thread (if it is one) as blocked for the life of the
/// returned guard, and lets the backlog have the thread it no longer uses.
pub(crate) fn blocking() -> Option<Blocked> {
    let (id, shared) = POOL.with(|p| p.borrow().clone())?;
    let work = {
        let mut state = lock(&shared.state);
        state.blocked += 1;
        shared.drain_backlog(&mut state)
    };
    shared.hand_out(id, work);
    Some(Blocked { shared })
}

impl Drop for Blocked {
    fn drop(&mut self) {
        lock(&self.shared.state).blocked -= 1;
    }
}

/// Ends `task` on this worker: the first task its release of resources
/// dispatches stays on this thread.
pub(crate) fn finishing(task: &Arc<Task>) {
    accepting(task, || task.finish());
}

/// Runs `f`, the end of `task` on this worker (or all of a short async
/// task), so that the first task dispatched meanwhile stays on this thread.
fn accepting(task: &Arc<Task>, f: impl FnOnce()) {
    let pool = &task.runtime.scheduler().pool().shared;
    pool.finishing.fetch_add(1, Ordering::AcqRel);
    ACCEPTING.with(|a| a.set(true));
    f();
    ACCEPTING.with(|a| a.set(false));
}

/// Runs a task dispatched to this worker: a sync one to its end, an async
/// one until it first suspends.
fn run_here(task: Arc<Task>) {
    if task.is_async() {
        accepting(&task, || run::run_async_here(Arc::clone(&task)));
    } else {
        run::run_sync(task);
    }
}

impl WorkerPool {
    /// A pool that starts no thread for a zero-CPU task while `limit`
    /// threads run outside RustyRay waits (the task waits in its backlog),
    /// and starts threads with `stack_size` bytes of stack when set.
    pub(crate) fn new(runtime: RuntimeId, limit: usize, stack_size: Option<usize>) -> WorkerPool {
        WorkerPool {
            runtime,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                limit,
                warned: AtomicBool::new(false),
                stack_size,
                finishing: AtomicUsize::new(0),
                idle_epoch: AtomicUsize::new(0),
                exited: Condvar::new(),
                started: AtomicUsize::new(0),
            }),
        }
    }

    /// Runs `task` on this (finishing) thread, an idle one, or a new one.
    pub(crate) fn execute(&self, task: Arc<Task>) {
        if WORKER_OF.with(Cell::get) == Some(self.runtime) && ACCEPTING.with(|a| a.replace(false)) {
            NEXT.with(|next| next.set(Some(task)));
            return;
        }
        let mut state = lock(&self.shared.state);
        if state.closed {
            drop(state);
            task.fail(task.runtime.store().shut_down());
            task.finish();
        } else if let Some(parker) = state.idle.pop() {
            drop(state);
            parker.give(Job::Run(task));
        } else if self.shared.finishing.load(Ordering::Acquire) > 0 {
            state.backlog.push_back(task);
        } else if !state.may_spawn(self.shared.limit, &task) {
            state.backlog.push_back(task);
            drop(state);
            self.shared.limit_reached();
        } else {
            state.live += 1;
            drop(state);
            self.spawn(task);
        }
    }

    fn spawn(&self, task: Arc<Task>) {
        spawn(&self.shared, self.runtime, task);
    }

    /// Stops every thread; waits for them until `deadline` (not for the
    /// calling thread, when shutdown runs inside one of this pool's tasks).
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let shared = &self.shared;
        let own = usize::from(WORKER_OF.with(Cell::get) == Some(self.runtime));
        let mut state = lock(&shared.state);
        state.closed = true;
        for parker in state.idle.drain(..) {
            parker.give(Job::Stop);
        }
        state.backlog.clear();
        while state.live > own {
            if deadline.is_some_and(|d| d <= Instant::now()) {
                tracing::warn!(
                    threads = state.live - own,
                    "worker threads still busy at the shutdown deadline; detaching them"
                );
                return;
            }
            state = wait_until(&shared.exited, state, deadline);
        }
    }
}

/// Starts a worker thread that runs `task` first (its `live` count is
/// already raised).
fn spawn(shared: &Arc<Shared>, id: RuntimeId, task: Arc<Task>) {
    let thread_shared = Arc::clone(shared);
    let runtime = task.runtime.clone();
    let index = shared.started.fetch_add(1, Ordering::Relaxed);
    let mut builder = std::thread::Builder::new().name(format!("{}-w{index}", runtime.name()));
    if let Some(bytes) = shared.stack_size {
        builder = builder.stack_size(bytes);
    }
    let failed = Arc::clone(&task);
    let spawned = builder.spawn(move || {
        WORKER_OF.with(|w| w.set(Some(id)));
        POOL.with(|p| *p.borrow_mut() = Some((id, Arc::clone(&thread_shared))));
        let _installed = context::install(runtime);
        worker_loop(&thread_shared, task);
        let mut state = lock(&thread_shared.state);
        state.live -= 1;
        thread_shared.exited.notify_all();
    });
    if let Err(err) = spawned {
        tracing::error!(%err, "could not start a worker thread");
        lock(&shared.state).live -= 1;
        failed.fail(Error::TaskFailed {
            task: failed.name.to_string(),
            message: format!(
                "no worker thread could start to run it ({err}): the process is at a thread or \
                 memory limit"
            ),
            cause: None,
        });
        failed.finish();
    }
}

fn worker_loop(shared: &Arc<Shared>, first: Arc<Task>) {
    let parker = Arc::new(Parker::default());
    let mut task = first;
    loop {
        run_here(task);
        // The next task: handed over while finishing, from the backlog, or
        // given to this thread once it is idle.
        let handed = NEXT.with(Cell::take);
        let mut state = lock(&shared.state);
        let still_finishing = shared.finishing.fetch_sub(1, Ordering::AcqRel) - 1;
        let next = handed.or_else(|| state.backlog.pop_front());
        if still_finishing == 0 && !state.backlog.is_empty() && !state.closed {
            // No finishing thread is left to take the rest of the backlog
            // (and this one's next task may block): give it to idle or new
            // threads now, as far as the limit allows.
            let work = shared.drain_backlog(&mut state);
            drop(state);
            if let Some((_, task)) = work.first() {
                let id = task.runtime.id();
                shared.hand_out(id, work);
            }
            state = lock(&shared.state);
        }
        if let Some(next) = next {
            task = next;
            continue;
        }
        if state.closed {
            return;
        }
        state.idle.push(Arc::clone(&parker));
        let epoch = shared.idle_epoch.fetch_add(1, Ordering::AcqRel) + 1;
        drop(state);
        let newest = || shared.idle_epoch.load(Ordering::Acquire) == epoch;
        task = loop {
            match parker.wait(IDLE_RETIRE, newest) {
                Some(Job::Run(task)) => break task,
                Some(Job::Stop) => return,
                None => {
                    // Retire, unless a dispatch took this thread off the
                    // stack meanwhile (its task is on the way).
                    let mut state = lock(&shared.state);
                    if let Some(pos) = state.idle.iter().position(|p| Arc::ptr_eq(p, &parker)) {
                        state.idle.remove(pos);
                        return;
                    }
                }
            }
        };
    }
}
