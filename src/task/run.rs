//! Running a task's attempts: retries, panics, cancellation; and the two
//! kinds of [`Body`], kept inline in the task's allocation.
//!
//! Both runners (a worker thread for sync tasks; for async ones a worker's
//! first poll, then the executor) do the same thing: run an attempt with
//! the task set as the current one ([`context`]), turn a panic into a
//! failure like an `Err`, retry while the task's policy allows, complete
//! the refs, and tell the scheduler the task is done.
//!
//! A [`SyncBody`] is a closure run once per attempt. An [`AsyncBody`] is a
//! closure that makes one future per attempt; [`AsyncRun`] drives them,
//! the attempt's future inline (pinned by projection, no box per attempt).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskCx, Poll};

use crate::error::Error;
use crate::exec::blocking::as_async_poll;
use crate::exec::pool;
use crate::sync::{catch, lock};
use crate::task::context::{self, Running};
use crate::task::returns;
use crate::task::task::{Body, Failure, Outcome, Task};
use crate::task::trace;

fn panicked(task: &Task, message: String) -> Failure {
    Failure {
        error: Error::TaskFailed {
            task: task.name.to_string(),
            message,
            cause: None,
        },
        retryable: true,
    }
}

/// Drops something that holds user values (a body and its arguments, a
/// future), whose `Drop` may panic: the panic is reported, not raised.
pub(crate) fn drop_user<T>(task: &Task, what: &str, value: T) {
    if let Err(panic) = catch(|| drop(value)) {
        tracing::warn!(task = %task.name, "dropping the {what} of the task {panic}");
    }
}

/// Runs a sync task on the calling (worker) thread.
pub(crate) fn run_sync(task: Arc<Task>) {
    returns::publish_later(&task.outputs, || task.body().run_attempts(&task));
    // The first task the end dispatches runs next on this thread.
    pool::finishing(|| task.finish());
}

/// Runs a task stolen by a thread blocked on its output (see
/// [`Task::steal`]), there and then, with its runtime current (the thief
/// may be a thread of another runtime, or of none).
pub(crate) fn run_stolen(task: Arc<Task>) {
    let scheduler = Arc::clone(&task.scheduler);
    scheduler.in_scope(&mut || {
        if task.body().run_attempts(&task) {
            task.finish();
        }
    });
}

/// Spawns an async task on its runtime's executor.
pub(crate) fn spawn_async(task: Arc<Task>) {
    Arc::clone(&task).body().start_async(task, false);
}

/// Runs an async task on this worker thread until it first suspends, inside
/// the executor's context; the executor runs the rest. A task that needs
/// no `.await` that blocks (most calls) then costs no executor wake-up.
pub(crate) fn run_async_here(task: Arc<Task>) {
    Arc::clone(&task).body().start_async(task, true);
}

/// A sync task's body: `F` runs one attempt. `taken` spares the lock when
/// the task leaves after its runner took the body (the usual case).
pub(crate) struct SyncBody<F> {
    attempt: Mutex<Option<F>>,
    taken: AtomicBool,
}

impl<F> SyncBody<F>
where
    F: FnMut(&Arc<Task>) -> Outcome + Send + 'static,
{
    pub(crate) fn new(attempt: F) -> Self {
        SyncBody {
            attempt: Mutex::new(Some(attempt)),
            taken: AtomicBool::new(false),
        }
    }
}

