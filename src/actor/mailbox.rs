//! [`Mailbox`]: the order and concurrency of one actor's calls, and its
//! life and death.
//!
//! Calls run in *lanes*: lane 0 is the actor's default, with
//! `max_concurrency`; each concurrency group (`concurrency_groups(io = 2)`)
//! is a lane of its own with its own limit. Lanes share nothing but the
//! actor's life: a call waiting in one lane never holds up another.
//!
//! Every call gets a sequence number in its lane when it is submitted (the
//! lane in its top bits, see [`lane_of`]). Calls reach the mailbox when
//! their arguments are ready, possibly out of order; each lane starts them
//! strictly by sequence number, at most its limit at a time, so a lane's
//! calls start in submission order even when a later call's arguments were
//! ready first. A call that ends without running (a failed dependency,
//! `cancel`) leaves a tombstone so it does not hold up the ones behind it.
//!
//! Started sync calls go to the same runner as tasks (worker threads);
//! started async calls queue in their lane for its driver (`driver.rs`),
//! which polls them one after another until each first suspends. The
//! mailbox is not generic: the actor's state lives in its
//! [`ActorCore`](super::core), reached through [`Instance`] to destroy it
//! when the actor dies.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Waker;

use crate::actor::driver::LaneDriver;
use crate::actor::registry::ActorTable;
use crate::actor::running::Running;
use crate::actor::state::ActorStatus;
use crate::error::Error;
use crate::sync::{lock, Few, Padded};
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

/// One lane: the calls of the default group or of one concurrency group.
struct Lane {
    /// How many of its calls may run at once.
    limit: usize,
    /// How many of them may be sync calls (each on a thread of its own).
    sync_limit: usize,
    sync_running: usize,
    next_start: u64,
    /// `turns[i]` is call `next_start + i`.
    turns: VecDeque<Turn>,
    /// The calls started and not finished, by number.
    running: Running<Arc<Task>>,
    /// Async calls started and not yet run by the lane's driver.
    ready: VecDeque<Arc<Task>>,
    /// The driver of `ready` (see `driver.rs`).
    driver: Driver,
}

/// Whether a lane's started async calls have a driver.
enum Driver {
    /// None: the next started call launches one.
    Gone,
    /// One is on its way or running, and will find the calls started.
    Running,
    /// One waits on the executor for calls: the next started call wakes it
    /// (a wake-up of a tokio task, not a new one).
    Parked(Waker),
}

/// What a lane's driver found in its queue ([`Mailbox::take_async`]).
pub(crate) enum Taken {
    /// This many calls, moved into its batch.
    Calls(usize),
    /// None: it waits, parked, for the next started call to wake it.
    Parked,
    /// None: it is done (the next started call launches a new one).
    Gone,
}

/// Bits of a call's `seq` that number it in its lane; the lane is above.
const LANE_SHIFT: u32 = 48;
const SEQ_MASK: u64 = (1 << LANE_SHIFT) - 1;

/// The lane of call `seq`, and its number in that lane.
pub(crate) fn lane_of(seq: u64) -> (usize, u64) {
    ((seq >> LANE_SHIFT) as usize, seq & SEQ_MASK)
}

/// The lanes of an actor: the default one's limit, and each concurrency
/// group's name and limit.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lanes {
    pub(crate) max_concurrency: usize,
    /// How many sync calls of the default lane may run at once (below
    /// `max_concurrency` when that is the async default).
    pub(crate) sync_concurrency: usize,
    pub(crate) groups: Vec<(String, usize)>,
}

struct State {
    status: Status,
    /// Lane 0 is the default; lane `i + 1` is the group `groups[i]`.
    lanes: Vec<Lane>,
    /// Live handle groups (each decoded handle is one; clones share one).
    handles: usize,
    named: bool,
    /// Set by `exit_actor()`: no call starts any more, and the actor dies
    /// when a running call ends.
    exiting: bool,
    /// Resources held for the actor's lifetime, once granted.
    held: Option<Demand>,
    /// Calls finished so far: those numbered ([`Numbers::numbered`]) and
    /// not finished are the calls in flight. Counted here, under the lock
    /// the finishing thread takes anyway, not on the submitters' cache line.
    finished: usize,
}

