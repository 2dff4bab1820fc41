//! [`LaneDriver`]: runs the async calls a lane started, one after another,
//! each until it first suspends.
//!
//! An async actor runs up to 1000 calls at once (Ray's default). Giving
//! each started call a runner of its own (a tokio task spawned from the
//! submitting thread, or a pool thread woken for it) cost a thread hand-over
//! per call. Instead a lane keeps its started async calls in a queue, and
//! one driver at a time takes them from it: as Ray runs an async actor's
//! calls on one event loop per concurrency group. The driver polls each
//! call once, inline; a call that suspends goes on to the executor with a
//! waker of its own (see `run::run_async_here`), so calls still overlap at
//! their `.await`s and a lane's limit still bounds how many are running.
//!
//! The driver runs where the runtime runs async work: on the executor when
//! it is embedded or the calls come from outside a task (a tokio task that
//! yields every [`BATCH`] calls), otherwise on the pool (a job that drains
//! the queue). The lane's `driving` flag, under the mailbox's lock, says
//! whether a driver is on its way; the driver clears it when it finds the
//! queue empty under that lock, so no started call is left without one.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::actor::mailbox::Mailbox;
use crate::error::Error;
use crate::exec::pool::Job;
use crate::task::task::Task;

/// How many calls a driver on the executor polls before it yields.
const BATCH: usize = 64;

/// How many calls a driver takes from its lane's queue at once.
const TAKE: usize = 16;

pub(crate) struct LaneDriver {
    mailbox: Arc<Mailbox>,
    lane: usize,
    /// The lane's queue was found empty (or abandoned): the driver is done.
    done: AtomicBool,
}

impl LaneDriver {
    /// Starts a driver for `lane`, whose `driving` flag the caller set.
    pub(crate) fn launch(mailbox: Arc<Mailbox>, lane: usize) {
        let scheduler = Arc::clone(&mailbox.scheduler);
        let driver = LaneDriver {
            mailbox,
            lane,
            done: AtomicBool::new(false),
        };
        if !scheduler.async_goes_to_executor() {
            return scheduler.execute(Arc::new(driver));
        }
        match scheduler.executor().handle() {
            Ok(handle) => drop(handle.spawn(driver)),
            Err(err) => driver.abandon_calls(&err),
        }
    }

    /// Runs up to `budget` calls; `true` when the queue was found empty.
    fn drive(&self, budget: usize) -> bool {
        // Taken a few at a time under one lock, into a buffer on the stack.
        let mut batch: [Option<Arc<Task>>; TAKE] = Default::default();
        let mut left = budget;
        while left > 0 {
            let taken = self
                .mailbox
                .take_async(self.lane, &mut batch[..left.min(TAKE)]);
            if taken == 0 {
                self.done.store(true, Ordering::Relaxed);
                return true;
            }
            left -= taken;
            for task in batch[..taken].iter_mut().filter_map(Option::take) {
                Task::run_here(task);
            }
        }
        false
    }

    /// The driver will not run: the calls it would have run end with `err`.
    fn abandon_calls(&self, err: &Error) {
        if !self.done.swap(true, Ordering::Relaxed) {
            for task in self.mailbox.abandon_async(self.lane) {
                task.stop(err.clone());
            }
        }
    }
}

/// On the executor: yields every [`BATCH`] calls.
impl Future for LaneDriver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.drive(BATCH) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Dropped before it was done: its executor shut down.
impl Drop for LaneDriver {
    fn drop(&mut self) {
        if !self.done.load(Ordering::Relaxed) {
            self.abandon_calls(&self.mailbox.scheduler.store().shut_down());
        }
    }
}

/// On the pool: drains the queue.
impl Job for LaneDriver {
    fn run(self: Arc<Self>) {
        self.drive(usize::MAX);
    }

    fn limited(&self) -> bool {
        false
    }

    fn abandon(self: Arc<Self>, err: Error) {
        self.abandon_calls(&err);
    }
}