impl<F> Body for SyncBody<F>
where
    F: FnMut(&Arc<Task>) -> Outcome + Send + 'static,
{
    fn is_async(&self) -> bool {
        false
    }

    fn run_attempts(&self, task: &Arc<Task>) -> bool {
        let Some(mut body) = lock(&self.attempt).take() else {
            return false;
        };
        self.taken.store(true, Ordering::Release);
        let mut attempt = task.first_attempt;
        loop {
            let running = Running {
                task: Arc::clone(task),
                attempt,
            };
            let outcome = trace::attempt(task, attempt, || {
                context::enter(&running, || {
                    catch(|| body(task)).unwrap_or_else(|panic| Err(panicked(task, panic)))
                })
            });
            match outcome {
                Ok(()) => break,
                Err(failure) if task.may_retry(&failure, attempt) => {
                    trace::retrying(task, attempt, &failure.error);
                    attempt += 1;
                }
                Err(failure) => {
                    task.attempt_failed(failure.error);
                    break;
                }
            }
        }
        drop_user(task, "body", body);
        true
    }

    fn start_async(&self, task: Arc<Task>, _here: bool) {
        task.finish();
    }

    fn discard(&self, task: &Task) {
        if self.taken.load(Ordering::Acquire) {
            return; // its runner drops it
        }
        let body = lock(&self.attempt).take();
        drop_user(task, "body", body);
    }
}

/// An async task's body: `F` makes one attempt's future.
pub(crate) struct AsyncBody<F, Fut> {
    attempt: Mutex<Option<F>>,
    future: PhantomData<fn() -> Fut>,
}

impl<F, Fut> AsyncBody<F, Fut>
where
    F: FnMut(&Arc<Task>) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    pub(crate) fn new(attempt: F) -> Self {
        AsyncBody {
            attempt: Mutex::new(Some(attempt)),
            future: PhantomData,
        }
    }
}

impl<F, Fut> Body for AsyncBody<F, Fut>
where
    F: FnMut(&Arc<Task>) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn is_async(&self) -> bool {
        true
    }

    fn run_attempts(&self, _task: &Arc<Task>) -> bool {
        false
    }

    fn start_async(&self, task: Arc<Task>, here: bool) {
        let Some(body) = lock(&self.attempt).take() else {
            return task.finish();
        };
        let scheduler = Arc::clone(&task.scheduler);
        let handle = match scheduler.executor().handle() {
            Ok(handle) => handle,
            Err(err) => {
                task.fail(err);
                drop_user(&task, "body", body);
                return task.finish();
            }
        };
        let run = AsyncRun::new(task, body);
        if !here {
            drop(handle.spawn(run));
            return;
        }
        let mut run = Box::pin(run);
        let polled = as_async_poll(|| {
            let _executor = handle.enter();
            let mut cx = TaskCx::from_waker(std::task::Waker::noop());
            run.as_mut().poll(&mut cx)
        });
        if polled.is_pending() {
            // Polled again by the executor with its own waker, so no wake-up
            // given to the no-op waker meanwhile is lost.
            drop(handle.spawn(run));
        }
    }

    fn discard(&self, task: &Task) {
        let body = lock(&self.attempt).take();
        drop_user(task, "body", body);
    }
}

