//! [`Completion<T>`]: a value that is pending until its producer completes
//! it, exactly once, and everything that waits for it.
//!
//! This is the protocol an object cell runs (`cell.rs` holds an object's
//! state in one), kept apart from the store (ids, byte accounts, spilling)
//! so that the loom models below can check it over every interleaving. It
//! knows nothing of objects: `T` is whatever a completed slot holds.
//!
//! # The protocol
//!
//! One mutex guards the slot: pending (with its waiters and its producer)
//! or complete (with the value). Everything that decides a race is read
//! and written under it:
//!
//! - [`complete`](Completion::complete) checks that the slot is pending,
//!   takes its waiters out, puts the value in and sets the complete flag,
//!   all in one critical section. Two completions (a task's result and a
//!   cancel's error, say) are decided there: the first wins, the second
//!   gets its value back. A waiter that locks afterwards sees the value; one
//!   that locked before is among the waiters taken out.
//! - A blocking waiter ([`wait`](Completion::wait)) checks the slot and
//!   counts itself among the `sleepers` under the lock, and the condvar wait
//!   releases the lock atomically. `complete` reads `sleepers` in the same
//!   critical section as it fills the slot, so it skips the notify only
//!   when no thread is asleep or about to be: a notify is never lost, and
//!   a completion nobody sleeps on costs no system call.
//! - An async waiter ([`watch`](Completion::watch),
//!   [`poll`](Completion::poll)) registers its waker under a key while the
//!   slot is pending, or finds it complete, in one critical section:
//!   either `complete` takes the waker out and wakes it, or the waiter sees
//!   the value. [`unwatch`](Completion::unwatch) removes a registration by
//!   key (a future dropped mid-wait), so no waker outlives its wait and
//!   removing one never touches another's.
//! - The complete flag ([`is_complete`](Completion::is_complete)) is set
//!   under the lock, after the slot is filled and before the lock is
//!   released: whoever sees it set finds the value under the lock, and
//!   whoever found the slot complete under the lock sees the flag. Waiters
//!   spin on it and waits over many values count with it, without the lock.
//! - The producer hook ([`producer`](Completion::producer)), what a cancel
//!   and a blocked thread's help reach, lives in the pending slot: once the
//!   value is in, nobody reaches the producer through it any more.
//!
//! Wakers and the condvar are woken after the lock is released: a waker is
//! foreign code (an executor's) that may poll the value at once, and its
//! panic is caught so that the other waiters are still woken.
//!
//! A complete value may still change under the lock
//! ([`update`](Completion::update)): an object moves between memory and
//! disk after it is complete, and its holder decides under the same lock
//! that readers take.
//!
//! # Loom
//!
//! The types come from the `sync` facade. Under `--cfg rustyray_loom` the
//! blocking wait's spin is one look at the flag (the spin only saves a
//! sleep: the slot is checked again under the lock) and its deadline is not
//! modelled (a timed wait sleeps until notified); the models use the
//! untimed wait, and the timed one is tested by the unit tests below.

use std::mem;
use std::sync::{Arc, PoisonError, Weak};
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{catch, lock, slept, spin_until, Condvar, Mutex, MutexGuard};

/// What produces a pending value: the task a `cancel` reaches through its
/// ref.
pub(crate) trait Producer: Send + Sync {
    /// Asks the producer to stop; the outcome arrives in the completion.
    fn cancel(self: Arc<Self>);

    /// [`cancel`](Self::cancel), saying whether what the producer started
    /// (the tasks a task submitted) stops too; `cancel` is recursive.
    fn cancel_with(self: Arc<Self>, recursive: bool) {
        let _ = recursive;
        self.cancel();
    }

    /// The calling thread is about to block until the producer completes
    /// the value: the producer may run on this thread now instead, if it
    /// has not started. `true` when it ran here.
    fn help(self: Arc<Self>) -> bool;

    /// Whether the producer is at work on another thread now (a sync task
    /// that a worker thread runs or is about to run), so that the value may
    /// come within a spin: an async waiter spins briefly before it
    /// suspends only then. `false` by default.
    fn at_work(&self) -> bool {
        false
    }

