//! [`Task`]: one submitted call, from its dependencies to its results.
//!
//! A task moves through five phases (see [`Phase`], the state machine,
//! and its loom models): waiting, queued, granted, running, done.
//!
//! It *waits* for the refs among its arguments (registered as wakers on
//! their cells, holding no CPU), is *queued* until the scheduler can grant
//! its resources, is *granted* them on its way to a runner (a worker
//! thread, the async executor or its actor's mailbox), *runs*, and is
//! *done*. Whoever moves it out of a phase owns the next step: a runner
//! whose `begin` fails (the task was stopped or stolen meanwhile) drops it;
//! `stop` finishes a task that has not started; a running task is finished
//! by its runner. Its output cells are completed exactly once, by whichever
//! comes first: its body, a failed dependency, `cancel`, or shutdown.
//!
//! A thread blocked on a task's output may *steal* the task while no
//! thread has begun it (queued, granted or dispatched: see `Task::steal`)
//! and run it itself: a task waiting for the tasks it submitted runs them
//! on its own thread instead of starting new threads, so recursion stays
//! on a few threads, and a client's `get` of a task just submitted runs it
//! with no thread hand-over.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Wake, Waker};

use crate::error::Error;
use crate::exec::pool::Job;
use crate::object::cell::{ObjectCell, Producer};
use crate::sync::lock;
use crate::task::context;
use crate::task::history::{TaskStatus, Watch};
use crate::task::id::TaskId;
use crate::task::phase::{Left, Phase, Stolen};
use crate::task::place::Place;
use crate::task::resources::Demand;
use crate::task::returns::{Outputs, TaskReturn};
use crate::task::run;
use crate::task::scheduler::Scheduler;
use crate::task::spec::{TaskName, TaskSpec};
use crate::task::trace;

/// How one attempt ended.
pub(crate) type Outcome = std::result::Result<(), Failure>;

/// A failed attempt: the error for the task's refs, and whether a retry may
/// help (application errors do, a bad argument does not).
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retryable: bool,
}

/// The code of a task, kept inline in its allocation (see [`TaskCell`])
/// and called once per attempt by the runners in `run.rs`, which implement
/// it for a sync closure and for an async one.
pub(crate) trait Body: Send + Sync + 'static {
    /// Whether the body is async (runs on the executor).
    fn is_async(&self) -> bool;

    /// Runs the attempts of a sync body on this thread; `false` when there
    /// was no body to run (someone else finished the task, or it is async).
    fn run_attempts(&self, task: &Arc<Task>) -> bool;

    /// Starts the attempts of an async body: polled on this thread until it
    /// first suspends when `here`, then (or at once) on the executor.
    fn start_async(&self, task: Arc<Task>, here: bool);

    /// Drops the body (the task left): its captured arguments, whose `Drop`
    /// may panic (reported, not raised).
    fn discard(&self, task: &Task);
}

thread_local! {
    /// Tasks whose dependencies completed while this thread was already
    /// resolving one: resolved in turn by the outermost call.
    static RESOLVING: std::cell::RefCell<Option<Vec<Arc<Task>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Ends the outermost resolution on this thread, also when it unwinds.
struct Resolving;

impl Drop for Resolving {
    fn drop(&mut self) {
        let _ = RESOLVING.try_with(|r| r.borrow_mut().take());
    }
}

/// One task, in one allocation: everything the scheduler and runners read,
/// and its body (`B`, inline; unsized to `dyn Body` in [`Task`]).
pub(crate) struct TaskCell<B: ?Sized> {
    pub(crate) id: TaskId,
    pub(crate) name: TaskName,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) outputs: Outputs,
    pub(crate) demand: Demand,
    pub(crate) max_retries: u32,
    pub(crate) retry_exceptions: bool,
    /// Where it runs once granted: the pool when `None`.
    pub(crate) place: Option<Arc<dyn Place>>,
    /// Its number at its place.
    pub(crate) seq: u64,
    /// The number of its first attempt (see `FirstAttempt`).
    pub(crate) first_attempt: u32,
    /// Set when finishing must not give the task's resources back: an
    /// actor's creation (the actor keeps them) or a stolen task (they are
    /// the thief's).
    keeps_resources: AtomicBool,
    phase: Phase,
    /// Dependencies not complete yet, plus one while they are registered.
    waiting_for: AtomicUsize,
    deps: Box<[Arc<ObjectCell>]>,
    /// The task as the pool's job (the cell itself, sized: `dyn Job` needs
    /// a sized type behind it).
    job: Weak<dyn Job>,
    /// Waits in progress inside the running task (blocking gets, awaited
    /// refs): while there is one, its CPUs are lent to the scheduler.
    waits: AtomicUsize,
    /// The tasks and actor calls this task submitted while it ran, for a
    /// recursive cancel (untouched by a task that submits none).
    children: Mutex<Children>,
    /// What observers see of it (see `history.rs` and `trace.rs`).
    pub(crate) watch: Watch,
    /// How many times the task left the system (once, always).
    #[cfg(test)]
    pub(crate) left_count: AtomicUsize,
    body: B,
}

