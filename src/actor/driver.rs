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
//! the queue). The lane's driver state, under the mailbox's lock, says
//! whether a driver is on its way, so no started call is left without one.
//! A pool driver that finds the queue empty is gone (the next call launches
//! another). A driver on the executor stays, parked with its waker in the
//! lane, as a hand-written actor's task waits on its channel: the next
//! call wakes it rather than spawning a task, which is most of the cost of
//! a call awaited one at a time. It holds the mailbox weakly, and the
//! mailbox wakes it when the actor dies or the mailbox is dropped, so it
//! ends then; dropped by its executor's shutdown, it fails the calls it
//! had not run.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use crate::actor::mailbox::{Mailbox, Taken};
use crate::error::Error;
use crate::exec::pool::Job;
use crate::task::task::Task;

/// How many calls a driver on the executor polls before it yields.
const BATCH: usize = 64;

/// How many calls a driver takes from its lane's queue at once.
const TAKE: usize = 16;

pub(crate) struct LaneDriver {
    mailbox: Weak<Mailbox>,
    lane: usize,
    /// The driver is gone from its lane (the queue was found empty with no
    /// parking, or abandoned, or the mailbox dropped): it is done.
    done: AtomicBool,
}

/// How a [`LaneDriver::drive`] ended.
enum Drove {
    /// It ran its budget of calls; more may wait.
    Budget,
    /// It found no call and is parked in its lane.
    Parked,
    /// It is done.
    Gone,
}

impl LaneDriver {
    /// Starts a driver for `lane`, which the caller marked as running.
    pub(crate) fn launch(mailbox: Arc<Mailbox>, lane: usize) {
        let scheduler = Arc::clone(&mailbox.scheduler);
        let driver = LaneDriver {
            mailbox: Arc::downgrade(&mailbox),
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

    /// Runs up to `budget` calls; parks in the lane (`park`: the driver's
    /// waker) or is gone when it finds none.
    fn drive(&self, budget: usize, park: Option<&Waker>) -> Drove {
        let Some(mailbox) = self.mailbox.upgrade() else {
            self.done.store(true, Ordering::Relaxed);
            return Drove::Gone;
        };
        // Taken a few at a time under one lock, into a buffer on the stack.
        let mut batch: [Option<Arc<Task>>; TAKE] = Default::default();
        let mut left = budget;
        while left > 0 {
            let taken = match mailbox.take_async(self.lane, &mut batch[..left.min(TAKE)], park) {
                Taken::Calls(n) => n,
                Taken::Parked => return Drove::Parked,
                Taken::Gone => {
                    self.done.store(true, Ordering::Relaxed);
                    return Drove::Gone;
                }
            };
            left -= taken;
            for task in batch[..taken].iter_mut().filter_map(Option::take) {
                Task::run_here(task);
            }
        }
        Drove::Budget
    }

    /// The driver will not run: the calls it would have run end with `err`.
    fn abandon_calls(&self, err: &Error) {
        if !self.done.swap(true, Ordering::Relaxed) {
            if let Some(mailbox) = self.mailbox.upgrade() {
                for task in mailbox.abandon_async(self.lane) {
                    task.stop(err.clone());
                }
            }
        }
    }
}

/// On the executor: yields every [`BATCH`] calls.
impl Future for LaneDriver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.drive(BATCH, Some(cx.waker())) {
            Drove::Gone => Poll::Ready(()),
            Drove::Parked => Poll::Pending,
            Drove::Budget => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// Dropped before it was done: its executor shut down.
impl Drop for LaneDriver {
    fn drop(&mut self) {
        if !self.done.load(Ordering::Relaxed) {
            if let Some(mailbox) = self.mailbox.upgrade() {
                self.abandon_calls(&mailbox.scheduler.store().shut_down());
            }
        }
    }
}

/// On the pool: drains the queue.
impl Job for LaneDriver {
    fn run(self: Arc<Self>) {
        self.drive(usize::MAX, None);
    }

    fn limited(&self) -> bool {
        false
    }

    fn abandon(self: Arc<Self>, err: Error) {
        self.abandon_calls(&err);
    }
}