    /// Where the producer lives, when that is outside this process, and
    /// its name for the value there: a thread about to block on the value
    /// waits there first (see [`Elsewhere`]). `None` by default: a local
    /// producer is waited for here.
    fn elsewhere(&self) -> Option<(Arc<dyn Elsewhere>, String)> {
        None
    }

    /// The producer as the layer above knows it (a task), for listing what
    /// is live; `None` by default.
    fn observe(self: Arc<Self>) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
}

/// A place outside this process where values are produced (a Ray worker's
/// trampoline): a thread about to block on some of its values waits there
/// first, so that the place's own system counts the thread as blocked
/// while it waits as that system's own waits do (Ray lends a worker
/// blocked in its `get` the worker's CPU, for the task it waits for).
pub(crate) trait Elsewhere: Send + Sync {
    /// Blocks until `ready` of the values named `keys` are complete there
    /// (all of them: until they are, or one failed), or until `deadline`.
    /// The values still reach their completions the usual way, maybe a
    /// little after this returns.
    fn wait(&self, keys: Vec<String>, ready: usize, deadline: Option<Instant>);
}

/// Async waiters, each under the key its registrant removes it by. The
/// first is kept inline: most objects have one waiter at most (a caller
/// awaiting it, or one `get_all` watching it), which then costs no
/// allocation.
#[derive(Default)]
pub(crate) struct Wakers {
    first: Option<(u64, Waker)>,
    more: Vec<(u64, Waker)>,
}

impl Wakers {
    fn find(&mut self, key: u64) -> Option<&mut Waker> {
        self.first
            .iter_mut()
            .chain(self.more.iter_mut())
            .find(|(kept, _)| *kept == key)
            .map(|(_, waker)| waker)
    }

    fn push(&mut self, key: u64, waker: Waker) {
        match self.first {
            None => self.first = Some((key, waker)),
            Some(_) => self.more.push((key, waker)),
        }
    }

    fn remove(&mut self, key: u64) -> Option<Waker> {
        if self.first.as_ref().is_some_and(|(kept, _)| *kept == key) {
            let (_, waker) = self.first.take()?;
            if !self.more.is_empty() {
                self.first = Some(self.more.swap_remove(0));
            }
            return Some(waker);
        }
        let i = self.more.iter().position(|(kept, _)| *kept == key)?;
        Some(self.more.swap_remove(i).1)
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn into_wakers(self) -> impl Iterator<Item = Waker> {
        self.first
            .into_iter()
            .chain(self.more)
            .map(|(_, waker)| waker)
    }
}

/// What waits for a pending value, and what produces it.
#[derive(Default)]
pub(crate) struct Waiters {
    /// Async waiters.
    wakers: Wakers,
    /// The last key handed out.
    next_key: u64,
    /// Threads asleep (or about to be) on the condvar.
    sleepers: u32,
    /// What a cancel and a blocked thread's help reach.
    producer: Option<Weak<dyn Producer>>,
}

impl Waiters {
    /// Registers `waker` under `key` (see [`Completion::watch`]).
    fn register(&mut self, waker: &Waker, key: &mut Option<u64>) {
        let found = key.and_then(|k| self.wakers.find(k));
        match found {
            Some(current) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
            }
            None => {
                self.next_key += 1;
                self.wakers.push(self.next_key, waker.clone());
                *key = Some(self.next_key);
            }
        }
    }
}

/// What a completion's lock guards.
pub(crate) enum Slot<T> {
    /// Not complete yet: who waits, and who produces.
    Pending(Waiters),
    /// Complete: the value.
    Complete(T),
}

/// A value that is pending until completed, exactly once, and the threads
/// and tasks that wait for it (see the module docs for the protocol).
pub(crate) struct Completion<T> {
    slot: Mutex<Slot<T>>,
    /// Where blocking waiters sleep.
    ready: Condvar,
    /// Set, under the lock, once the slot is complete (see the module docs).
    complete: AtomicBool,
}