/// A task of any body.
pub(crate) type Task = TaskCell<dyn Body>;

/// The largest task whose block its results keep (see `Task::start`).
const KEEP_BLOCK_MAX: usize = 512;

impl Task {
    /// A new task of `scheduler` as `spec` says, waiting for `deps`, that
    /// runs `body`, set going: registered on its dependencies, and queued
    /// once they are complete (at once when there are none). Its output
    /// cells are pending.
    pub(crate) fn start<B: Body>(
        scheduler: &Arc<Scheduler>,
        spec: TaskSpec,
        deps: Vec<Arc<ObjectCell>>,
        body: B,
    ) -> Arc<Task> {
        let TaskSpec {
            name,
            demand,
            max_retries,
            retry_exceptions,
            outputs,
            place,
            seq,
            first_attempt,
        } = spec;
        let cell = Arc::new_cyclic(|this: &Weak<TaskCell<B>>| {
            let producer: Weak<dyn Producer> = this.clone();
            let store = scheduler.store();
            // A small task's block is freed with its results, on the
            // thread that frees them (see `ObjectCell`); a large one (its
            // arguments inline) goes as soon as it ends.
            let keep = std::mem::size_of::<TaskCell<B>>() <= KEEP_BLOCK_MAX;
            let outputs = (0..outputs).map(|_| store.pending(producer.clone(), keep));
            let outputs = Outputs::new(outputs);
            TaskCell {
                id: scheduler.next_id().on_ray(first_attempt.ray_task),
                name,
                scheduler: Arc::clone(scheduler),
                outputs,
                demand,
                max_retries,
                retry_exceptions,
                place,
                seq,
                first_attempt: first_attempt.number,
                keeps_resources: AtomicBool::new(false),
                phase: Phase::new(),
                waiting_for: AtomicUsize::new(deps.len() + 1),
                deps: deps.into_boxed_slice(),
                job: this.clone(),
                waits: AtomicUsize::new(0),
                children: Mutex::new(Children::default()),
                watch: Watch::new(),
                #[cfg(test)]
                left_count: AtomicUsize::new(0),
                body,
            }
        });
        // Wakes the task when a dependency completes (made from the sized
        // cell: a waker needs one).
        let waker = (!cell.deps.is_empty()).then(|| Waker::from(Arc::clone(&cell)));
        let task: Arc<Task> = cell;
        tracing::trace!(target: trace::TARGET, task_id = %task.id, task = %task.name, "submitted");
        if let Some(place) = &task.place {
            // A task with dependencies may wait a while: its place must
            // know it to fail it if it goes away meanwhile. (One without is
            // delivered at once.)
            if waker.is_some() {
                place.waiting(&task);
            }
        }
        if context::is_running() {
            task.adopted();
        }
        task.register(waker);
        task
    }

    /// The new task was submitted by the task running on this thread: it
    /// becomes one of its children (stopped with it by a recursive cancel).
    fn adopted(self: &Arc<Self>) {
        if !self
            .place
            .as_ref()
            .is_none_or(|p| p.cancelled_with_parent())
        {
            return;
        }
        let parent_cancelled = context::with_running(|running| {
            running.is_some_and(|r| lock(&r.task.children).adopt(self))
        });
        if parent_cancelled {
            self.cancel_tree(true);
        }
    }

    /// Stops the task with `Cancelled` and, when `recursive`, every task
    /// it submitted (and theirs, …), including those it submits from now
    /// on.
    pub(crate) fn cancel_tree(self: &Arc<Self>, recursive: bool) {
        let mut stack = vec![Arc::clone(self)];
        while let Some(task) = stack.pop() {
            // A task that already ended is left as it is, with what it
            // started (Ray's cancel of a finished task does nothing).
            if task.phase.is_done() {
                continue;
            }
            trace::under(task.watch.dispatch(), || {
                tracing::info!(target: trace::TARGET, task_id = %task.id, task = %task.name, "cancelled");
            });
            task.stop(Error::Cancelled {
                task: task.name.to_string(),
            });
            if recursive {
                let children = lock(&task.children).disown();
                stack.extend(children.iter().filter_map(Weak::upgrade));
            }
        }
    }