pin_project_lite::pin_project! {
    /// The attempt in progress, pinned in place inside [`AsyncRun`].
    #[project = AttemptProj]
    enum Attempt<Fut> {
        Idle,
        Running { #[pin] future: Fut },
    }
}

pin_project_lite::pin_project! {
    /// The future of one async task, across its attempts. `body` makes
    /// each attempt's future (`None` once the task is done); `current` is
    /// the attempt in progress, `span` its span (entered on every poll).
    struct AsyncRun<F, Fut> {
        running: Running,
        body: Option<F>,
        span: tracing::Span,
        #[pin]
        current: Attempt<Fut>,
        done: bool,
    }

    impl<F, Fut> PinnedDrop for AsyncRun<F, Fut> {
        /// Dropped before it finished: its executor shut down.
        fn drop(this: Pin<&mut Self>) {
            if !this.done {
                let task = Arc::clone(&this.running.task);
                task.fail(task.scheduler.store().shut_down());
                let _ = finish(this);
            }
        }
    }
}

impl<F, Fut> AsyncRun<F, Fut> {
    fn new(task: Arc<Task>, body: F) -> Self {
        AsyncRun {
            running: Running {
                attempt: task.first_attempt,
                task,
            },
            body: Some(body),
            span: tracing::Span::none(),
            current: Attempt::Idle,
            done: false,
        }
    }
}

impl<F, Fut> Future for AsyncRun<F, Fut>
where
    F: FnMut(&Arc<Task>) -> Fut,
    Fut: Future<Output = Outcome>,
{
    type Output = ();

    /// Polls with the task's runtime current (on whichever thread polls).
    fn poll(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<()> {
        let scheduler = Arc::clone(&self.running.task.scheduler);
        let mut polled = Poll::Pending;
        let mut this = Some(self);
        scheduler.in_scope(&mut || {
            if let Some(this) = this.take() {
                polled = poll_attempts(this, cx);
            }
        });
        polled
    }
}

fn poll_attempts<F, Fut>(mut run: Pin<&mut AsyncRun<F, Fut>>, cx: &mut TaskCx<'_>) -> Poll<()>
where
    F: FnMut(&Arc<Task>) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let task = Arc::clone(&run.running.task);
    loop {
        if !task.arm_waker(cx.waker()) {
            // Cancelled: dropped at this await; `cancel` completed the refs.
            return finish(run);
        }
        let this = run.as_mut().project();
        let Some(body) = this.body.as_mut() else {
            return finish(run);
        };
        let mut current = this.current;
        let (running, span) = (this.running, this.span);
        let outcome = trace::under(task.watch.dispatch(), || {
            let starts = matches!(current.as_mut().project(), AttemptProj::Idle);
            if starts {
                task.scheduler
                    .history()
                    .attempt_starts(&task, running.attempt);
                *span = trace::span(&task, running.attempt);
            }
            let _entered = span.enter();
            if starts {
                tracing::trace!(target: trace::TARGET, "started");
            }
            let polled = context::enter(running, || {
                catch(|| {
                    if let AttemptProj::Idle = current.as_mut().project() {
                        current.set(Attempt::Running {
                            future: body(&task),
                        });
                    }
                    match current.as_mut().project() {
                        AttemptProj::Running { future } => future.poll(cx),
                        AttemptProj::Idle => Poll::Ready(Ok(())),
                    }
                })
            });
            let outcome: Outcome = match polled {
                Ok(Poll::Pending) => return None,
                Ok(Poll::Ready(outcome)) => outcome,
                Err(panic) => Err(panicked(&task, panic)),
            };
            match &outcome {
                Ok(()) => tracing::debug!(target: trace::TARGET, "finished"),
                Err(failure) => {
                    tracing::debug!(target: trace::TARGET, error = %failure.error, "attempt failed")
                }
            }
            Some(outcome)
        });
        let Some(outcome) = outcome else {
            return Poll::Pending;
        };
        end_attempt(&task, current);
        match outcome {
            Ok(()) => return finish(run),
            Err(failure) if task.may_retry(&failure, run.running.attempt) => {
                trace::retrying(&task, run.running.attempt, &failure.error);
                run.as_mut().project().running.attempt += 1;
            }
            Err(failure) => {
                task.attempt_failed(failure.error);
                return finish(run);
            }
        }
    }
}

/// Drops the attempt's future in place; a panic in its `Drop` is reported.
fn end_attempt<Fut>(task: &Task, mut current: Pin<&mut Attempt<Fut>>) {
    if let Err(panic) = catch(|| current.set(Attempt::Idle)) {
        tracing::warn!(task = %task.name, "dropping the future of the task {panic}");
    }
}

/// The task is done: drops what it holds and leaves the system.
fn finish<F, Fut>(run: Pin<&mut AsyncRun<F, Fut>>) -> Poll<()> {
    let this = run.project();
    *this.done = true;
    let task = Arc::clone(&this.running.task);
    end_attempt(&task, this.current);
    drop_user(&task, "body", this.body.take());
    task.finish();
    Poll::Ready(())
}