impl<T> Completion<T> {
    /// A pending value that `producer` (when there is one) will complete.
    pub(crate) fn pending(producer: Option<Weak<dyn Producer>>) -> Self {
        Completion {
            slot: Mutex::new(Slot::Pending(Waiters {
                producer,
                ..Waiters::default()
            })),
            ready: Condvar::new(),
            complete: AtomicBool::new(false),
        }
    }

    /// A value complete from the start.
    pub(crate) fn completed(value: T) -> Self {
        Completion {
            slot: Mutex::new(Slot::Complete(value)),
            ready: Condvar::new(),
            complete: AtomicBool::new(true),
        }
    }

    /// Whether it is complete, without the lock: once `true`, the value is
    /// there for any call that takes the lock.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Completes it with `value`, unless it is complete already (`Err`
    /// gives `value` back). `settle` runs under the lock before anyone can
    /// see the value (so that what it records is seen with it); then every
    /// waiter is woken, outside the lock.
    pub(crate) fn complete(&self, value: T, settle: impl FnOnce(&T)) -> Result<(), T> {
        let mut slot = lock(&self.slot);
        let waiters = match &mut *slot {
            Slot::Pending(waiters) => mem::take(waiters),
            Slot::Complete(_) => return Err(value),
        };
        settle(&value);
        *slot = Slot::Complete(value);
        self.complete.store(true, Ordering::Release);
        drop(slot);
        if waiters.sleepers > 0 {
            self.ready.notify_all();
        }
        for waker in waiters.wakers.into_wakers() {
            // A waker is foreign code (an executor's): its panic must not
            // keep the others from being woken.
            if let Err(panic) = catch(|| waker.wake()) {
                tracing::warn!("a waker of a completed object {panic}; the others were woken");
            }
        }
        Ok(())
    }

    /// The producer to cancel or to help, while the value is pending and
    /// the producer alive.
    pub(crate) fn producer(&self) -> Option<Arc<dyn Producer>> {
        match &*lock(&self.slot) {
            Slot::Pending(waiters) => waiters.producer.as_ref().and_then(Weak::upgrade),
            Slot::Complete(_) => None,
        }
    }

