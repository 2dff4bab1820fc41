//! [`Phase`]: where a task is in its life, as one atomic word, and the
//! cancellation flag its async attempt's waker is kept under.
//!
//! ```text
//! WAITING -queue-> QUEUED -grant-> GRANTED -dispatch-> DISPATCHED -begin-> RUNNING -finish-> DONE
//!                     |                |                      |                   ^
//!                     +----------------+----------------------+-------steal-------'
//! any phase before RUNNING -stop-> DONE
//! ```
//!
//! A task is *dispatched* once its runner has it (its actor's turn has
//! come, and it waits in the pool's hands for a thread): from there a
//! thread blocked on its output may run it instead (a steal), whatever its
//! place. A granted task may be stolen only where its place allows it (a
//! task of the pool; an actor's call waits for its turn), and a queued one
//! only on the thief's own resources.
//!
//! Every move is a compare-and-swap from the phase the mover saw, so every
//! race (a cancel against the last dependency's completion, a steal against
//! a dispatch, shutdown against a runner) is decided by one failed CAS, and
//! exactly one party takes the task out of the system: the one whose
//! [`finish`](Phase::finish) or [`stop`](Phase::stop) returns the phase it
//! left.
//!
//! Cancellation and the running async attempt's waker meet under one lock:
//! [`cancel`](Phase::cancel) sets the flag and takes the waker there, and
//! [`arm_waker`](Phase::arm_waker) reads the flag and stores the waker
//! there, so a cancel either finds the waker to wake or is seen by the
//! poll: a cancelled task's wake-up is never lost.
//!
//! The types come from the `sync` facade, so the loom models below check
//! these claims over every interleaving.

use std::task::Waker;

use crate::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use crate::sync::{lock, Mutex};
use crate::task::history::TaskStatus;

const WAITING: u8 = 0;
const QUEUED: u8 = 1;
const GRANTED: u8 = 2;
const DISPATCHED: u8 = 3;
const RUNNING: u8 = 4;
const DONE: u8 = 5;

/// How a task left the system (returned to the one party that took it
/// out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Left {
    /// Whether it held the resources it was granted (it had been granted
    /// them, or was running).
    pub(crate) held_grant: bool,
}

impl Left {
    fn from(was: u8) -> Left {
        Left {
            held_grant: matches!(was, GRANTED | DISPATCHED | RUNNING),
        }
    }
}

/// What a steal took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stolen {
    /// A queued task: it runs on the thief's resources.
    Queued,
    /// A granted task: it brings its own.
    Granted,
}

pub(crate) struct Phase {
    word: AtomicU8,
    cancelled: AtomicBool,
    /// The waker of the running async attempt, woken by a cancel.
    waker: Mutex<Option<Waker>>,
    /// Whether a waker was ever kept (a sync task's never is: it leaves
    /// without taking the lock).
    armed: AtomicBool,
}

impl Phase {
    /// A task waiting for its dependencies.
    pub(crate) fn new() -> Phase {
        Phase {
            word: AtomicU8::new(WAITING),
            cancelled: AtomicBool::new(false),
            waker: Mutex::new(None),
            armed: AtomicBool::new(false),
        }
    }

