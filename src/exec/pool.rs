//! [`WorkerPool`]: the threads that run [`Job`]s (sync tasks and actor
//! calls, and the first poll of async ones).
//!
//! Threads start on demand, so a runtime that runs no sync work starts
//! none. A job goes to an idle thread (the newest, the one most likely
//! still spinning with warm caches), else to a new thread; a job that
//! needs no resources ([`Job::limited`]) starts no thread while the pool
//! runs its limit of threads outside RustyRay waits, and waits in the
//! pool's queue instead (reported once through `tracing`, naming
//! [`Config::zero_cpu_task_threads`](crate::Config::zero_cpu_task_threads)).
//! Jobs that hold resources are bounded by them, and actor work by the
//! actors' own concurrency, so they always get a thread.
//!
//! A thread that is finishing a job takes the first job its own finish
//! dispatches (its release of resources starts the next queued task):
//! that hand-over is a thread-local note, not a shared counter. A thread
//! with nothing to run takes the oldest queued job, or goes idle: it spins
//! for a while that adapts (`SpinBudget`: halved each time a spin finds
//! nothing, restored when a sleep ends sooner than a spin would have),
//! yielding its core between checks so that on a busy machine the thread
//! it waits for gets to run, then parks. Its next job comes through a
//! one-place channel (lock-free), and it publishes the results of the job
//! it finished only once it is back on the idle stack, so the caller's next
//! call finds it spinning. A thread blocked in a RustyRay wait does not
//! count towards the limit, and blocking hands the queued jobs the places
//! it frees, so a queued job never waits behind blocked threads. Threads
//! idle for a while retire. Shutdown stops idle threads at once and busy
//! ones when their job ends, and waits for them until its deadline.
//!
//! Threads are named `<runtime name>-w<n>`, and run the hook the runtime
//! gives (installing itself in their context) for their whole life.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crossbeam_channel::{Receiver, Sender};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::value::Value;
use crate::sync::{lock, wait_until, SpinBudget};

/// How long a thread with nothing to do waits before it retires.
const IDLE_RETIRE: Duration = Duration::from_secs(10);

/// Work the pool runs.
pub(crate) trait Job: Send + Sync + 'static {
    /// Runs the job on this worker thread.
    fn run(self: Arc<Self>);

    /// Whether the job needs no resources, and so counts towards the
    /// pool's thread limit.
    fn limited(&self) -> bool;

    /// No thread will run the job (none could start, or the pool shut
    /// down): it ends with `err`.
    fn abandon(self: Arc<Self>, err: Error);
}

/// Runs on each new thread for its whole life (the runtime installs itself
/// in the thread's context); the guard it returns drops when the thread
/// ends.
pub(crate) type ThreadStart = Arc<dyn Fn() -> Box<dyn Any> + Send + Sync>;

/// What a worker runs once the results of its job are out, before it
/// looks for its next job; returns the clock read it made then, if any,
/// which is also when a next job already in hand starts (see
/// [`job_taken_at`]).
pub(crate) type AfterPublish = Arc<dyn Fn() -> Option<Instant> + Send + Sync>;

/// Jobs handed out once a lock is released: to an idle thread, or to a
/// new one.
type HandOut = Vec<(Option<Arc<Parker>>, Arc<dyn Job>)>;

/// What an idle thread is given.
enum Given {
    Run(Arc<dyn Job>),
    Stop,
}

/// One idle thread's slot: a job is put here and the thread unparked.
///
/// The slot is a one-place channel (`crossbeam-channel`'s, lock-free):
/// handing a job over and taking it take no lock.
struct Parker {
    thread: Thread,
    given: (Sender<Given>, Receiver<Given>),
    /// Whether this thread may spin (it is idle and its budget lasts).
    spin: AtomicBool,
    /// How long it spins now.
    budget: SpinBudget,
}

impl Parker {
    fn new() -> Arc<Parker> {
        Arc::new(Parker {
            thread: std::thread::current(),
            given: crossbeam_channel::bounded(1),
            spin: AtomicBool::new(false),
            budget: SpinBudget::new(),
        })
    }

    /// Gives the thread `given` (it was taken off the idle stack, so its
    /// slot is empty) and wakes it.
    fn give(&self, given: Given) {
        if let Err(err) = self.given.0.try_send(given) {
            // Unreachable: one giver per stay on the idle stack. Dropping
            // the job would lose it, so it is run here rather than lost.
            if let Given::Run(job) = err.into_inner() {
                job.run();
            }
        }
        self.thread.unpark();
    }