    /// Runs `f` under the lock on the value (`None` while pending): what
    /// `f` copies or clones is taken where the value cannot change.
    pub(crate) fn read<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        match &*lock(&self.slot) {
            Slot::Complete(value) => f(Some(value)),
            Slot::Pending(_) => f(None),
        }
    }

    /// Runs `f` under the lock on the value (`None` while pending): a
    /// complete value may still change form (memory, disk), never from
    /// complete back to pending.
    pub(crate) fn update<R>(&self, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        match &mut *lock(&self.slot) {
            Slot::Complete(value) => f(Some(value)),
            Slot::Pending(_) => f(None),
        }
    }

    /// Async wait: `read` of the value if it is complete (the registration
    /// under `key` went with the completion: `key` is cleared), else
    /// `waker` is registered under `key` (see [`watch`](Self::watch)). One
    /// critical section either way.
    pub(crate) fn poll<R>(
        &self,
        waker: &Waker,
        key: &mut Option<u64>,
        read: impl FnOnce(&T) -> R,
    ) -> Poll<R> {
        match &mut *lock(&self.slot) {
            Slot::Complete(value) => {
                *key = None;
                Poll::Ready(read(value))
            }
            Slot::Pending(waiters) => {
                waiters.register(waker, key);
                Poll::Pending
            }
        }
    }

    /// Registers `waker` to be woken on completion, under `key`: a new
    /// entry when `key` is `None` (its key is stored there), else the
    /// entry's waker is replaced if it would not wake the same task.
    /// `false` when the value is complete already (nothing is kept; the
    /// complete flag is set). The registrant removes the entry with
    /// [`unwatch`](Self::unwatch) when it stops waiting, so no waker
    /// outlives the wait.
    pub(crate) fn watch(&self, waker: &Waker, key: &mut Option<u64>) -> bool {
        match &mut *lock(&self.slot) {
            Slot::Pending(waiters) => {
                waiters.register(waker, key);
                true
            }
            Slot::Complete(_) => false,
        }
    }

    /// Removes the waker registered under `key`, if the value is still
    /// pending (a complete one's wakers were taken out and woken).
    pub(crate) fn unwatch(&self, key: u64) {
        let removed = match &mut *lock(&self.slot) {
            Slot::Pending(waiters) => waiters.wakers.remove(key),
            Slot::Complete(_) => None,
        };
        // Dropped outside the lock: a waker's drop is foreign code.
        drop(removed);
    }

    /// How many wakers wait (0 once complete).
    pub(crate) fn waiters(&self) -> usize {
        match &*lock(&self.slot) {
            Slot::Pending(waiters) => waiters.wakers.len(),
            Slot::Complete(_) => 0,
        }
    }

    /// Blocks until complete or `deadline` (`None`: no deadline): `read` of
    /// the value, under the lock, or `None` on timeout. Spins briefly
    /// first: a value completed within microseconds costs no sleep. (Under
    /// loom the deadline only counts before the first sleep: see the
    /// module docs.)
    pub(crate) fn wait<R>(
        &self,
        deadline: Option<Instant>,
        read: impl FnOnce(&T) -> R,
    ) -> Option<R> {
        let spun = spin_until(|| self.is_complete());
        // Read the clock only for a wait that goes on to sleep.
        let since = (!spun).then(Instant::now);
        let mut slot = lock(&self.slot);
        loop {
            let waiters = match &mut *slot {
                Slot::Complete(value) => {
                    if let Some(since) = since {
                        slept(since);
                    }
                    return Some(read(value));
                }
                Slot::Pending(waiters) => waiters,
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return None;
            }
            waiters.sleepers += 1;
            slot = self.sleep(slot, deadline);
            if let Slot::Pending(waiters) = &mut *slot {
                waiters.sleepers -= 1;
            }
        }
    }

    /// Sleeps on the condvar until notified or `deadline`.
    #[cfg(not(rustyray_loom))]
    fn sleep<'a>(
        &self,
        slot: MutexGuard<'a, Slot<T>>,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, Slot<T>> {
        crate::sync::wait_until(&self.ready, slot, deadline)
    }

    /// Sleeps on the condvar until notified (loom does not model time: the
    /// models wait without a deadline).
    #[cfg(rustyray_loom)]
    fn sleep<'a>(
        &self,
        slot: MutexGuard<'a, Slot<T>>,
        _deadline: Option<Instant>,
    ) -> MutexGuard<'a, Slot<T>> {
        self.ready
            .wait(slot)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Empties it, for its holder's `Drop`: the slot as it was (the value,
    /// or the pending waiters), for the holder to drop where it likes.
    pub(crate) fn take(&mut self) -> Slot<T> {
        let slot = self.slot.get_mut().unwrap_or_else(PoisonError::into_inner);
        mem::replace(slot, Slot::Pending(Waiters::default()))
    }

    /// Threads asleep in [`wait`](Self::wait) (tests).
    #[cfg(all(test, not(rustyray_loom)))]
    fn sleepers(&self) -> u32 {
        match &*lock(&self.slot) {
            Slot::Pending(waiters) => waiters.sleepers,
            Slot::Complete(_) => 0,
        }
    }
}

