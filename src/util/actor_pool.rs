//! [`ActorPool`]: Ray's `ray.util.ActorPool`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::object::wait::wait_refs;
use crate::object::{Object, ObjectRef};

/// A call waiting for a free actor.
type Pending<H, R> = Box<dyn FnOnce(&H) -> Result<ObjectRef<R>> + Send>;

/// Spreads calls over a set of actors (`H`: their handles), at most one
/// call per actor at a time; results (`R`) come back in submission order
/// ([`get_next`](Self::get_next)) or as they finish
/// ([`get_next_unordered`](Self::get_next_unordered)). Ray's
/// `ray.util.ActorPool`.
///
/// A call is submitted to a free actor at once; when every actor is busy
/// it waits in the pool (in order) until a result is taken, which frees
/// that result's actor. Free actors are used in the order they were given
/// (then in the order they became free).
///
/// ```
/// use rustyray::util::ActorPool;
///
/// #[rustyray::actor]
/// struct Doubler;
///
/// #[rustyray::actor]
/// impl Doubler {
///     fn new() -> Self {
///         Doubler
///     }
///
///     fn double(&self, v: i64) -> i64 {
///         2 * v
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let mut pool = ActorPool::new(vec![Doubler::remote()?, Doubler::remote()?]);
/// let doubled: Vec<i64> = pool
///     .map(|a, v| a.double(v), vec![1, 2, 3, 4])
///     .collect::<rustyray::Result<_>>()?;
/// assert_eq!(doubled, vec![2, 4, 6, 8]);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub struct ActorPool<H, R> {
    /// Actors with no call of the pool's running.
    idle: VecDeque<H>,
    /// Submitted calls, by ticket (submission number), with their actor.
    running: BTreeMap<u64, (ObjectRef<R>, H)>,
    /// Calls whose actor is free again but whose result nobody took yet
    /// (or that failed to submit), by ticket.
    done: BTreeMap<u64, Result<ObjectRef<R>>>,
    /// Calls waiting for a free actor, in ticket order.
    pending: VecDeque<(u64, Pending<H, R>)>,
    next_ticket: u64,
}

