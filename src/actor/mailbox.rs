//! [`Mailbox`]: the order and concurrency of one actor's calls, and its
//! life and death.
//!
//! Every call gets a sequence number when it is submitted. Calls reach the
//! mailbox when their arguments are ready, possibly out of order; the
//! mailbox starts them strictly by sequence number, at most
//! `max_concurrency` at a time, so calls run in submission order even when
//! a later call's arguments were ready first. A call that ends without
//! running (a failed dependency, `cancel`) leaves a tombstone so it does not
//! hold up the ones behind it.
//!
//! Started calls go to the same runners as tasks (worker threads for sync
//! methods, the executor for async ones). The mailbox is not generic: the
//! actor's state lives in its [`ActorCore`](super::core), reached through
//! [`Instance`] to destroy it when the actor dies.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::actor::registry::ActorTable;
use crate::actor::state::ActorStatus;
use crate::error::Error;
use crate::sync::lock;
use crate::task::id::ActorId;
use crate::task::place::{ActorView, Place};
use crate::task::resources::Demand;
use crate::task::scheduler::Scheduler;
use crate::task::task::Task;

/// What the mailbox needs of the generic actor state.
pub(crate) trait Instance: Send + Sync {
    /// Drops the actor's state (now, or as soon as running calls let go).
    fn destroy(&self);
}

#[derive(Clone, Debug)]
enum Status {
    Creating,
    Alive,
    /// Its instance crashed; a new one is being built.
    Restarting,
    Dead(String),
}

/// One call's turn, in sequence order.
enum Turn {
    /// Submitted, arguments not ready yet (the call, once registered).
    Waiting(Option<Arc<Task>>),
    Ready(Arc<Task>),
    /// Ended without running.
    Skipped,
}

struct State {
    status: Status,
    next_seq: u64,
    next_start: u64,
    /// `turns[i]` is call `next_start + i`.
    turns: VecDeque<Turn>,
    running: Vec<(u64, Arc<Task>)>,
    /// Calls submitted and not finished.
    unfinished: usize,
    /// Live handle groups (each decoded handle is one; clones share one).
    handles: usize,
    named: bool,
    /// Resources held for the actor's lifetime, once granted.
    held: Option<Demand>,
}

pub(crate) struct Mailbox {
    pub(crate) id: ActorId,
    pub(crate) name: Option<String>,
    /// `Type(id)` or the name: how errors show the actor.
    pub(crate) label: String,
    /// The name of its creation task (`Counter.new`), which restarts take.
    pub(crate) constructor_name: &'static str,
    pub(crate) scheduler: Arc<Scheduler>,
    /// The runtime's actors, which this one leaves when it dies.
    table: Weak<ActorTable>,
    max_concurrency: usize,
    restarted: AtomicBool,
    /// Restarts so far (for the state API).
    restarts: AtomicU32,
    state: Mutex<State>,
    instance: Mutex<Option<Weak<dyn Instance>>>,
}

/// Calls taken to start (most often one: no allocation for it).
#[derive(Default)]
struct Started {
    first: Option<Arc<Task>>,
    rest: Vec<Arc<Task>>,
}

impl State {
    /// Sets the turn of call `seq`; `false` when the call has left already
    /// (its turn passed, or was skipped: a call ends at most once, so a
    /// skipped turn is never taken back).
    fn set_turn(&mut self, seq: u64, turn: Turn) -> bool {
        let Some(i) = seq.checked_sub(self.next_start) else {
            return false; // its turn has passed
        };
        let i = i as usize;
        while self.turns.len() <= i {
            self.turns.push_back(Turn::Waiting(None));
        }
        if matches!(self.turns[i], Turn::Skipped) {
            return false;
        }
        self.turns[i] = turn;
        true
    }
}

impl Mailbox {
    pub(crate) fn new(
        id: ActorId,
        type_name: &str,
        name: Option<String>,
        constructor_name: &'static str,
        scheduler: Arc<Scheduler>,
        table: Weak<ActorTable>,
        max_concurrency: usize,
    ) -> Arc<Mailbox> {
        let label = match &name {
            Some(name) => format!("{type_name} `{name}` ({id})"),
            None => format!("{type_name} ({id})"),
        };
        let named = name.is_some();
        Arc::new(Mailbox {
            id,
            name,
            label,
            constructor_name,
            scheduler,
            table,
            max_concurrency,
            restarted: AtomicBool::new(false),
            restarts: AtomicU32::new(0),
            state: Mutex::new(State {
                status: Status::Creating,
                next_seq: 1,
                next_start: 1,
                turns: VecDeque::new(),
                running: Vec::new(),
                unfinished: 0,
                handles: 0,
                named,
                held: None,
            }),
            instance: Mutex::new(None),
        })
    }