pub(crate) struct Mailbox {
    /// Itself, for the drivers it launches.
    me: Weak<Mailbox>,
    pub(crate) id: ActorId,
    pub(crate) name: Option<String>,
    /// The namespace of its name.
    pub(crate) namespace: String,
    /// `Type(id)` or the name: how errors show the actor.
    pub(crate) label: String,
    /// The name of its creation task (`Counter.new`), which restarts take.
    pub(crate) constructor_name: &'static str,
    pub(crate) scheduler: Arc<Scheduler>,
    /// The runtime's actors, which this one leaves when it dies.
    table: Weak<ActorTable>,
    /// The names of the concurrency groups, lane `i + 1` for `groups[i]`.
    groups: Vec<String>,
    restarted: AtomicBool,
    /// Restarts so far (for the state API).
    restarts: AtomicU32,
    /// Locked by every call, from the submitting thread and from the one
    /// finishing it: on cache lines of its own.
    state: Padded<Mutex<State>>,
    /// Written by every call's submitter: on cache lines of their own too.
    numbers: Padded<Numbers>,
    instance: Mutex<Option<Weak<dyn Instance>>>,
}

/// What numbering a call needs, outside the state's lock: each lane's
/// next number, the calls numbered, and whether the actor is dead.
struct Numbers {
    next_seq: Vec<AtomicU64>,
    /// Calls numbered so far. Raised only by submitters, without the
    /// state's lock; a submitter holds a handle, so while no handle lives
    /// it does not change.
    numbered: AtomicUsize,
    /// Set (under the state's lock) when the actor dies for good.
    dead: AtomicBool,
}

/// Sync calls taken to start, the lanes whose async calls need a driver
/// launched, and the parked drivers to wake (most often one of these: no
/// allocation for it).
#[derive(Default)]
struct Started {
    tasks: Few<Arc<Task>>,
    drive: Few<usize>,
    wake: Few<Waker>,
}

impl Lane {
    fn new(limit: usize, sync_limit: usize) -> Lane {
        Lane {
            limit: limit.max(1),
            sync_limit: sync_limit.clamp(1, limit.max(1)),
            sync_running: 0,
            next_start: 1,
            turns: VecDeque::new(),
            running: Running::default(),
            ready: VecDeque::new(),
            driver: Driver::Gone,
        }
    }

