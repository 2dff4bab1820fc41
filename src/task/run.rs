//! Running a task's attempts: retries, panics, cancellation.
//!
//! Both runners (a worker thread for sync tasks, the executor — after a
//! first poll on a worker — for async ones) do the same thing: run an attempt with the task set as the current
//! one ([`context`]), turn a panic into a failure like an `Err`, retry
//! while the task's policy allows, complete the refs, and tell the
//! scheduler the task is done.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};

use crate::error::Error;
use crate::exec::blocking::as_async_poll;
use crate::exec::pool;
use crate::sync::catch;
use crate::task::context::{self, Running};
use crate::task::task::{AsyncAttempt, Body, BoxFuture, Failure, Outcome, Task};

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
    run_attempts(&task);
    // The first task the end dispatches runs next on this thread.
    pool::finishing(|| task.finish());
}

/// Runs a task stolen by a thread blocked on its output (see
/// [`Task::steal`]), there and then.
pub(crate) fn run_stolen(task: Arc<Task>) {
    if run_attempts(&task) {
        task.finish();
    }
}

/// Runs the attempts of a started sync task; `false` when there was no
/// body to run (someone else finished the task).
fn run_attempts(task: &Arc<Task>) -> bool {
    let Some(Body::Sync(mut body)) = task.take_body() else {
        return false;
    };
    let mut attempt = 0;
    loop {
        let running = Running {
            task: Arc::clone(task),
            attempt,
        };
        let outcome = context::enter(&running, || {
            catch(|| body(task)).unwrap_or_else(|panic| Err(panicked(task, panic)))
        });
        match outcome {
            Ok(()) => break,
            Err(failure) if task.may_retry(&failure, attempt) => attempt += 1,
            Err(failure) => {
                task.fail(failure.error);
                break;
            }
        }
    }
    drop_user(task, "body", body);
    true
}

fn async_run(task: Arc<Task>) -> Option<AsyncRun> {
    let Some(Body::Async(body)) = task.take_body() else {
        task.finish();
        return None;
    };
    Some(AsyncRun {
        running: Running { task, attempt: 0 },
        body: Some(body),
        current: None,
        done: false,
    })
}

/// Spawns an async task on its runtime's executor.
pub(crate) fn spawn_async(task: Arc<Task>) {
    let scheduler = Arc::clone(&task.scheduler);
    let Some(run) = async_run(task) else { return };
    match scheduler.executor().handle() {
        Ok(handle) => drop(handle.spawn(run)),
        Err(err) => {
            run.running.task.fail(err);
            drop(run);
        }
    }
}

/// Runs an async task on this worker thread until it first suspends, inside
/// the executor's context; the executor runs the rest. A task that needs
/// no `.await` that blocks (most calls) then costs no executor wake-up.
pub(crate) fn run_async_here(task: Arc<Task>) {
    let scheduler = Arc::clone(&task.scheduler);
    let handle = match scheduler.executor().handle() {
        Ok(handle) => handle,
        Err(_) => return spawn_async(task),
    };
    let Some(mut run) = async_run(task) else {
        return;
    };
    let polled = as_async_poll(|| {
        let _executor = handle.enter();
        let mut cx = TaskCx::from_waker(std::task::Waker::noop());
        Pin::new(&mut run).poll(&mut cx)
    });
    if polled.is_pending() {
        // Polled again by the executor with its own waker, so no wake-up
        // given to the no-op waker meanwhile is lost.
        drop(handle.spawn(run));
    }
}

/// The future of one async task, across its attempts.
struct AsyncRun {
    running: Running,
    /// Makes each attempt's future; `None` once the task is done.
    body: Option<AsyncAttempt>,
    current: Option<BoxFuture>,
    done: bool,
}

impl Future for AsyncRun {
    type Output = ();

    /// Polls with the task's runtime current (on whichever thread polls).
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<()> {
        let scheduler = Arc::clone(&self.running.task.scheduler);
        let mut polled = Poll::Pending;
        scheduler.in_scope(&mut || polled = self.as_mut().poll_attempts(cx));
        polled
    }
}

impl AsyncRun {
    fn poll_attempts(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<()> {
        let this = self.get_mut();
        let task = Arc::clone(&this.running.task);
        loop {
            if !task.arm_waker(cx.waker()) {
                // Cancelled: dropped at this await; `cancel` completed the
                // refs.
                return this.finish();
            }
            let Some(body) = this.body.as_mut() else {
                return this.finish();
            };
            let polled = context::enter(&this.running, || {
                catch(|| {
                    let current = this.current.get_or_insert_with(|| body(&task));
                    current.as_mut().poll(cx)
                })
            });
            let outcome: Outcome = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(outcome)) => outcome,
                Err(panic) => Err(panicked(&task, panic)),
            };
            drop_user(&task, "future", this.current.take());
            match outcome {
                Ok(()) => return this.finish(),
                Err(failure) if task.may_retry(&failure, this.running.attempt) => {
                    this.running.attempt += 1;
                }
                Err(failure) => {
                    task.fail(failure.error);
                    return this.finish();
                }
            }
        }
    }
}

impl AsyncRun {
    fn finish(&mut self) -> Poll<()> {
        self.done = true;
        let task = &self.running.task;
        drop_user(task, "future", self.current.take());
        drop_user(task, "body", self.body.take());
        task.finish();
        Poll::Ready(())
    }
}

impl Drop for AsyncRun {
    /// Dropped before it finished: its executor shut down.
    fn drop(&mut self) {
        if !self.done {
            let task = &self.running.task;
            task.fail(task.scheduler.store().shut_down());
            let _ = self.finish();
        }
    }
}