    pub(crate) fn set_instance(&self, instance: Weak<dyn Instance>) {
        *lock(&self.instance) = Some(instance);
    }

    pub(crate) fn was_restarted(&self) -> bool {
        self.restarted.load(Ordering::Acquire)
    }

    pub(crate) fn set_restarted(&self) {
        self.restarted.store(true, Ordering::Release);
        self.restarts.fetch_add(1, Ordering::Relaxed);
        if let Some(table) = self.table.upgrade() {
            table.count_restart();
        }
    }

    /// Where the actor is in its life, and its restarts so far.
    pub(crate) fn observe(&self) -> (ActorStatus, u32) {
        let status = match lock(&self.state).status {
            Status::Creating => ActorStatus::Pending,
            Status::Alive => ActorStatus::Alive,
            Status::Restarting => ActorStatus::Restarting,
            Status::Dead(_) => ActorStatus::Dead,
        };
        (status, self.restarts.load(Ordering::Relaxed))
    }

    pub(crate) fn died(&self, cause: impl Into<String>) -> Error {
        Error::ActorDied {
            actor: self.label.clone(),
            cause: cause.into(),
        }
    }

    /// The error for calls when the actor is dead.
    pub(crate) fn dead(&self) -> Option<Error> {
        match &lock(&self.state).status {
            Status::Dead(cause) => Some(self.died(cause.clone())),
            _ => None,
        }
    }

    pub(crate) fn handle_added(&self) {
        lock(&self.state).handles += 1;
    }

    pub(crate) fn handle_dropped(&self) {
        let stop = {
            let mut state = lock(&self.state);
            state.handles -= 1;
            Self::idle_and_unreachable(&state)
        };
        if stop {
            self.die("every handle to it was dropped".to_string());
        }
    }

    fn idle_and_unreachable(state: &State) -> bool {
        matches!(state.status, Status::Alive)
            && state.handles == 0
            && !state.named
            && state.unfinished == 0
    }

