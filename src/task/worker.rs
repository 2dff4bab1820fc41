//! [`WorkerPool`]: the threads that run sync tasks.
//!
//! Threads start on demand, so a runtime that runs no sync task starts
//! none. The pool keeps an exact count of idle threads: dispatching a task
//! either claims an idle thread (which will receive it from the channel) or
//! starts a new one that runs it at once. A task blocked in `get` is not
//! idle, so work submitted meanwhile gets a thread of its own; the
//! scheduler's resource accounting, not the thread count, bounds how many
//! tasks run at once. Threads idle for a while retire. Shutdown sends one
//! stop message per live thread and waits for them until its deadline.
//!
//! Threads are named `rr<runtime id>-w<n>` and have their runtime installed
//! in their context slot for their whole life.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::runtime::{context, RuntimeId};
use crate::task::run;
use crate::task::task::Task;

/// How long a thread with nothing to do waits before it retires.
const IDLE_RETIRE: Duration = Duration::from_secs(10);

type Job = Option<Arc<Task>>;

pub(crate) struct WorkerPool {
    runtime: RuntimeId,
    shared: Arc<Shared>,
}

struct Shared {
    sender: Sender<Job>,
    receiver: Receiver<Job>,
    /// Threads waiting for a job and not yet claimed by a dispatch.
    idle: AtomicUsize,
    /// Threads alive, for shutdown to wait on.
    live: Mutex<usize>,
    exited: Condvar,
    started: AtomicUsize,
}

thread_local! {
    /// The runtime whose worker this thread is, if any.
    static WORKER_OF: Cell<Option<RuntimeId>> = const { Cell::new(None) };
}

impl WorkerPool {
    pub(crate) fn new(runtime: RuntimeId) -> WorkerPool {
        let (sender, receiver) = crossbeam_channel::unbounded();
        WorkerPool {
            runtime,
            shared: Arc::new(Shared {
                sender,
                receiver,
                idle: AtomicUsize::new(0),
                live: Mutex::new(0),
                exited: Condvar::new(),
                started: AtomicUsize::new(0),
            }),
        }
    }

    /// Runs `task` on an idle thread, or on a new one.
    pub(crate) fn execute(&self, task: Arc<Task>) {
        let idle = &self.shared.idle;
        let mut n = idle.load(Ordering::Acquire);
        while n > 0 {
            match idle.compare_exchange_weak(n, n - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // A claimed thread is blocked in `recv` and takes it.
                    let _ = self.shared.sender.send(Some(task));
                    return;
                }
                Err(now) => n = now,
            }
        }
        self.spawn(task);
    }

    fn spawn(&self, task: Arc<Task>) {
        let shared = Arc::clone(&self.shared);
        let runtime = task.runtime.clone();
        let index = shared.started.fetch_add(1, Ordering::Relaxed);
        *shared.live.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let id = self.runtime;
        let spawned = std::thread::Builder::new()
            .name(format!("rr{}-w{index}", id.as_u64()))
            .spawn(move || {
                WORKER_OF.with(|w| w.set(Some(id)));
                let _installed = context::install(runtime);
                worker_loop(&shared, task);
                let mut live = shared.live.lock().unwrap_or_else(PoisonError::into_inner);
                *live -= 1;
                shared.exited.notify_all();
            });
        if let Err(err) = spawned {
            tracing::error!(%err, "could not start a worker thread");
            *self.shared.live.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        }
    }

    /// Stops every thread; waits for them until `deadline` (not for the
    /// calling thread, when shutdown runs inside one of this pool's tasks).
    pub(crate) fn shutdown(&self, deadline: Instant) {
        let shared = &self.shared;
        let own = usize::from(WORKER_OF.with(Cell::get) == Some(self.runtime));
        let mut live = shared.live.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..*live {
            let _ = shared.sender.send(None);
        }
        while *live > own {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                tracing::warn!(
                    threads = *live - own,
                    "worker threads still busy at the shutdown deadline; detaching them"
                );
                return;
            };
            live = shared
                .exited
                .wait_timeout(live, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn worker_loop(shared: &Shared, first: Arc<Task>) {
    run::run_sync(first);
    let mut counted_idle = false;
    loop {
        if !counted_idle {
            shared.idle.fetch_add(1, Ordering::AcqRel);
            counted_idle = true;
        }
        match shared.receiver.recv_timeout(IDLE_RETIRE) {
            Ok(Some(task)) => {
                counted_idle = false;
                run::run_sync(task);
            }
            Ok(None) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                // Retire unless a dispatch has claimed this thread already
                // (then its job is on the way: keep receiving).
                let idle = &shared.idle;
                let mut n = idle.load(Ordering::Acquire);
                while n > 0 {
                    match idle.compare_exchange_weak(n, n - 1, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => return,
                        Err(now) => n = now,
                    }
                }
            }
        }
    }
}