    /// Sets the turn of call `seq` (its number in this lane); `false` when
    /// the call has left already (its turn passed, or was skipped: a call
    /// ends at most once, so a skipped turn is never taken back).
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

impl State {
    /// Sets the turn of call `seq` (lane and number) in its lane.
    fn set_turn(&mut self, seq: u64, turn: Turn) -> bool {
        let (lane, n) = lane_of(seq);
        match self.lanes.get_mut(lane) {
            Some(lane) => lane.set_turn(n, turn),
            None => false,
        }
    }
}

impl Mailbox {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: ActorId,
        type_name: &str,
        name: Option<String>,
        namespace: String,
        constructor_name: &'static str,
        scheduler: Arc<Scheduler>,
        table: Weak<ActorTable>,
        lanes: Lanes,
    ) -> Arc<Mailbox> {
        let label = match &name {
            Some(name) => format!("{type_name} `{name}` ({id})"),
            None => format!("{type_name} ({id})"),
        };
        let named = name.is_some();
        let mut state_lanes = vec![Lane::new(lanes.max_concurrency, lanes.sync_concurrency)];
        state_lanes.extend(
            lanes
                .groups
                .iter()
                .map(|&(_, limit)| Lane::new(limit, limit)),
        );
        let numbers = Numbers {
            next_seq: (0..state_lanes.len()).map(|_| AtomicU64::new(1)).collect(),
            numbered: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
        };
        Arc::new_cyclic(|me| Mailbox {
            me: Weak::clone(me),
            id,
            name,
            namespace,
            label,
            constructor_name,
            scheduler,
            table,
            groups: lanes.groups.into_iter().map(|(name, _)| name).collect(),
            restarted: AtomicBool::new(false),
            restarts: AtomicU32::new(0),
            state: Padded(Mutex::new(State {
                status: Status::Creating,
                lanes: state_lanes,
                handles: 0,
                named,
                exiting: false,
                held: None,
                finished: 0,
            })),
            numbers: Padded(numbers),
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
            self.idle_and_unreachable(&state)
        };
        if stop {
            self.die("every handle to it was dropped".to_string());
        }
    }

    fn idle_and_unreachable(&self, state: &State) -> bool {
        matches!(state.status, Status::Alive)
            && state.handles == 0
            && !state.named
            && self.numbers.numbered.load(Ordering::SeqCst) == state.finished
    }

    /// The lane of the concurrency group `group`, if the actor has one.
    pub(crate) fn group_lane(&self, group: &str) -> Option<usize> {
        self.groups.iter().position(|g| g == group).map(|i| i + 1)
    }

    /// The names of the actor's concurrency groups.
    pub(crate) fn group_names(&self) -> &[String] {
        &self.groups
    }

    /// The runtime's table of actors, while the runtime lives.
    #[cfg(feature = "ray")]
    pub(crate) fn table(&self) -> Option<Arc<ActorTable>> {
        self.table.upgrade()
    }

    /// Numbers a new call in `lane` (0: the default one; see
    /// [`group_lane`](Self::group_lane)); the actor's death cause when it
    /// is dead.
    ///
    /// Takes no lock: a call numbered while the actor dies meets its death
    /// when it arrives (`submitted` or `deliver_call`), as one that was
    /// waiting for its arguments does.
    pub(crate) fn assign_seq(&self, lane: usize) -> Result<u64, Error> {
        let numbers = &*self.numbers;
        if numbers.dead.load(Ordering::Acquire) {
            if let Some(dead) = self.dead() {
                return Err(dead);
            }
        }
        let next = numbers
            .next_seq
            .get(lane)
            .ok_or_else(|| Error::InvalidArgument {
                call: "actor call",
                reason: format!("{} has no lane {lane}", self.label),
            })?;
        numbers.numbered.fetch_add(1, Ordering::SeqCst);
        let n = next.fetch_add(1, Ordering::Relaxed);
        Ok(((lane as u64) << LANE_SHIFT) | n)
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
        let (stop, exiting) = {
            let mut state = lock(&self.state);
            if matches!(state.status, Status::Creating | Status::Restarting) {
                state.status = Status::Alive;
            }
            (self.idle_and_unreachable(&state), state.exiting)
        };
        if exiting {
            self.die("its constructor called `exit_actor()`".to_string());
        } else if stop {
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
                    let mut started = Started::default();
                    Self::take_turns(&mut state, lane_of(seq).0, &mut started);
                    Ok(started)
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

    /// Starts the calls whose turn it is, in every lane.
    fn pump(&self) {
        let mut started = Started::default();
        {
            let mut state = lock(&self.state);
            for lane in 0..state.lanes.len() {
                Self::take_turns(&mut state, lane, &mut started);
            }
        }
        self.start(started);
    }

    /// Takes, in order, the calls of `lane` whose turn it is and that fit
    /// under its limit, marking them running.
    fn take_turns(state: &mut State, lane_index: usize, started: &mut Started) {
        if !matches!(state.status, Status::Alive) || state.exiting {
            return;
        }
        let Some(lane) = state.lanes.get_mut(lane_index) else {
            return;
        };
        while lane.running.len() < lane.limit {
            match lane.turns.front() {
                Some(Turn::Ready(task)) => {
                    if !task.is_async() && lane.sync_running >= lane.sync_limit {
                        break;
                    }
                }
                Some(Turn::Skipped) => {}
                Some(Turn::Waiting(_)) | None => break,
            }
            let n = lane.next_start;
            lane.next_start += 1;
            if let Some(Turn::Ready(task)) = lane.turns.pop_front() {
                lane.running.insert(n, Arc::clone(&task));
                if task.is_async() {
                    lane.ready.push_back(task);
                    match std::mem::replace(&mut lane.driver, Driver::Running) {
                        Driver::Gone => started.drive.push(lane_index),
                        Driver::Parked(waker) => started.wake.push(waker),
                        Driver::Running => {}
                    }
                    continue;
                }
                lane.sync_running += 1;
                started.tasks.push(task);
            }
        }
    }

    fn start(&self, started: Started) {
        let scheduler = &self.scheduler;
        for task in started.tasks {
            scheduler.start(task);
        }
        if let Some(me) = self.me.upgrade() {
            for lane in started.drive {
                LaneDriver::launch(Arc::clone(&me), lane);
            }
        }
        for waker in started.wake {
            waker.wake();
        }
    }

    /// For `lane`'s driver: moves the oldest of its started async calls
    /// into `batch`, as many as fit. With none, a driver on the executor
    /// (`park`: its waker) stays, parked, while the actor lives; any other
    /// is gone.
    pub(crate) fn take_async(
        &self,
        lane: usize,
        batch: &mut [Option<Arc<Task>>],
        park: Option<&Waker>,
    ) -> Taken {
        let mut state = lock(&self.state);
        let dead = matches!(state.status, Status::Dead(_));
        let Some(lane) = state.lanes.get_mut(lane) else {
            return Taken::Gone;
        };
        if lane.ready.is_empty() {
            return match park {
                Some(waker) if !dead => {
                    lane.driver = Driver::Parked(waker.clone());
                    Taken::Parked
                }
                _ => {
                    lane.driver = Driver::Gone;
                    Taken::Gone
                }
            };
        }
        let n = batch.len().min(lane.ready.len());
        for (slot, task) in batch.iter_mut().zip(lane.ready.drain(..n)) {
            *slot = Some(task);
        }
        Taken::Calls(n)
    }

    /// `lane`'s driver will not run: the calls it would have run.
    pub(crate) fn abandon_async(&self, lane: usize) -> VecDeque<Arc<Task>> {
        let mut state = lock(&self.state);
        match state.lanes.get_mut(lane) {
            Some(lane) => {
                lane.driver = Driver::Gone;
                std::mem::take(&mut lane.ready)
            }
            None => VecDeque::new(),
        }
    }

    /// The drivers parked in the lanes, taken from them to be woken (and,
    /// finding no call and the actor dead or gone, to end).
    fn unpark_drivers(state: &mut State) -> Vec<Waker> {
        let lanes = state.lanes.iter_mut();
        lanes
            .filter_map(
                |lane| match std::mem::replace(&mut lane.driver, Driver::Gone) {
                    Driver::Parked(waker) => Some(waker),
                    other => {
                        lane.driver = other;
                        None
                    }
                },
            )
            .collect()
    }

    /// The instance crashed in the call `crashing`: no call starts until a
    /// new one stands, and the calls running on the crashed one that will
    /// not be retried fail now with `err`.
    pub(crate) fn crashed(&self, crashing: Option<&Arc<Task>>, err: &Error) {
        let doomed: Vec<Arc<Task>> = {
            let mut state = lock(&self.state);
            if matches!(state.status, Status::Alive) {
                state.status = Status::Restarting;
            }
            state
                .lanes
                .iter()
                .flat_map(|lane| lane.running.tasks())
                .filter(|t| !crashing.is_some_and(|c| Arc::ptr_eq(t, c)) && t.max_retries == 0)
                .map(Arc::clone)
                .collect()
        };
        for task in doomed {
            task.stop(err.clone());
        }
    }

    /// `exit_actor()` in a running call: no other call starts, and the actor
    /// dies (for good) when a running call ends.
    pub(crate) fn exit(&self) {
        lock(&self.state).exiting = true;
    }

    /// Whether a call of it called `exit_actor()`.
    #[cfg(feature = "ray")]
    pub(crate) fn is_exiting(&self) -> bool {
        lock(&self.state).exiting
    }

    /// A call numbered `seq` could not be submitted: its turn is skipped.
    pub(crate) fn left_unsubmitted(&self, seq: u64) {
        self.finished_call(seq);
    }

    /// A call left the system (ran, or ended without running).
    fn finished_call(&self, seq: u64) {
        let (stop, started) = {
            let mut state = lock(&self.state);
            state.finished += 1;
            let (lane_index, n) = lane_of(seq);
            if let Some(lane) = state.lanes.get_mut(lane_index) {
                if let Some(task) = lane.running.remove(n) {
                    if !task.is_async() {
                        lane.sync_running -= 1;
                    }
                } else if n >= lane.next_start {
                    lane.set_turn(n, Turn::Skipped);
                }
            }
            let stop = if state.exiting {
                Some("it called `exit_actor()`")
            } else if self.idle_and_unreachable(&state) {
                Some("every handle to it was dropped")
            } else {
                None
            };
            let mut started = Started::default();
            if stop.is_none() {
                Self::take_turns(&mut state, lane_index, &mut started);
            }
            (stop, started)
        };
        if let Some(cause) = stop {
            self.die(cause.to_string());
        } else {
            self.start(started);
        }
    }

    /// The actor is dead for good: calls waiting or running fail with
    /// `ActorDied`, its state is dropped, its resources and name released.
    pub(crate) fn die(&self, cause: String) {
        let (waiting, running, held, parked) = {
            let mut state = lock(&self.state);
            if matches!(state.status, Status::Dead(_)) {
                return;
            }
            state.status = Status::Dead(cause.clone());
            self.numbers.dead.store(true, Ordering::Release);
            let waiting: Vec<Arc<Task>> = state
                .lanes
                .iter_mut()
                .flat_map(|lane| std::mem::take(&mut lane.turns))
                .filter_map(|turn| match turn {
                    Turn::Ready(task) | Turn::Waiting(Some(task)) => Some(task),
                    _ => None,
                })
                .collect();
            let running: Vec<Arc<Task>> = state
                .lanes
                .iter()
                .flat_map(|lane| lane.running.tasks())
                .map(Arc::clone)
                .collect();
            let parked = Self::unpark_drivers(&mut state);
            (waiting, running, state.held.take(), parked)
        };
        parked.into_iter().for_each(Waker::wake);
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
            table.forget(self.id, self.name.as_deref(), &self.namespace);
        }
    }
}

/// A driver parked on the executor holds the mailbox weakly: woken, it
/// finds it gone and ends (else its tokio task would wait for ever).
impl Drop for Mailbox {
    fn drop(&mut self) {
        let parked = Self::unpark_drivers(&mut lock(&self.state));
        parked.into_iter().for_each(Waker::wake);
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

    /// An async call alone in its lane (the only one running, and not
    /// taken by the lane's driver yet) goes to the thread about to block
    /// on it; the driver, woken for it, finds nothing and parks again.
    fn hand_over(&self, task: &Arc<Task>) -> bool {
        let mut state = lock(&self.state);
        if !matches!(state.status, Status::Alive) {
            return false;
        }
        let Some(lane) = state.lanes.get_mut(lane_of(task.seq).0) else {
            return false;
        };
        let alone = lane.running.len() == 1
            && lane.ready.len() == 1
            && lane
                .ready
                .front()
                .is_some_and(|next| Arc::ptr_eq(next, task));
        if alone {
            // Taken from the driver's queue: the call checked above.
            lane.ready.pop_front();
        }
        alone
    }

    fn is_actor_call(&self) -> bool {
        true
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

    fn exit(&self) {
        Mailbox::exit(self);
    }

    fn held(&self) -> Option<Demand> {
        lock(&self.state).held.clone()
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

    fn cancelled_with_parent(&self) -> bool {
        false
    }

    fn actor(&self) -> Option<&dyn ActorView> {
        Some(&*self.0)
    }
}