impl<H, R> fmt::Debug for ActorPool<H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorPool")
            .field("idle", &self.idle.len())
            .field("running", &self.running.len())
            .field("done", &self.done.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// The error of a `get_next*` with no result to come.
fn nothing_pending(call: &'static str) -> Error {
    Error::InvalidArgument {
        call,
        reason: "no result is pending in the pool: submit a call first".to_string(),
    }
}

/// The error of a `get_next*` whose calls wait for an actor the pool has
/// not got.
fn no_actor(call: &'static str) -> Error {
    Error::InvalidArgument {
        call,
        reason: "the pool has no actor to run its calls: push one".to_string(),
    }
}

/// Which result a `get_next*` takes.
#[derive(Clone, Copy)]
enum Order {
    Submission,
    Finish,
}

impl<H, R: Object> ActorPool<H, R> {
    /// A pool over `actors` (handles of actors of one type).
    pub fn new(actors: impl IntoIterator<Item = H>) -> Self {
        ActorPool {
            idle: actors.into_iter().collect(),
            running: BTreeMap::new(),
            done: BTreeMap::new(),
            pending: VecDeque::new(),
            next_ticket: 0,
        }
    }

    /// Submits `f(actor, value)` to a free actor, or queues it until one is
    /// free. `f` makes the call (`|a, v| a.double(v)`) and returns its ref;
    /// an `Err` from it is the call's result.
    pub fn submit<V, F>(&mut self, f: F, value: V)
    where
        V: Send + 'static,
        F: FnOnce(&H, V) -> Result<ObjectRef<R>> + Send + 'static,
    {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.pending
            .push_back((ticket, Box::new(move |actor: &H| f(actor, value))));
        self.dispatch();
    }

    /// Whether a result is still to be taken.
    pub fn has_next(&self) -> bool {
        !(self.running.is_empty() && self.done.is_empty() && self.pending.is_empty())
    }

    /// Whether an actor is free and no call waits for one.
    pub fn has_free(&self) -> bool {
        !self.idle.is_empty() && self.pending.is_empty()
    }

    /// Takes a free actor out of the pool, if there is one (and no call
    /// waits for it).
    pub fn pop_idle(&mut self) -> Option<H> {
        if self.has_free() {
            self.idle.pop_front()
        } else {
            None
        }
    }

    /// Adds an actor to the pool; a waiting call starts on it at once.
    pub fn push(&mut self, actor: H) {
        self.idle.push_back(actor);
        self.dispatch();
    }

    /// The result of the oldest call whose result was not taken yet,
    /// waiting for it. [`Error::InvalidArgument`] when no result is
    /// pending (or calls wait but the pool has no actor); else the call's
    /// own error, if it failed.
    pub fn get_next(&mut self) -> Result<R> {
        self.take(Order::Submission, "ActorPool::get_next", None)
    }

    /// [`get_next`](Self::get_next), waiting at most `timeout`:
    /// [`Error::Timeout`] then, and the result stays in the pool.
    pub fn get_next_timeout(&mut self, timeout: Duration) -> Result<R> {
        self.take(Order::Submission, "ActorPool::get_next", Some(timeout))
    }

    /// The result of whichever pending call finishes first (or finished
    /// already). [`Error::InvalidArgument`] when no result is pending;
    /// else the call's own error, if it failed.
    pub fn get_next_unordered(&mut self) -> Result<R> {
        self.take(Order::Finish, "ActorPool::get_next_unordered", None)
    }

    /// [`get_next_unordered`](Self::get_next_unordered), waiting at most
    /// `timeout`: [`Error::Timeout`] then.
    pub fn get_next_unordered_timeout(&mut self, timeout: Duration) -> Result<R> {
        self.take(
            Order::Finish,
            "ActorPool::get_next_unordered",
            Some(timeout),
        )
    }

    /// Submits `f(actor, v)` for each of `values`; the ticket of the first.
    fn submit_all<V, F>(&mut self, f: F, values: impl IntoIterator<Item = V>) -> u64
    where
        V: Send + 'static,
        F: Fn(&H, V) -> Result<ObjectRef<R>> + Clone + Send + 'static,
    {
        let first = self.next_ticket;
        for value in values {
            self.submit(f.clone(), value);
        }
        first
    }

    /// Submits `f(actor, v)` for each of `values`, then yields their
    /// results in the order of `values` (each as
    /// [`get_next`](Self::get_next) would). Results submitted before stay
    /// in the pool for a later `get_next`.
    pub fn map<'a, V, F>(
        &'a mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
    ) -> impl Iterator<Item = Result<R>> + 'a
    where
        V: Send + 'static,
        F: Fn(&H, V) -> Result<ObjectRef<R>> + Clone + Send + 'static,
    {
        let first = self.submit_all(f, values);
        let tickets = first..self.next_ticket;
        tickets.map(move |ticket| self.take_ticket(ticket, None))
    }

    /// Like [`map`](Self::map), but yields each result as its call
    /// finishes.
    pub fn map_unordered<'a, V, F>(
        &'a mut self,
        f: F,
        values: impl IntoIterator<Item = V>,
    ) -> impl Iterator<Item = Result<R>> + 'a
    where
        V: Send + 'static,
        F: Fn(&H, V) -> Result<ObjectRef<R>> + Clone + Send + 'static,
    {
        let first = self.submit_all(f, values);
        let mut left = self.next_ticket - first;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            Some(self.take_finished(first, None))
        })
    }

    /// Starts waiting calls while actors are free.
    fn dispatch(&mut self) {
        while !self.idle.is_empty() {
            let Some((ticket, call)) = self.pending.pop_front() else {
                return;
            };
            let Some(actor) = self.idle.pop_front() else {
                return;
            };
            match call(&actor) {
                Ok(r) => {
                    self.running.insert(ticket, (r, actor));
                }
                Err(err) => {
                    self.done.insert(ticket, Err(err));
                    self.idle.push_front(actor);
                }
            }
        }
    }

    fn take(&mut self, order: Order, call: &'static str, timeout: Option<Duration>) -> Result<R> {
        if !self.has_next() {
            return Err(nothing_pending(call));
        }
        match order {
            Order::Submission => {
                let oldest = [
                    self.done.keys().next(),
                    self.running.keys().next(),
                    self.pending.front().map(|(t, _)| t),
                ];
                match oldest.into_iter().flatten().min().copied() {
                    Some(ticket) => self.take_ticket(ticket, timeout),
                    None => Err(nothing_pending(call)),
                }
            }
            Order::Finish => self.take_finished(0, timeout),
        }
    }

    /// The result of call `ticket`, waiting for it; while it waits for an
    /// actor, the calls ahead of it that finish give theirs back.
    fn take_ticket(&mut self, ticket: u64, timeout: Option<Duration>) -> Result<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(result) = self.done.remove(&ticket) {
                return result?.get();
            }
            if let Some((r, _)) = self.running.get(&ticket) {
                let r = r.clone();
                self.wait_for(std::slice::from_ref(&r), deadline)?;
                self.retire(ticket);
                return match self.done.remove(&ticket) {
                    Some(result) => result?.get(),
                    None => Err(nothing_pending("ActorPool::get_next")),
                };
            }
            if !self.pending.iter().any(|(t, _)| *t == ticket) {
                return Err(nothing_pending("ActorPool::get_next"));
            }
            if self.running.is_empty() {
                return Err(no_actor("ActorPool::get_next"));
            }
            self.retire_finished(deadline)?;
        }
    }

    /// The result of a finished call of ticket `first` or later, waiting
    /// for one.
    fn take_finished(&mut self, first: u64, timeout: Option<Duration>) -> Result<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(ticket) = self.done.range(first..).next().map(|(t, _)| *t) {
                if let Some(result) = self.done.remove(&ticket) {
                    return result?.get();
                }
            }
            if !self.running.keys().any(|t| *t >= first) {
                return Err(if self.pending.is_empty() {
                    nothing_pending("ActorPool::get_next_unordered")
                } else {
                    no_actor("ActorPool::get_next_unordered")
                });
            }
            self.retire_finished(deadline)?;
        }
    }

    /// Waits until one running call finishes, and moves every finished one
    /// to `done`, freeing its actor.
    fn retire_finished(&mut self, deadline: Option<Instant>) -> Result<()> {
        let mut seen = HashSet::new();
        let refs: Vec<ObjectRef<R>> = self
            .running
            .values()
            .filter(|(r, _)| seen.insert(r.id()))
            .map(|(r, _)| r.clone())
            .collect();
        let ready = self.wait_for(&refs, deadline)?;
        let finished: Vec<u64> = self
            .running
            .iter()
            .filter(|(_, (r, _))| ready.contains(r))
            .map(|(t, _)| *t)
            .collect();
        for ticket in finished {
            self.retire(ticket);
        }
        Ok(())
    }

    /// Waits until one of `refs` is complete, or `deadline`; the complete
    /// ones.
    fn wait_for(
        &self,
        refs: &[ObjectRef<R>],
        deadline: Option<Instant>,
    ) -> Result<Vec<ObjectRef<R>>> {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let (ready, _) = wait_refs(refs, refs.len(), Some(Duration::ZERO))?;
        if !ready.is_empty() {
            return Ok(ready);
        }
        let (ready, _) = wait_refs(refs, 1, timeout)?;
        if ready.is_empty() {
            return Err(Error::Timeout {
                what: "a result of the actor pool".to_string(),
                timeout: timeout.unwrap_or_default(),
            });
        }
        Ok(ready)
    }

    /// Call `ticket` finished: its result to `done`, its actor free.
    fn retire(&mut self, ticket: u64) {
        if let Some((r, actor)) = self.running.remove(&ticket) {
            self.done.insert(ticket, Ok(r));
            self.idle.push_back(actor);
            self.dispatch();
        }
    }
}