    fn take(&self) -> Option<Given> {
        self.given.1.try_recv().ok()
    }

    /// Waits for a job: spins while this is the newest idle thread and its
    /// budget lasts (yielding the core between checks; see [`SpinBudget`]),
    /// then parks until given one or `timeout`; `None` on timeout.
    ///
    /// Each look for a job comes right after a clock read: the moment the
    /// job was taken, returned with it (see [`job_taken_at`]).
    fn wait(&self, timeout: Duration) -> Option<(Given, Instant)> {
        let budget = self.budget.get();
        let start = Instant::now();
        let mut now = start;
        loop {
            if let Some(given) = self.take() {
                return Some((given, now));
            }
            if !(self.spin.load(Ordering::Acquire) && now - start < budget) {
                break;
            }
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            std::thread::yield_now();
            now = Instant::now();
        }
        if !budget.is_zero() {
            self.budget.spun_in_vain();
        }
        let parked = now;
        let deadline = start + timeout;
        loop {
            let now = Instant::now();
            if let Some(given) = self.take() {
                self.budget.slept(parked);
                return Some((given, now));
            }
            let left = deadline.checked_duration_since(now)?;
            std::thread::park_timeout(left);
        }
    }
}

#[derive(Default)]
struct State {
    /// Jobs waiting for a thread (only limited ones, at the limit).
    queue: VecDeque<Arc<dyn Job>>,
    /// Idle threads, newest last.
    idle: Vec<Arc<Parker>>,
    live: usize,
    /// Threads blocked in a RustyRay wait: they do not count towards the
    /// limit, so the jobs they wait for always get a thread.
    blocked: usize,
    closed: bool,
}

impl State {
    fn may_spawn(&self, limit: usize, job: &dyn Job) -> bool {
        !job.limited() || self.live - self.blocked < limit
    }
}

struct Shared {
    name: Arc<str>,
    state: Mutex<State>,
    limit: usize,
    /// Whether reaching `limit` was reported.
    warned: AtomicBool,
    stack_size: Option<usize>,
    on_start: ThreadStart,
    after_publish: OnceLock<AfterPublish>,
    exited: Condvar,
    started: AtomicUsize,
}

/// The runtime's worker threads.
pub(crate) struct WorkerPool {
    shared: Arc<Shared>,
}

thread_local! {
    /// The pool this thread works for, if any.
    static POOL: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    /// Whether this worker is finishing a job and will run the next one it
    /// dispatches itself.
    static ACCEPTING: Cell<bool> = const { Cell::new(false) };
    /// That job.
    static NEXT: RefCell<Option<Arc<dyn Job>>> = const { RefCell::new(None) };
    /// Completions of the job just run, published once this worker is
    /// ready for its next job (see [`publish_later`]).
    static LATER: RefCell<Vec<(Arc<ObjectCell>, Result<Value>)>> = const { RefCell::new(Vec::new()) };
    /// The job this worker runs (its address; 0: none), and when the
    /// worker took it, if its wait read the clock then.
    static RUNNING: Cell<(usize, Option<Instant>)> = const { Cell::new((0, None)) };
}

/// Whether this thread is a worker running the job at `job` (its address):
/// then what the job completes goes out once it returns.
pub(crate) fn runs_job(job: *const ()) -> bool {
    RUNNING.with(|r| r.get().0) == job as usize
}

/// When this worker thread took the job at `job`, if it is running it and
/// the moment is known.
///
/// A clock read made anyway: the one the idle wait makes right before it
/// looks for a job, or, for a job handed over or queued, the one the
/// [`after_publish`](WorkerPool::after_publish) hook made as the previous
/// job's results went out. So the start of a task costs no read of its own
/// on the way from its caller to its result.
pub(crate) fn job_taken_at(job: *const ()) -> Option<Instant> {
    let (running, taken_at) = RUNNING.with(|r| r.get());
    (running == job as usize).then_some(taken_at).flatten()
}