    fn cas(&self, from: u8, to: u8) -> bool {
        self.word
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Its dependencies are complete: it queues for its resources. `false`
    /// when it was stopped first.
    pub(crate) fn queue(&self) -> bool {
        self.cas(WAITING, QUEUED)
    }

    /// Whether it is still queued (not granted, stolen or stopped).
    pub(crate) fn is_queued(&self) -> bool {
        self.word.load(Ordering::Acquire) == QUEUED
    }

    /// Whether it left the system.
    pub(crate) fn is_done(&self) -> bool {
        self.word.load(Ordering::Acquire) == DONE
    }

    /// The scheduler grants the queued task its resources; `false` when it
    /// left the queue meanwhile (stopped, or stolen).
    pub(crate) fn grant(&self) -> bool {
        self.cas(QUEUED, GRANTED)
    }

    /// The granted task goes to its runner (the pool), which begins it
    /// unless a blocked thread steals it first; `false` when it was stopped
    /// or stolen meanwhile.
    pub(crate) fn dispatch(&self) -> bool {
        self.cas(GRANTED, DISPATCHED)
    }

    /// A runner starts the granted (or dispatched) task; `false` when it
    /// was stopped or stolen meanwhile (someone else finishes it).
    pub(crate) fn begin(&self) -> bool {
        match self.word.load(Ordering::Acquire) {
            from @ (GRANTED | DISPATCHED) => self.cas(from, RUNNING),
            _ => false,
        }
    }

    /// A blocked thread takes the task to run it itself, if it has not
    /// started: a dispatched one always, a granted one when
    /// `granted_stealable` (its place lets it run before it is dispatched),
    /// a queued one when also `queued_fits` (its demand fits in the thief's
    /// resources).
    pub(crate) fn steal(&self, granted_stealable: bool, queued_fits: bool) -> Option<Stolen> {
        match self.word.load(Ordering::Acquire) {
            DISPATCHED => self.cas(DISPATCHED, RUNNING).then_some(Stolen::Granted),
            GRANTED if granted_stealable => self.cas(GRANTED, RUNNING).then_some(Stolen::Granted),
            QUEUED if granted_stealable && queued_fits => {
                self.cas(QUEUED, RUNNING).then_some(Stolen::Queued)
            }
            _ => None,
        }
    }

    /// Whether a runner has it: dispatched to one, or running.
    pub(crate) fn has_runner(&self) -> bool {
        matches!(self.word.load(Ordering::Acquire), DISPATCHED | RUNNING)
    }

    /// Whether it was cancelled (or stopped by shutdown).
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Keeps `waker` for a cancel to wake, unless the task is cancelled or
    /// `closed()` (`false`). Both sides look under the waker's lock (see
    /// the module docs).
    pub(crate) fn arm_waker(&self, waker: &Waker, closed: impl FnOnce() -> bool) -> bool {
        let mut slot = lock(&self.waker);
        if self.is_cancelled() || closed() {
            return false;
        }
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
            self.armed.store(true, Ordering::Release);
        }
        true
    }

    /// Marks it cancelled; the waker of its running attempt, to wake once
    /// the refs are complete.
    pub(crate) fn cancel(&self) -> Option<Waker> {
        let mut slot = lock(&self.waker);
        self.cancelled.store(true, Ordering::Release);
        slot.take()
    }

    /// Ends a task that has not started (waiting, queued, granted or
    /// dispatched); how it left when this call ended it. A running task is
    /// left to its runner.
    pub(crate) fn stop(&self) -> Option<Left> {
        loop {
            let now = self.word.load(Ordering::Acquire);
            if !matches!(now, WAITING | QUEUED | GRANTED | DISPATCHED) {
                return None;
            }
            if self.cas(now, DONE) {
                return Some(Left::from(now));
            }
        }
    }

    /// Ends it from whatever phase; how it left, unless it already had.
    pub(crate) fn finish(&self) -> Option<Left> {
        let was = self.word.swap(DONE, Ordering::AcqRel);
        (was != DONE).then(|| Left::from(was))
    }

    /// Where the task is, for the state API; `None` once it left. A task
    /// granted its resources waits for a runner (or its actor's turn): it
    /// shows as queued, as does one dispatched to a runner not yet on it.
    pub(crate) fn observe(&self) -> Option<TaskStatus> {
        match self.word.load(Ordering::Acquire) {
            WAITING => Some(TaskStatus::WaitingForDependencies),
            QUEUED | GRANTED | DISPATCHED => Some(TaskStatus::Queued),
            RUNNING => Some(TaskStatus::Running),
            _ => None,
        }
    }

    /// Drops the kept waker (the task left).
    pub(crate) fn forget_waker(&self) {
        if self.armed.load(Ordering::Acquire) {
            lock(&self.waker).take();
        }
    }
}

#[cfg(all(test, not(rustyray_loom)))]
mod tests {
    use super::*;

    /// A task has a runner from its dispatch until it is done, and only
    /// then: an async waiter spins on its output only then.
    #[test]
    fn a_task_has_a_runner_from_its_dispatch_until_it_is_done() {
        let phase = Phase::new();
        let mut seen = vec![phase.has_runner()];
        assert!(phase.queue());
        seen.push(phase.has_runner());
        assert!(phase.grant());
        seen.push(phase.has_runner());
        assert!(phase.dispatch());
        seen.push(phase.has_runner());
        assert!(phase.begin());
        seen.push(phase.has_runner());
        assert!(phase.finish().is_some());
        seen.push(phase.has_runner());
        assert_eq!(seen, [false, false, false, true, true, false]);
    }
}

