//! Locks, deadlines and waits.

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Locks `m`, ignoring poisoning (see the module docs): a std mutex, or
/// the facade's (loom's, under `--cfg rustyray_loom`).
pub(crate) fn lock<L: Lock + ?Sized>(m: &L) -> L::Guard<'_> {
    #[cfg(feature = "lock-stats")]
    LOCKS.fetch_add(1, Ordering::Relaxed);
    m.lock_ignoring_poison()
}

/// Lock acquisitions so far (feature `lock-stats`): every [`lock`], and
/// every wake of a [`wait_until`] (which takes the lock again).
#[cfg(feature = "lock-stats")]
pub(crate) static LOCKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A mutex [`lock`] takes.
pub(crate) trait Lock {
    type Guard<'a>
    where
        Self: 'a;
    fn lock_ignoring_poison(&self) -> Self::Guard<'_>;
}

impl<T: ?Sized> Lock for Mutex<T> {
    type Guard<'a>
        = MutexGuard<'a, T>
    where
        Self: 'a;

    fn lock_ignoring_poison(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A padded mutex locks as the mutex it holds.
impl<L: Lock> Lock for super::Padded<L> {
    type Guard<'a>
        = L::Guard<'a>
    where
        Self: 'a;

    fn lock_ignoring_poison(&self) -> L::Guard<'_> {
        self.0.lock_ignoring_poison()
    }
}

#[cfg(rustyray_loom)]
impl<T> Lock for loom::sync::Mutex<T> {
    type Guard<'a>
        = loom::sync::MutexGuard<'a, T>
    where
        Self: 'a;

    fn lock_ignoring_poison(&self) -> loom::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The instant `timeout` from now; `None` ("never") when that instant is
/// past what the clock can represent (`Duration::MAX`, say).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Waits on `condvar` once, until notified or `deadline` (`None`: no
/// deadline).
pub(crate) fn wait_until<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> MutexGuard<'a, T> {
    #[cfg(feature = "lock-stats")]
    LOCKS.fetch_add(1, Ordering::Relaxed);
    match deadline {
        None => condvar.wait(guard).unwrap_or_else(PoisonError::into_inner),
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            condvar
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0
        }
    }
}

/// The longest a waiting thread spins before it sleeps: work handed over
/// within this time costs no system call and no wake-up latency.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// How long a thread spins now, adapted to what spinning earned it lately.
///
/// A spin that ends without the awaited event halves the budget: on a
/// machine whose other cores are busy, the thread that would produce the
/// event may need this very core, and spinning only delays it. A sleep
/// that ends sooner than [`SPIN`] restores it: a spin would have caught
/// that event. So a quiet machine keeps its
/// spins and a loaded one stops spinning, without ever stopping for good.
#[derive(Debug)]
pub(crate) struct SpinBudget(std::sync::atomic::AtomicU32);

impl SpinBudget {
    pub(crate) const fn new() -> SpinBudget {
        SpinBudget(std::sync::atomic::AtomicU32::new(SPIN.as_micros() as u32))
    }

    /// The budget now.
    pub(crate) fn get(&self) -> Duration {
        Duration::from_micros(u64::from(self.0.load(Ordering::Relaxed)))
    }

    /// A spin found nothing.
    pub(crate) fn spun_in_vain(&self) {
        let now = self.0.load(Ordering::Relaxed);
        self.0.store(now / 2, Ordering::Relaxed);
    }

    /// A sleep that began at `since` ended (the event arrived).
    pub(crate) fn slept(&self, since: Instant) {
        if since.elapsed() < SPIN {
            self.0.store(SPIN.as_micros() as u32, Ordering::Relaxed);
        }
    }
}

/// How long a spin runs before it starts yielding its core between looks.
const YIELD_AFTER: Duration = Duration::from_micros(2);

thread_local! {
    /// The spin budget of this thread's waits on objects.
    static BUDGET: SpinBudget = const { SpinBudget::new() };
}

/// Spins until `ready()` or this thread's [`SpinBudget`] has passed;
/// whether it became ready. A `false` is followed by a sleep, whose end
/// the caller reports with [`slept`].
pub(crate) fn spin_until(ready: impl Fn() -> bool) -> bool {
    BUDGET.with(|budget| {
        let limit = budget.get();
        // The clock is read only once a first round of looks found
        // nothing: most waits of a round trip end within it.
        let mut start = None;
        loop {
            for _ in 0..64 {
                if ready() {
                    return true;
                }
                std::hint::spin_loop();
            }
            let spun = start.get_or_insert_with(Instant::now).elapsed();
            if spun > limit {
                budget.spun_in_vain();
                return ready();
            }
            if spun > YIELD_AFTER {
                // The thread we wait for may be waiting for this core.
                std::thread::yield_now();
            }
        }
    })
}

/// The sleep that followed a vain [`spin_until`], begun at `since`, ended.
pub(crate) fn slept(since: Instant) {
    BUDGET.with(|budget| budget.slept(since));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spin_budget_halves_in_vain_and_comes_back_after_a_short_sleep() {
        let budget = SpinBudget::new();
        assert_eq!(budget.get(), SPIN);
        for _ in 0..10 {
            budget.spun_in_vain();
        }
        assert_eq!(budget.get(), Duration::ZERO);
        // A sleep that lasted longer than a full spin: spinning would not
        // have caught the event either.
        budget.slept(Instant::now() - 2 * SPIN);
        assert_eq!(budget.get(), Duration::ZERO);
        budget.slept(Instant::now());
        assert_eq!(budget.get(), SPIN);
        budget.spun_in_vain();
        assert_eq!(budget.get(), SPIN / 2);
    }

    #[test]
    fn deadline_after_saturates_to_none() {
        assert_eq!(deadline_after(Duration::MAX), None);
        assert!(deadline_after(Duration::from_secs(1)).is_some());
    }
}