/// Completes `cell` with `result` once this worker thread is ready for its
/// next job: back on the idle stack (or holding its next job), so that a
/// caller woken by the result and submitting again at once finds it there,
/// spinning, instead of waking a parked thread while this one finishes.
/// At once on a thread that is not one of a pool's workers.
pub(crate) fn publish_later(cell: Arc<ObjectCell>, result: Result<Value>) {
    if !on_worker() {
        cell.complete(result);
        return;
    }
    LATER.with(|later| later.borrow_mut().push((cell, result)));
}

/// Whether this thread is one of a pool's workers.
fn on_worker() -> bool {
    POOL.with(|p| p.borrow().is_some())
}

/// Publishes what [`publish_later`] kept, then runs the pool's
/// [`after_publish`](WorkerPool::after_publish) hook; the clock read the
/// hook made, if any.
fn publish_now() -> Option<Instant> {
    while let Some((cell, result)) = LATER.with(|later| later.borrow_mut().pop()) {
        cell.complete(result);
    }
    POOL.with(|p| {
        let pool = p.borrow();
        let after = pool.as_ref().and_then(|s| s.after_publish.get());
        after.and_then(|after| after())
    })
}

/// Publishes what is left if a worker's loop ends, however it ends.
struct PublishOnExit;

impl Drop for PublishOnExit {
    fn drop(&mut self) {
        let _ = publish_now();
    }
}

/// Whether this thread works for `shared`.
fn works_for(shared: &Arc<Shared>) -> bool {
    POOL.with(|p| p.borrow().as_ref().is_some_and(|s| Arc::ptr_eq(s, shared)))
}

impl Shared {
    /// Hands queued jobs to idle threads, or to new ones as far as the
    /// limit allows; what to do once the lock is released.
    fn drain(&self, state: &mut State) -> HandOut {
        let mut out = Vec::new();
        let mut kept = VecDeque::new();
        while let Some(job) = state.queue.pop_front() {
            if let Some(parker) = state.idle.pop() {
                out.push((Some(parker), job));
            } else if state.may_spawn(self.limit, &*job) {
                state.live += 1;
                out.push((None, job));
            } else {
                kept.push_back(job);
            }
        }
        state.queue = kept;
        out
    }

    fn hand_out(self: &Arc<Self>, work: HandOut) {
        for (parker, job) in work {
            match parker {
                Some(parker) => parker.give(Given::Run(job)),
                None => spawn(self, job),
            }
        }
    }

    /// A limited job waits for a thread: said once.
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
}

/// A worker thread blocked in a RustyRay wait; unblocked on drop.
pub(crate) struct Blocked {
    shared: Arc<Shared>,
}

/// Marks this worker thread (if it is one) as blocked for the life of the
/// returned guard, and gives queued jobs the place it no longer uses.
pub(crate) fn blocking() -> Option<Blocked> {
    let shared = POOL.with(|p| p.borrow().clone())?;
    let work = {
        let mut state = lock(&shared.state);
        state.blocked += 1;
        shared.drain(&mut state)
    };
    shared.hand_out(work);
    Some(Blocked { shared })
}

impl Drop for Blocked {
    fn drop(&mut self) {
        lock(&self.shared.state).blocked -= 1;
    }
}

/// Runs `f`, the end of a job on this worker thread, so that the first job
/// it dispatches runs next on this thread (no hand-over to another).
pub(crate) fn finishing(f: impl FnOnce()) {
    if !on_worker() {
        return f();
    }
    ACCEPTING.with(|a| a.set(true));
    f();
    ACCEPTING.with(|a| a.set(false));
}

impl WorkerPool {
    /// A pool whose threads are named `<name>-w<n>`, start with `on_start`
    /// and `stack_size` bytes of stack (when set), and that starts no
    /// thread for a limited job while `limit` threads run outside RustyRay
    /// waits.
    pub(crate) fn new(
        name: Arc<str>,
        limit: usize,
        stack_size: Option<usize>,
        on_start: ThreadStart,
    ) -> WorkerPool {
        WorkerPool {
            shared: Arc::new(Shared {
                name,
                state: Mutex::new(State::default()),
                limit,
                warned: AtomicBool::new(false),
                stack_size,
                on_start,
                after_publish: OnceLock::new(),
                exited: Condvar::new(),
                started: AtomicUsize::new(0),
            }),
        }
    }