#[cfg(all(test, rustyray_loom))]
mod loom_models {
    use std::sync::atomic::AtomicUsize as StdCount;
    use std::task::Wake;

    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// Counts wake-ups (std atomics: only the count is read, after joins).
    struct Wakes(StdCount);

    impl Wake for Wakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The last dependency's completion (queue, grant, begin, finish) and a
    /// cancel (stop) race: the task leaves exactly once, and the party that
    /// took it out knows whether it held a grant.
    #[test]
    fn stop_racing_resolution_leaves_exactly_once() {
        loom::model(|| {
            let phase = Arc::new(Phase::new());
            let runner = {
                let phase = Arc::clone(&phase);
                thread::spawn(move || {
                    if phase.queue() && phase.grant() && phase.dispatch() && phase.begin() {
                        phase.finish()
                    } else {
                        None
                    }
                })
            };
            let stopped = phase.stop();
            let ran = runner.join().unwrap();
            let left = [stopped, ran].iter().filter(|l| l.is_some()).count();
            assert_eq!(left, 1);
            if let Some(ran) = ran {
                assert!(ran.held_grant);
            }
            assert!(phase.is_done() || !phase.is_queued());
        });
    }

    /// A steal and a dispatch race for a queued task: exactly one runs it,
    /// and resources are never lost: a grant is either used by the
    /// dispatcher or carried by the steal (`Granted`); a steal of a queued
    /// task (`Queued`, on the thief's resources) means nothing was granted.
    #[test]
    fn steal_racing_grant_runs_once_and_keeps_the_grant() {
        loom::model(|| {
            let phase = Arc::new(Phase::new());
            assert!(phase.queue());
            let dispatcher = {
                let phase = Arc::clone(&phase);
                thread::spawn(move || {
                    let granted = phase.grant();
                    (granted, granted && phase.begin())
                })
            };
            let stolen = phase.steal(true, true);
            let (granted, began) = dispatcher.join().unwrap();
            match (granted, began, stolen) {
                (true, true, None) | (true, false, Some(Stolen::Granted)) => {}
                (false, false, Some(Stolen::Queued)) => {}
                other => panic!("granted, began, stolen: {other:?}"),
            }
            assert_eq!(phase.finish(), Some(Left { held_grant: true }));
        });
    }

    /// An actor's call, dispatched in its turn, races a thread blocked on
    /// its output and a cancel: exactly one of the runner, the thief and
    /// the cancel takes it, and the thief takes nothing before the call's
    /// turn (a call of an actor is not stealable while only granted).
    #[test]
    fn a_dispatched_call_runs_or_stops_exactly_once() {
        loom::model(|| {
            let phase = Arc::new(Phase::new());
            assert!(phase.queue() && phase.grant());
            assert_eq!(phase.steal(false, true), None, "stolen before its turn");
            let runner = {
                let phase = Arc::clone(&phase);
                thread::spawn(move || phase.dispatch() && phase.begin())
            };
            let thief = {
                let phase = Arc::clone(&phase);
                thread::spawn(move || phase.steal(false, true).is_some())
            };
            let stopped = phase.stop().is_some();
            let began = runner.join().unwrap();
            let stole = thief.join().unwrap();
            let takers = [began, stole, stopped].iter().filter(|t| **t).count();
            assert_eq!(takers, 1, "began {began}, stole {stole}, stopped {stopped}");
            assert_eq!(phase.finish().is_some(), !stopped);
        });
    }

    /// An async attempt arms its waker while a cancel lands: either the
    /// poll sees the cancel, or the cancel takes the waker and wakes it.
    #[test]
    fn a_cancel_is_never_lost_by_a_poll() {
        loom::model(|| {
            let phase = Arc::new(Phase::new());
            let wakes = std::sync::Arc::new(Wakes(StdCount::new(0)));
            let canceller = {
                let phase = Arc::clone(&phase);
                thread::spawn(move || {
                    if let Some(waker) = phase.cancel() {
                        waker.wake();
                    }
                })
            };
            let waker = Waker::from(std::sync::Arc::clone(&wakes));
            let armed = phase.arm_waker(&waker, || false);
            canceller.join().unwrap();
            let woken = wakes.0.load(std::sync::atomic::Ordering::SeqCst);
            // Armed and not woken would be a lost wake-up: the poll would
            // sleep forever on a cancelled task.
            assert!(!armed || woken == 1, "armed {armed}, woken {woken}");
            assert!(phase.is_cancelled());
        });
    }
}