    pub(crate) fn is_async(&self) -> bool {
        self.body.is_async()
    }

    pub(crate) fn body(&self) -> &dyn Body {
        &self.body
    }

    /// The task as the pool runs it.
    pub(crate) fn job(&self) -> Option<Arc<dyn Job>> {
        self.job.upgrade()
    }

    /// Finishing will not give the task's resources back: they now belong
    /// to its actor.
    pub(crate) fn keep_resources(&self) {
        self.keeps_resources.store(true, Ordering::Release);
    }

    /// Cancelled, or its runtime is shutting down.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.phase.is_cancelled() || self.scheduler.is_closed()
    }

    /// Registers the task on its dependencies with `waker` (`None`: it has
    /// none); it is queued once all are complete.
    fn register(self: &Arc<Self>, waker: Option<Waker>) {
        let Some(waker) = waker else {
            self.waiting_for.store(0, Ordering::Release);
            return self.resolve();
        };
        for dep in self.deps.iter() {
            if !dep.on_complete(&waker) {
                self.dep_done();
            }
        }
        self.dep_done();
    }

    fn dep_done(self: &Arc<Self>) {
        if self.waiting_for.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.deps_ready();
        }
    }

    /// All dependencies are complete. Runs [`resolve`](Self::resolve) for
    /// this task, and for the tasks that this completes in turn, one after
    /// the other on this thread: a failure running down a chain of
    /// thousands of dependents must not recurse once per link.
    fn deps_ready(self: &Arc<Self>) {
        let nested = RESOLVING.with(|r| match r.borrow_mut().as_mut() {
            Some(pending) => {
                pending.push(Arc::clone(self));
                true
            }
            None => false,
        });
        if nested {
            return;
        }
        RESOLVING.with(|r| *r.borrow_mut() = Some(Vec::new()));
        let _outermost = Resolving;
        let mut next = Some(Arc::clone(self));
        while let Some(task) = next {
            task.resolve();
            next = RESOLVING.with(|r| r.borrow_mut().as_mut().and_then(Vec::pop));
        }
    }

    /// Fails the task with its first failed dependency, or hands it to the
    /// scheduler (unless it was stopped meanwhile).
    fn resolve(self: &Arc<Self>) {
        let failed = self.deps.iter().find_map(|dep| match dep.try_get() {
            Some(Err(err)) => Some(err),
            _ => None,
        });
        if let Some(err) = failed {
            self.fail(err);
            self.finish();
            return;
        }
        if self.phase.queue() {
            self.scheduler.enqueue(Arc::clone(self));
        }
    }

    /// Where the task is, for the state API; `None` once it left.
    pub(crate) fn status(&self) -> Option<TaskStatus> {
        self.phase.observe()
    }

    /// Whether the task is still queued for its resources (not granted,
    /// stolen or stopped).
    pub(crate) fn is_queued(&self) -> bool {
        self.phase.is_queued()
    }

    /// The scheduler grants the queued task its resources; `false` when it
    /// left the queue meanwhile (stopped, or stolen): the scheduler then
    /// takes nothing for it and forgets it.
    pub(crate) fn grant(&self) -> bool {
        self.phase.grant()
    }

    /// The granted task goes to the pool, whose thread begins it; `false`
    /// when it was stopped or stolen meanwhile.
    pub(crate) fn dispatch(&self) -> bool {
        self.phase.dispatch()
    }

    /// A runner starts the granted (or dispatched) task: `true` when the
    /// runner must run it. `false` when it was stopped or stolen meanwhile
    /// (someone else finishes it: the runner drops it), or cancelled
    /// (finished here).
    pub(crate) fn begin(self: &Arc<Self>) -> bool {
        if !self.phase.begin() {
            return false;
        }
        if self.is_cancelled() {
            self.finish();
            return false;
        }
        true
    }

    /// A thread that holds `thief` (the demand of the task it runs, or
    /// nothing) is about to block on this task's output: takes the task to
    /// run it there, if it is a sync task that has not started. A task
    /// dispatched to the pool (an actor's call in its turn, too) or granted
    /// its resources brings its own; a queued task runs on the thief's
    /// resources (so its demand must fit in them) and does not give them
    /// back when it finishes. `true`: the caller must run it (see
    /// `run::run_stolen`).
    pub(crate) fn steal(&self, thief: &Demand) -> bool {
        if self.is_async() || self.is_cancelled() {
            return false;
        }
        let stealable = self.place.as_ref().is_none_or(|p| p.stealable());
        match self.phase.steal(stealable, self.demand.fits_in(thief)) {
            Some(Stolen::Queued) => {
                self.keeps_resources.store(true, Ordering::Release);
                true
            }
            Some(Stolen::Granted) => true,
            None => false,
        }
    }

    /// The running task starts waiting for an object: the first wait lends
    /// its CPUs back (Ray's rule: a task waiting for tasks it submitted
    /// must not starve them).
    pub(crate) fn wait_begins(&self) {
        if self.demand.cpu > 0 && self.waits.fetch_add(1, Ordering::AcqRel) == 0 {
            self.scheduler.lend_cpu(self.demand.cpu);
        }
    }

    /// A wait ended: the last one takes the CPUs back (even if that
    /// oversubscribes them for a while, as Ray does).
    pub(crate) fn wait_ends(&self) {
        if self.demand.cpu > 0 && self.waits.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.scheduler.reclaim_cpu(self.demand.cpu);
        }
    }

    /// Keeps `waker` for `stop` to wake, unless the task is cancelled
    /// (`false`). Both look at the flag under the waker's lock, so a stop
    /// either finds the waker or is seen here: its wake-up is never lost.
    pub(crate) fn arm_waker(&self, waker: &Waker) -> bool {
        self.phase.arm_waker(waker, || self.scheduler.is_closed())
    }

    /// The task ended (`failed`: with an error): it is recorded in its
    /// runtime's history, once. Done before anyone can see the outcome (its
    /// refs complete, its actor opens), so that whoever sees it finds the
    /// task ended in the state listing and the timeline.
    pub(crate) fn record_end(&self, failed: bool) {
        if failed {
            self.watch.failed();
        }
        self.scheduler.history().ended(self);
    }

    /// The attempt succeeded with `ret`: the task is recorded as ended,
    /// then its outputs complete; unless the task was stopped meanwhile:
    /// as with [`attempt_failed`](Self::attempt_failed), `stop` completes
    /// them with `Cancelled`, so a task that returns because it saw
    /// `is_cancelled` reads as cancelled whichever of it and the canceller
    /// gets to its refs first.
    pub(crate) fn succeed<R: TaskReturn>(&self, ret: R) {
        if self.phase.is_cancelled() {
            return;
        }
        self.record_end(false);
        ret.complete(&self.outputs);
    }

    /// Completes every output not yet complete with `err` (the task is
    /// recorded as failed first).
    pub(crate) fn fail(&self, err: Error) {
        self.record_end(true);
        if let Some((last, rest)) = self.outputs.cells().split_last() {
            for out in rest {
                out.complete(Err(err.clone()));
            }
            last.complete(Err(err));
        }
    }

    /// Its last attempt failed with `err`: its refs complete with it,
    /// unless the task was stopped meanwhile, in which case `stop` completes
    /// them with its own error (`Cancelled`): a task that returns an error
    /// because it saw `is_cancelled` reads as cancelled, whichever of it and
    /// the canceller gets to its refs first.
    pub(crate) fn attempt_failed(&self, err: Error) {
        if !self.phase.is_cancelled() {
            self.fail(err);
        }
    }

    /// Whether a failed attempt number `attempt` (0-based) may run again.
    pub(crate) fn may_retry(&self, failure: &Failure, attempt: u32) -> bool {
        failure.retryable
            && self.retry_exceptions
            && attempt < self.max_retries
            && !self.is_cancelled()
    }

    /// The task left the system: drop what it held and tell the scheduler.
    /// Called by whoever owns the task's last step: its runner after it
    /// ran, or instead of running (a failed dependency, shutdown).
    pub(crate) fn finish(self: &Arc<Self>) {
        if let Some(left) = self.phase.finish() {
            self.left(left);
        }
    }

    fn left(self: &Arc<Self>, left: Left) {
        #[cfg(test)]
        self.left_count.fetch_add(1, Ordering::SeqCst);
        self.phase.forget_waker();
        self.body.discard(self);
        let holds = left.held_grant && !self.keeps_resources.load(Ordering::Acquire);
        // Recorded already, unless it left without an outcome.
        self.record_end(false);
        self.scheduler.finished(self, holds);
    }

    /// Stops the task with `err` (cancel or shutdown): its refs complete at
    /// once; a task that has not started never runs (and leaves now, giving
    /// back what it was granted), a running async one is dropped at its next
    /// poll, a running sync one sees `is_cancelled`.
    pub(crate) fn stop(self: &Arc<Self>, err: Error) {
        if self.phase.is_done() {
            return;
        }
        let waker = self.phase.cancel();
        self.fail(err);
        if let Some(left) = self.phase.stop() {
            self.left(left);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The tasks a task submitted while it ran.
#[derive(Default)]
struct Children {
    tasks: Vec<Weak<Task>>,
    /// Cancelled recursively: every later child is cancelled at once.
    cancelled: bool,
}

impl Children {
    /// Adds `child`; `true` when it must be cancelled at once instead.
    fn adopt(&mut self, child: &Arc<Task>) -> bool {
        if self.cancelled {
            return true;
        }
        if self.tasks.len() == self.tasks.capacity() {
            // Forget the children that left, before growing: a task that
            // submits many keeps only those still in the system.
            self.tasks.retain(|t| t.strong_count() > 0);
        }
        self.tasks.push(Arc::downgrade(child));
        false
    }

    /// The children, to cancel; later ones are cancelled as they come.
    fn disown(&mut self) -> Vec<Weak<Task>> {
        self.cancelled = true;
        std::mem::take(&mut self.tasks)
    }
}

impl<B: Body> Producer for TaskCell<B> {
    fn cancel(self: Arc<Self>) {
        self.cancel_with(true);
    }

    fn cancel_with(self: Arc<Self>, recursive: bool) {
        let task: Arc<Task> = self;
        task.cancel_tree(recursive);
    }

    /// Steals the task for this thread, which is about to block on its
    /// output, and runs it here (on the resources of the sync task running
    /// on this thread, if any, or on its own grant); an async task, if its
    /// place hands it over, until it first suspends.
    fn help(self: Arc<Self>) -> bool {
        let task: Arc<Task> = self;
        if task.is_async() {
            // An async call its place hands over (see `Place::hand_over`):
            // its first poll runs here, as a pool driver's would, instead
            // of this thread waiting for the driver's thread to wake.
            let handed = task.place.as_ref().is_some_and(|p| p.hand_over(&task));
            if handed {
                Task::run_here(task);
            }
            return handed;
        }
        let thief = context::with_running(|r| r.map(|r| r.task.demand.clone()));
        if !task.steal(&thief.unwrap_or_default()) {
            return false;
        }
        run::run_stolen(task);
        true
    }

    fn observe(self: Arc<Self>) -> Option<Box<dyn std::any::Any + Send>> {
        let task: Arc<Task> = self;
        Some(Box::new(task))
    }

    /// A sync task that a worker thread has (an actor's call in its turn,
    /// most often): it may well end within a spin.
    fn at_work(&self) -> bool {
        !self.body.is_async() && self.phase.has_runner()
    }
}

/// What the worker pool runs.
impl<B: Body> Job for TaskCell<B> {
    /// Runs a sync task to its end, an async one until it first suspends.
    fn run(self: Arc<Self>) {
        let task: Arc<Task> = self;
        task.run_here();
    }

    /// A pool task that holds nothing: bounded by the pool, not by
    /// resources or an actor.
    fn limited(&self) -> bool {
        self.place.is_none() && self.demand == Demand::default()
    }

    fn abandon(self: Arc<Self>, err: Error) {
        let task: Arc<Task> = self;
        task.not_run(err);
    }
}

impl Task {
    /// Runs a granted or dispatched task on this thread (unless stopped or
    /// stolen meanwhile): a sync task to its end, an async one until it
    /// first suspends.
    pub(crate) fn run_here(self: Arc<Self>) {
        if !self.begin() {
            return;
        }
        if self.is_async() {
            run::run_async_here(self);
        } else {
            run::run_sync(self);
        }
    }

    /// No thread will run it: it ends with `err`.
    fn not_run(self: Arc<Self>, err: Error) {
        let err = match err {
            Error::TaskFailed {
                task,
                message,
                cause,
            } if task.is_empty() => Error::TaskFailed {
                task: self.name.to_string(),
                message,
                cause,
            },
            other => other,
        };
        self.fail(err);
        self.finish();
    }
}

/// A dependency completed.
impl<B: Body> Wake for TaskCell<B> {
    fn wake(self: Arc<Self>) {
        let task: Arc<Task> = self;
        task.dep_done();
    }
}