#[cfg(all(test, not(rustyray_loom)))]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::time::Duration;

    use super::*;

    /// Counts wake-ups.
    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Wakes {
        fn count(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    struct Hook(AtomicUsize);

    impl Producer for Hook {
        fn cancel(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }

        fn help(self: Arc<Self>) -> bool {
            false
        }
    }

    #[test]
    fn completes_once_and_gives_a_second_value_back() {
        let c = Completion::pending(None);
        assert!(!c.is_complete());
        assert_eq!(c.read(|v: Option<&u32>| v.copied()), None);
        let mut settled = None;
        assert!(c.complete(1, |v| settled = Some(*v)).is_ok());
        assert_eq!(settled, Some(1));
        assert!(c.is_complete());
        assert_eq!(c.complete(2, |_| panic!("settled twice")), Err(2));
        assert_eq!(c.read(|v| v.copied()), Some(1));
        assert_eq!(c.wait(None, |v| *v), Some(1));
    }

    #[test]
    fn a_completed_value_may_change_but_a_pending_one_is_not_there() {
        let c = Completion::completed(1u32);
        assert!(c.is_complete());
        c.update(|v| *v.expect("complete") = 5);
        assert_eq!(c.read(|v| v.copied()), Some(5));
        let p = Completion::<u32>::pending(None);
        assert!(p.update(|v| v.is_none()));
    }

    #[test]
    fn the_producer_is_reached_only_while_pending() {
        let hook = Arc::new(Hook(AtomicUsize::new(0)));
        let weak: Weak<dyn Producer> = Arc::downgrade(&hook) as Weak<dyn Producer>;
        let c = Completion::pending(Some(weak));
        if let Some(p) = c.producer() {
            p.cancel();
        }
        assert_eq!(hook.0.load(Ordering::SeqCst), 1);
        assert!(c.complete(1u32, |_| {}).is_ok());
        assert!(c.producer().is_none());
        let gone = Completion::<u32>::pending(Some(Weak::<Hook>::new() as Weak<dyn Producer>));
        assert!(gone.producer().is_none());
    }

    #[test]
    fn watchers_are_woken_once_and_unwatched_ones_not_at_all() {
        let c = Completion::pending(None);
        let (a, b) = (Arc::new(Wakes::default()), Arc::new(Wakes::default()));
        let (wa, wb) = (Waker::from(Arc::clone(&a)), Waker::from(Arc::clone(&b)));
        let (mut ka, mut kb) = (None, None);
        assert!(c.watch(&wa, &mut ka));
        assert!(c.watch(&wb, &mut kb));
        assert_ne!(ka, kb);
        // Watching again under the same key keeps one entry.
        assert!(c.watch(&wb, &mut kb));
        assert_eq!(c.waiters(), 2);
        c.unwatch(ka.expect("registered"));
        assert_eq!(c.waiters(), 1);
        assert!(c.complete(3u32, |_| {}).is_ok());
        assert_eq!((a.count(), b.count()), (0, 1));
        assert_eq!(c.waiters(), 0);
        assert!(!c.watch(&wa, &mut None));
        // No registration is kept: only the test's clones remain.
        drop((wa, wb));
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (1, 1));
    }

    #[test]
    fn poll_registers_then_reads_and_replaces_a_waker_under_its_key() {
        let c = Completion::pending(None);
        let (a, b) = (Arc::new(Wakes::default()), Arc::new(Wakes::default()));
        let (wa, wb) = (Waker::from(Arc::clone(&a)), Waker::from(Arc::clone(&b)));
        let mut key = None;
        assert_eq!(c.poll(&wa, &mut key, |v: &u32| *v), Poll::Pending);
        // Polled again from another task: the entry's waker is replaced.
        assert_eq!(c.poll(&wb, &mut key, |v| *v), Poll::Pending);
        assert_eq!(c.waiters(), 1);
        assert!(c.complete(4, |_| {}).is_ok());
        assert_eq!((a.count(), b.count()), (0, 1));
        assert_eq!(c.poll(&wb, &mut key, |v| *v), Poll::Ready(4));
        assert_eq!(key, None);
    }

    #[test]
    fn a_panicking_waker_does_not_keep_the_others_asleep() {
        struct Panics;
        impl Wake for Panics {
            fn wake(self: Arc<Self>) {
                panic!("a waker that panics");
            }
        }
        let c = Completion::pending(None);
        let woken = Arc::new(Wakes::default());
        assert!(c.watch(&Waker::from(Arc::new(Panics)), &mut None));
        assert!(c.watch(&Waker::from(Arc::clone(&woken)), &mut None));
        assert!(c.complete(1u32, |_| {}).is_ok());
        assert_eq!(woken.count(), 1);
    }

    #[test]
    fn a_timed_wait_times_out_and_leaves_no_sleeper() {
        let c = Completion::<u32>::pending(None);
        let past = Instant::now();
        assert_eq!(c.wait(Some(past), |v| *v), None);
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(c.wait(Some(soon), |v| *v), None);
        assert!(Instant::now() >= soon);
        assert_eq!(c.sleepers(), 0);
        assert!(c.complete(2, |_| {}).is_ok());
        assert_eq!(c.wait(Some(past), |v| *v), Some(2));
    }

    #[test]
    fn complete_wakes_a_sleeping_waiter() {
        for deadline in [None, Some(Instant::now() + Duration::from_secs(600))] {
            let c = Arc::new(Completion::<u32>::pending(None));
            let waiter = {
                let c = Arc::clone(&c);
                std::thread::spawn(move || c.wait(deadline, |v| *v))
            };
            // Complete only once the waiter sleeps on the condvar.
            while c.sleepers() == 0 {
                std::thread::yield_now();
            }
            assert!(c.complete(9, |_| {}).is_ok());
            assert_eq!(waiter.join().expect("waiter"), Some(9));
        }
    }

    #[test]
    fn take_empties_it_for_its_holder() {
        let mut c = Completion::completed(String::from("v"));
        assert!(matches!(c.take(), Slot::Complete(v) if v == "v"));
        let mut p = Completion::<u32>::pending(None);
        assert!(p.watch(&Waker::noop().clone(), &mut None));
        assert!(matches!(p.take(), Slot::Pending(w) if w.wakers.len() == 1));
    }
}