    /// Sets what a worker thread runs each time the results of its job
    /// are out (once; later calls change nothing).
    pub(crate) fn after_publish(&self, hook: AfterPublish) {
        let _ = self.shared.after_publish.set(hook);
    }

    /// Runs `job` on this (finishing) thread, an idle one, or a new one;
    /// or queues it at the limit.
    pub(crate) fn execute(&self, job: Arc<dyn Job>) {
        let shared = &self.shared;
        if ACCEPTING.with(|a| a.get()) && works_for(shared) {
            ACCEPTING.with(|a| a.set(false));
            NEXT.with(|next| *next.borrow_mut() = Some(job));
            return;
        }
        let mut state = lock(&shared.state);
        if state.closed {
            drop(state);
            job.abandon(Error::ShutDown {
                runtime: shared.name.to_string(),
            });
        } else if let Some(parker) = state.idle.pop() {
            drop(state);
            parker.give(Given::Run(job));
        } else if state.may_spawn(shared.limit, &*job) {
            state.live += 1;
            drop(state);
            spawn(shared, job);
        } else {
            state.queue.push_back(job);
            drop(state);
            shared.limit_reached();
        }
    }

    /// Stops every thread; waits for them until `deadline` (not for the
    /// calling thread, when shutdown runs inside one of this pool's jobs).
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let shared = &self.shared;
        let own = usize::from(works_for(shared));
        let queued = {
            let mut state = lock(&shared.state);
            state.closed = true;
            for parker in state.idle.drain(..) {
                parker.give(Given::Stop);
            }
            std::mem::take(&mut state.queue)
        };
        for job in queued {
            job.abandon(Error::ShutDown {
                runtime: shared.name.to_string(),
            });
        }
        let mut state = lock(&shared.state);
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

/// Starts a worker thread that runs `job` first (its `live` count is
/// already raised).
fn spawn(shared: &Arc<Shared>, job: Arc<dyn Job>) {
    let index = shared.started.fetch_add(1, Ordering::Relaxed);
    let mut builder = std::thread::Builder::new().name(format!("{}-w{index}", shared.name));
    if let Some(bytes) = shared.stack_size {
        builder = builder.stack_size(bytes);
    }
    let thread_shared = Arc::clone(shared);
    let first = Arc::clone(&job);
    let spawned = builder.spawn(move || {
        POOL.with(|p| *p.borrow_mut() = Some(Arc::clone(&thread_shared)));
        let _started = (thread_shared.on_start)();
        worker_loop(&thread_shared, first);
        let mut state = lock(&thread_shared.state);
        state.live -= 1;
        thread_shared.exited.notify_all();
    });
    if let Err(err) = spawned {
        tracing::error!(%err, "could not start a worker thread");
        lock(&shared.state).live -= 1;
        job.abandon(Error::TaskFailed {
            task: String::new(),
            message: format!(
                "no worker thread could start to run it ({err}): the process is at a thread or \
                 memory limit"
            ),
            cause: None,
        });
    }
}

fn worker_loop(shared: &Arc<Shared>, first: Arc<dyn Job>) {
    let _publish = PublishOnExit;
    let parker = Parker::new();
    let mut job = first;
    let mut taken_at = None;
    loop {
        RUNNING.with(|r| r.set((Arc::as_ptr(&job) as *const () as usize, taken_at)));
        job.run();
        RUNNING.with(|r| r.set((0, None)));
        // The next job: handed over while finishing, queued, or given to
        // this thread once it is idle. Results kept back by the job are
        // published once the next job is in hand (which starts when they
        // are out) or this thread is on the idle stack.
        if let Some(next) = NEXT.with(|n| n.borrow_mut().take()) {
            taken_at = publish_now();
            job = next;
            continue;
        }
        let mut state = lock(&shared.state);
        if let Some(next) = state.queue.pop_front() {
            drop(state);
            taken_at = publish_now();
            job = next;
            continue;
        }
        if state.closed {
            return;
        }
        parker.spin.store(true, Ordering::Release);
        state.idle.push(Arc::clone(&parker));
        drop(state);
        let _ = publish_now();
        (job, taken_at) = loop {
            match parker.wait(IDLE_RETIRE) {
                Some((Given::Run(job), at)) => break (job, Some(at)),
                Some((Given::Stop, _)) => return,
                None => {
                    // Retire, unless a dispatch took this thread off the
                    // stack meanwhile (its job is on the way).
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
