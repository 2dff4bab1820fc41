//! [`Scheduler`]: grants resources to ready tasks and hands them to a runner.
//!
//! Tasks whose dependencies are complete arrive in [`enqueue`]. Each
//! distinct resource shape (Ray's "scheduling class") has its own FIFO
//! queue, so tasks waiting for a GPU never hold up tasks that only need a
//! CPU. A task runs as soon as its whole demand fits in what is free; when a
//! task finishes (or lends its CPUs back while blocked in `get`), queued
//! tasks that now fit are dispatched in order. A task that needs nothing
//! (an actor call, a zero-CPU task) skips the queues and their lock. Sync
//! tasks go to the [`WorkerPool`]; async ones too when the runtime owns its
//! executor (a worker polls them until they first suspend), else straight
//! to the embedding application's executor. Actor calls go to their
//! actor's mailbox, which starts them in order.
//!
//! [`enqueue`]: Scheduler::enqueue

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::Error;
use crate::runtime::{Config, RuntimeId};
use crate::sync::lock;
use crate::task::id::TaskId;
use crate::task::resources::{Available, Capacity, Demand};
use crate::task::run;
use crate::task::task::{Place, Task};
use crate::task::worker::WorkerPool;

pub(crate) struct Scheduler {
    runtime: RuntimeId,
    capacity: Capacity,
    state: Mutex<State>,
    pool: WorkerPool,
    next_task: AtomicU64,
    closed: AtomicBool,
}

struct State {
    free: Available,
    classes: Vec<(Demand, VecDeque<Arc<Task>>)>,
    closed: bool,
}

impl Scheduler {
    pub(crate) fn new(runtime: RuntimeId, config: &Config) -> Scheduler {
        let capacity = Capacity::new(config.num_cpus, &config.resources);
        Scheduler {
            runtime,
            state: Mutex::new(State {
                free: Available::new(&capacity),
                classes: Vec::new(),
                closed: false,
            }),
            capacity,
            pool: WorkerPool::new(runtime, config.num_cpus.saturating_mul(4).max(64)),
            next_task: AtomicU64::new(1),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn pool(&self) -> &WorkerPool {
        &self.pool
    }

    pub(crate) fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    pub(crate) fn next_id(&self) -> TaskId {
        TaskId::new(self.runtime, self.next_task.fetch_add(1, Ordering::Relaxed))
    }

    /// A task's dependencies are complete: run it when its demand fits.
    pub(crate) fn enqueue(&self, task: Arc<Task>) {
        if task.demand == Demand::default() {
            // Needs nothing (actor calls, zero-CPU tasks): no queue.
            if self.is_closed() {
                task.fail(task.runtime.store().shut_down());
                task.finish();
            } else {
                self.dispatch(task);
            }
            return;
        }
        let task = {
            let mut guard = lock(&self.state);
            if guard.closed {
                drop(guard);
                task.fail(task.runtime.store().shut_down());
                task.finish();
                return;
            }
            let State { free, classes, .. } = &mut *guard;
            let class = match classes.iter().position(|(d, _)| *d == task.demand) {
                Some(i) => i,
                None => {
                    classes.push((task.demand.clone(), VecDeque::new()));
                    classes.len() - 1
                }
            };
            let queue = &mut classes[class].1;
            if queue.is_empty() && free.fits(&task.demand) {
                free.take(&task.demand);
                task
            } else {
                queue.push_back(task);
                return;
            }
        };
        self.dispatch(task);
    }

    fn dispatch(&self, task: Arc<Task>) {
        match (&task.place, &task.actor) {
            (Place::Actor { seq }, Some(mailbox)) => {
                let (seq, mailbox) = (*seq, Arc::clone(mailbox));
                mailbox.deliver(task, seq);
            }
            _ => self.start(task),
        }
    }

    /// Runs a task whose turn it is: on the pool, or on the executor.
    ///
    /// With the runtime's own executor, async tasks go to a worker too, which
    /// polls them until they first suspend (see [`run::run_async_here`]);
    /// an embedded executor runs all of its async work itself.
    pub(crate) fn start(&self, task: Arc<Task>) {
        if !task.begin() {
            task.finish();
        } else if task.is_async() && task.runtime.executor().is_embedded() {
            run::spawn_async(task);
        } else {
            self.pool.execute(task);
        }
    }

    /// Queued tasks that fit now, in order, with their demand taken; and
    /// cancelled ones, which leave the queue without taking anything.
    fn ready_now(state: &mut State, out: &mut Vec<Arc<Task>>, dropped: &mut Vec<Arc<Task>>) {
        let State { free, classes, .. } = state;
        for (demand, queue) in classes.iter_mut() {
            while let Some(front) = queue.front() {
                if front.is_cancelled() {
                    dropped.extend(queue.pop_front());
                    continue;
                }
                if !free.fits(demand) {
                    break;
                }
                free.take(demand);
                out.push(queue.pop_front().expect("front exists"));
            }
        }
    }

    fn release(&self, give: impl FnOnce(&mut Available)) {
        let (mut ready, mut dropped) = (Vec::new(), Vec::new());
        {
            let mut state = lock(&self.state);
            give(&mut state.free);
            if !state.closed {
                Self::ready_now(&mut state, &mut ready, &mut dropped);
            }
        }
        for task in dropped {
            task.finish();
        }
        for task in ready {
            self.dispatch(task);
        }
    }

    /// A task left the system; `ran` when it held its resources.
    pub(crate) fn finished(&self, task: &Arc<Task>, ran: bool) {
        if let (Place::Actor { seq }, Some(mailbox)) = (&task.place, &task.actor) {
            mailbox.finished(*seq, ran);
        }
        if ran && !task.retains_resources() {
            self.release_demand(&task.demand);
        }
    }

    /// Gives `demand` back (a task finished, or an actor died).
    pub(crate) fn release_demand(&self, demand: &Demand) {
        if *demand != Demand::default() {
            self.release(|free| free.give(demand));
        }
    }

    /// A running task blocks in `get`: its CPUs serve others meanwhile.
    pub(crate) fn lend_cpu(&self, cpu: i64) {
        self.release(|free| free.cpu += cpu);
    }

    /// The blocked task resumes and takes its CPUs back, even if that
    /// oversubscribes them for a while (as Ray does).
    pub(crate) fn reclaim_cpu(&self, cpu: i64) {
        lock(&self.state).free.cpu -= cpu;
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Shutdown, first step: dispatches nothing more; queued tasks fail
    /// with `err`. (Tasks waiting for dependencies, running tasks and their
    /// refs are completed by the store, which completes every pending
    /// object.)
    pub(crate) fn close(&self, err: &Error) {
        let queued: Vec<Arc<Task>> = {
            self.closed.store(true, Ordering::Release);
            let mut state = lock(&self.state);
            state.closed = true;
            state
                .classes
                .drain(..)
                .flat_map(|(_, q)| q.into_iter())
                .collect()
        };
        for task in queued {
            task.fail(err.clone());
            task.finish();
        }
    }

    /// Shutdown, last step: stops the worker threads by `deadline`.
    pub(crate) fn stop_workers(&self, deadline: Option<Instant>) {
        self.pool.shutdown(deadline);
    }
}