#[cfg(all(test, rustyray_loom))]
mod loom_models {
    use std::sync::atomic::{AtomicBool as StdFlag, AtomicUsize as StdCount};
    use std::task::Wake;

    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    const SEEN: std::sync::atomic::Ordering = std::sync::atomic::Ordering::SeqCst;

    /// Counts wake-ups (std atomics: only read after joins).
    #[derive(Default)]
    struct Wakes(StdCount);

    impl Wake for Wakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SEEN);
        }
    }

    /// A wake counter and a waker that bumps it.
    fn counted() -> (std::sync::Arc<Wakes>, Waker) {
        let wakes = std::sync::Arc::new(Wakes::default());
        let waker = Waker::from(std::sync::Arc::clone(&wakes));
        (wakes, waker)
    }

    fn woken(wakes: &Wakes) -> usize {
        wakes.0.load(SEEN)
    }

    /// A waker that, like a future polled again once woken, looks at the
    /// value when woken; what each wake-up saw is kept for after the joins.
    struct Repoll<R> {
        look: Box<dyn Fn() -> Option<R> + Send + Sync>,
        seen: std::sync::Mutex<Vec<Option<R>>>,
    }

    impl<R: Send + 'static> Wake for Repoll<R> {
        fn wake(self: std::sync::Arc<Self>) {
            let seen = (self.look)();
            if let Ok(mut all) = self.seen.lock() {
                all.push(seen);
            }
        }
    }

    impl<R: Clone> Repoll<R> {
        /// What each wake-up saw.
        fn seen(&self) -> Vec<Option<R>> {
            self.seen.lock().map(|all| all.clone()).unwrap_or_default()
        }
    }

    /// A [`Repoll`] that looks with `look`, and its waker.
    fn repolled<R: Send + 'static>(
        look: impl Fn() -> Option<R> + Send + Sync + 'static,
    ) -> (std::sync::Arc<Repoll<R>>, Waker) {
        let repoll = std::sync::Arc::new(Repoll {
            look: Box::new(look),
            seen: std::sync::Mutex::new(Vec::new()),
        });
        let waker = Waker::from(std::sync::Arc::clone(&repoll));
        (repoll, waker)
    }

    /// Complete racing blocking waiters (`get`): each waiter wakes with the
    /// value, whether it slept before the completion or looked after it; a
    /// lost notify would leave it asleep forever (loom reports the
    /// deadlock).
    #[test]
    fn blocking_waiters_wake_with_the_value() {
        loom::model(|| {
            let c = Arc::new(Completion::<u32>::pending(None));
            let completer = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.complete(7, |_| {}).is_ok())
            };
            let other = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.wait(None, |v| *v))
            };
            assert_eq!(c.wait(None, |v| *v), Some(7));
            assert_eq!(other.join().unwrap(), Some(7));
            assert!(completer.join().unwrap());
        });
    }

    /// Complete racing an async waiter registering (`r.await`, and the
    /// flag-then-watch of `wait_async`): a registered waker is woken once,
    /// and finds the value when it looks again; a waiter that finds the
    /// value complete under the lock also sees the complete flag, and one
    /// that sees the flag finds the value.
    #[test]
    fn an_async_waiter_is_woken_or_sees_the_value() {
        loom::model(|| {
            let c = Arc::new(Completion::<u32>::pending(None));
            let completer = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.complete(7, |_| {}).is_ok())
            };
            let look = || {
                let c = Arc::clone(&c);
                move || c.read(|v| v.copied())
            };
            let (polls, poller) = repolled(look());
            let (watches, watcher) = repolled(look());
            let mut key = None;
            let polled = c.poll(&poller, &mut key, |v| *v);
            let watched = c.watch(&watcher, &mut None);
            let flag = c.is_complete();
            assert!(watched || flag, "found complete under the lock, flag unset");
            if flag {
                assert_eq!(c.read(|v| v.copied()), Some(7), "flag set, value missing");
            }
            assert!(completer.join().unwrap());
            match polled {
                Poll::Ready(v) => assert_eq!((v, key, polls.seen()), (7, None, vec![])),
                Poll::Pending => assert_eq!(polls.seen(), vec![Some(7)], "woken without the value"),
            }
            let expected = if watched { vec![Some(7)] } else { vec![] };
            assert_eq!(watches.seen(), expected);
        });
    }

    /// A task whose output a cancel races: the producer hook a `cancel`
    /// reaches completes the output with an error.
    struct Task {
        out: Completion<Result<u32, &'static str>>,
        /// Whether the cancel's error won.
        cancel_won: StdFlag,
    }

    impl Producer for Task {
        fn cancel(self: std::sync::Arc<Self>) {
            if self.out.complete(Err("cancelled"), |_| {}).is_ok() {
                self.cancel_won.store(true, SEEN);
            }
        }

        fn help(self: std::sync::Arc<Self>) -> bool {
            false
        }
    }

    /// A cancel (through the producer hook) racing the task's own result:
    /// exactly one completes the output, and every waiter (blocking, async,
    /// a late read) sees that one.
    #[test]
    fn cancel_racing_complete_decides_once_for_every_waiter() {
        loom::model(|| {
            let task = std::sync::Arc::new_cyclic(|me: &Weak<Task>| Task {
                out: Completion::pending(Some(me.clone() as Weak<dyn Producer>)),
                cancel_won: StdFlag::new(false),
            });
            let (watches, waker) = repolled({
                let task = std::sync::Arc::clone(&task);
                move || task.out.read(|v| v.copied())
            });
            assert!(task.out.watch(&waker, &mut None));
            let runner = {
                let task = std::sync::Arc::clone(&task);
                thread::spawn(move || task.out.complete(Ok(7), |_| {}).is_ok())
            };
            let canceller = {
                let task = std::sync::Arc::clone(&task);
                thread::spawn(move || {
                    if let Some(producer) = task.out.producer() {
                        producer.cancel();
                    }
                })
            };
            let waited = task.out.wait(None, |v| *v);
            let ran = runner.join().unwrap();
            canceller.join().unwrap();
            let cancelled = task.cancel_won.load(SEEN);
            assert!(ran != cancelled, "ran {ran}, cancelled {cancelled}");
            let expected = if ran { Ok(7) } else { Err("cancelled") };
            assert_eq!(waited, Some(expected));
            assert_eq!(task.out.read(|v| v.copied()), Some(expected));
            assert_eq!(watches.seen(), vec![Some(expected)]);
        });
    }

    /// One future dropped (`unwatch`) and another polled again from a new
    /// task (its waker replaced under its key), racing the completion: the
    /// dropped one's removal takes nobody else's registration, the live one
    /// is woken through its current waker or sees the value, and the
    /// completion keeps no waker.
    #[test]
    fn unwatch_racing_complete_loses_no_other_wake() {
        loom::model(|| {
            let c = Arc::new(Completion::<u32>::pending(None));
            let (dropped, dropped_waker) = counted();
            let (before, before_waker) = counted();
            let (after, after_waker) = counted();
            let (mut dropped_key, mut key) = (None, None);
            assert!(c.watch(&dropped_waker, &mut dropped_key));
            assert!(c.watch(&before_waker, &mut key));
            let dropper = {
                let c = Arc::clone(&c);
                let dropped_key = dropped_key.unwrap();
                thread::spawn(move || {
                    c.unwatch(dropped_key);
                    // Gone at once, completion or not: only the live
                    // future's entry may remain.
                    assert!(c.waiters() <= 1, "a dropped registration kept");
                })
            };
            let completer = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.complete(7, |_| {}).is_ok())
            };
            let polled = c.poll(&after_waker, &mut key, |v| *v);
            dropper.join().unwrap();
            assert!(completer.join().unwrap());
            assert!(woken(&dropped) <= 1);
            match polled {
                Poll::Ready(v) => {
                    assert_eq!(v, 7);
                    assert_eq!((woken(&before), woken(&after)), (1, 0));
                }
                Poll::Pending => assert_eq!((woken(&before), woken(&after)), (0, 1)),
            }
            drop((dropped_waker, before_waker, after_waker));
            for wakes in [&dropped, &before, &after] {
                assert_eq!(std::sync::Arc::strong_count(wakes), 1, "a waker kept");
            }
        });
    }

    /// A value that counts its drops.
    struct Tracked(u32, std::sync::Arc<StdCount>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.1.fetch_add(1, SEEN);
        }
    }

    /// An executor's task that owns a holder of the completion (a task owns
    /// the future that owns a ref): woken, it reads the value and lets go.
    /// Its registration and its holder form a cycle that only the
    /// completion breaks.
    struct Owner {
        held: std::sync::Mutex<Option<Arc<Completion<Tracked>>>>,
        seen: StdCount,
    }

    impl Wake for Owner {
        fn wake(self: std::sync::Arc<Self>) {
            let held = self.held.lock().ok().and_then(|mut h| h.take());
            if let Some(c) = held {
                if let Some(v) = c.read(|t| t.map(|t| t.0)) {
                    self.seen.store(v as usize, SEEN);
                }
            }
        }
    }

    /// The holders of a completion let go in any order around the
    /// completion (the completer at once, a blocking waiter once it has
    /// the value, an async waiter's task when woken, the ref first): each
    /// waiter gets the value, and whichever lets go last frees it, once;
    /// nothing is leaked (loom checks every `Arc` is freed).
    #[test]
    fn the_last_holder_frees_it_whoever_waits() {
        loom::model(|| {
            let drops = std::sync::Arc::new(StdCount::new(0));
            let c = Arc::new(Completion::<Tracked>::pending(None));
            let owner = std::sync::Arc::new(Owner {
                held: std::sync::Mutex::new(Some(Arc::clone(&c))),
                seen: StdCount::new(0),
            });
            assert!(c.watch(&Waker::from(std::sync::Arc::clone(&owner)), &mut None));
            let waiter = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.wait(None, |t| t.0))
            };
            let completer = {
                let (c, drops) = (Arc::clone(&c), std::sync::Arc::clone(&drops));
                thread::spawn(move || c.complete(Tracked(7, drops), |_| {}).is_ok())
            };
            drop(c);
            assert_eq!(waiter.join().unwrap(), Some(7));
            assert!(completer.join().unwrap());
            assert_eq!(owner.seen.load(SEEN), 7);
            assert_eq!(drops.load(SEEN), 1, "freed once, by the last holder");
            assert_eq!(std::sync::Arc::strong_count(&owner), 1, "registration kept");
        });
    }
}