    /// Numbers a new call; the actor's death cause when it is dead.
    pub(crate) fn assign_seq(&self) -> Result<u64, Error> {
        let mut state = lock(&self.state);
        if let Status::Dead(cause) = &state.status {
            return Err(self.died(cause.clone()));
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.unfinished += 1;
        Ok(seq)
    }

    /// The actor holds `demand` from now until it dies; `false` (and
    /// nothing held) when it is dead already.
    pub(crate) fn hold(&self, demand: Demand) -> bool {
        let mut state = lock(&self.state);
        if matches!(state.status, Status::Dead(_)) {
            return false;
        }
        state.held = Some(demand);
        true
    }

    /// The constructor succeeded (first, or after a crash): calls may start.
    pub(crate) fn open(&self) {
        let stop = {
            let mut state = lock(&self.state);
            if matches!(state.status, Status::Creating | Status::Restarting) {
                state.status = Status::Alive;
            }
            Self::idle_and_unreachable(&state)
        };
        if stop {
            self.die("every handle to it was dropped".to_string());
        } else {
            self.pump();
        }
    }

    /// A new call, still waiting for its arguments: known, so that the
    /// actor's death can fail it at once.
    fn submitted(&self, seq: u64, task: &Arc<Task>) {
        let mut state = lock(&self.state);
        if !matches!(state.status, Status::Dead(_)) {
            state.set_turn(seq, Turn::Waiting(Some(Arc::clone(task))));
        }
    }

    /// A call's arguments are ready: start it in its turn.
    fn deliver_call(&self, task: Arc<Task>, seq: u64) {
        let outcome = {
            let mut state = lock(&self.state);
            match &state.status {
                Status::Dead(cause) => Err((task, cause.clone())),
                // A call stopped between its grant and now has left: its
                // turn stays skipped.
                _ => {
                    state.set_turn(seq, Turn::Ready(task));
                    Ok(self.take_turns(&mut state))
                }
            }
        };
        match outcome {
            Err((task, cause)) => {
                task.stop(self.died(cause));
                task.finish();
            }
            Ok(started) => self.start(started),
        }
    }

    /// Starts the calls whose turn it is.
    fn pump(&self) {
        let turn = self.take_turns(&mut lock(&self.state));
        self.start(turn);
    }

    /// Takes, in order, the calls whose turn it is and that fit under
    /// `max_concurrency`, marking them running.
    fn take_turns(&self, state: &mut State) -> Started {
        let mut started = Started::default();
        if !matches!(state.status, Status::Alive) {
            return started;
        }
        while state.running.len() < self.max_concurrency {
            match state.turns.front() {
                Some(Turn::Ready(_) | Turn::Skipped) => {}
                Some(Turn::Waiting(_)) | None => break,
            }
            let seq = state.next_start;
            state.next_start += 1;
            if let Some(Turn::Ready(task)) = state.turns.pop_front() {
                state.running.push((seq, Arc::clone(&task)));
                match started.first {
                    None => started.first = Some(task),
                    Some(_) => started.rest.push(task),
                }
            }
        }
        started
    }

    fn start(&self, started: Started) {
        let scheduler = &self.scheduler;
        for task in started.first.into_iter().chain(started.rest) {
            scheduler.start(task);
        }
    }

    /// The instance crashed in the call `crashing`: no call starts until a
    /// new one stands, and the calls running on the crashed one that will
    /// not be retried fail now with `err`.
    pub(crate) fn crashed(&self, crashing: &Arc<Task>, err: &Error) {
        let doomed: Vec<Arc<Task>> = {
            let mut state = lock(&self.state);
            if matches!(state.status, Status::Alive) {
                state.status = Status::Restarting;
            }
            state
                .running
                .iter()
                .filter(|(_, t)| !Arc::ptr_eq(t, crashing) && t.max_retries == 0)
                .map(|(_, t)| Arc::clone(t))
                .collect()
        };
        for task in doomed {
            task.stop(err.clone());
        }
    }

    /// A call numbered `seq` could not be submitted: its turn is skipped.
    pub(crate) fn left_unsubmitted(&self, seq: u64) {
        self.finished_call(seq);
    }

    /// A call left the system (ran, or ended without running).
    fn finished_call(&self, seq: u64) {
        let (stop, started) = {
            let mut state = lock(&self.state);
            state.unfinished -= 1;
            if let Some(i) = state.running.iter().position(|(s, _)| *s == seq) {
                state.running.swap_remove(i);
            } else if seq >= state.next_start {
                state.set_turn(seq, Turn::Skipped);
            }
            let stop = Self::idle_and_unreachable(&state);
            let started = if stop {
                Started::default()
            } else {
                self.take_turns(&mut state)
            };
            (stop, started)
        };
        if stop {
            self.die("every handle to it was dropped".to_string());
        } else {
            self.start(started);
        }
    }

    /// The actor is dead for good: calls waiting or running fail with
    /// `ActorDied`, its state is dropped, its resources and name released.
    pub(crate) fn die(&self, cause: String) {
        let (waiting, running, held) = {
            let mut state = lock(&self.state);
            if matches!(state.status, Status::Dead(_)) {
                return;
            }
            state.status = Status::Dead(cause.clone());
            let waiting: Vec<Arc<Task>> = std::mem::take(&mut state.turns)
                .into_iter()
                .filter_map(|turn| match turn {
                    Turn::Ready(task) | Turn::Waiting(Some(task)) => Some(task),
                    _ => None,
                })
                .collect();
            let running: Vec<Arc<Task>> =
                state.running.iter().map(|(_, t)| Arc::clone(t)).collect();
            (waiting, running, state.held.take())
        };
        for task in running {
            task.stop(self.died(cause.clone()));
        }
        for task in waiting {
            task.stop(self.died(cause.clone()));
            task.finish();
        }
        if let Some(demand) = held {
            self.scheduler.release_demand(&demand);
        }
        let instance = lock(&self.instance).take();
        if let Some(instance) = instance.and_then(|w| w.upgrade()) {
            instance.destroy();
        }
        if let Some(table) = self.table.upgrade() {
            table.forget(self.id, self.name.as_deref());
        }
    }
}

/// Calls run here, in their turn.
impl Place for Mailbox {
    fn deliver(&self, task: Arc<Task>) {
        let seq = task.seq;
        self.deliver_call(task, seq);
    }

    fn waiting(&self, task: &Arc<Task>) {
        self.submitted(task.seq, task);
    }

    fn finished(&self, task: &Arc<Task>) {
        self.finished_call(task.seq);
    }

    fn actor(&self) -> Option<&dyn ActorView> {
        Some(self)
    }
}

impl ActorView for Mailbox {
    fn id(&self) -> ActorId {
        self.id
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn was_restarted(&self) -> bool {
        Mailbox::was_restarted(self)
    }
}

/// Where an actor's constructor runs (its creation and its restarts): on
/// the pool, as the actor (for [`context()`](crate::context)).
pub(crate) struct Construction(pub(crate) Arc<Mailbox>);

impl Place for Construction {
    fn deliver(&self, task: Arc<Task>) {
        self.0.scheduler.start(task);
    }

    fn waiting(&self, _task: &Arc<Task>) {}

    fn finished(&self, _task: &Arc<Task>) {}

    fn actor(&self) -> Option<&dyn ActorView> {
        Some(&*self.0)
    }
}
