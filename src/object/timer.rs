//! [`Timer`]: a deadline a future can wait for, in any async context.
//!
//! The async waits (`wait_async`) honour their timeout whatever executor
//! polls them. The timer is a tokio `Sleep` registered with the runtime's
//! executor (its own, or the tokio runtime it runs in), which works from
//! any poller; when that executor has no time driver, a helper thread
//! sleeps instead and wakes the waiting task.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use crate::object::store::Store;
use crate::sync::{catch, deadline_after, lock};

pub(crate) enum Timer {
    Tokio(Pin<Box<tokio::time::Sleep>>),
    Thread(Arc<Sleeper>),
    /// A deadline past what the clock can hold.
    Never,
}

impl Timer {
    /// A timer that expires `duration` from now, on the executor of the
    /// runtime `store` belongs to.
    pub(crate) fn after(store: &Store, duration: Duration) -> Timer {
        let Some(deadline) = deadline_after(duration) else {
            return Timer::Never;
        };
        let handle = store
            .timers()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        if let Some(handle) = handle {
            let sleep = catch(|| {
                let _entered = handle.enter();
                tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
            });
            if let Ok(sleep) = sleep {
                return Timer::Tokio(Box::pin(sleep));
            }
        }
        Timer::Thread(Sleeper::start(deadline))
    }

    /// Whether the deadline passed; else `cx` is woken when it does.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Timer::Tokio(sleep) => sleep.as_mut().poll(cx).is_ready(),
            Timer::Thread(sleeper) => sleeper.poll_expired(cx.waker()),
            Timer::Never => false,
        }
    }
}

/// A thread that sleeps until a deadline, then wakes whoever waits.
pub(crate) struct Sleeper {
    expired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Sleeper {
    fn start(deadline: Instant) -> Arc<Sleeper> {
        let sleeper = Arc::new(Sleeper {
            expired: AtomicBool::new(false),
            waker: Mutex::new(None),
        });
        let thread_sleeper = Arc::clone(&sleeper);
        let started = std::thread::Builder::new()
            .name("rustyray-timer".to_string())
            .spawn(move || {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                thread_sleeper.expire();
            });
        if started.is_err() {
            sleeper.expire(); // no thread to wait with: time out at once
        }
        sleeper
    }

    fn expire(&self) {
        self.expired.store(true, Ordering::Release);
        if let Some(waker) = lock(&self.waker).take() {
            waker.wake();
        }
    }

    fn poll_expired(&self, waker: &Waker) -> bool {
        if self.expired.load(Ordering::Acquire) {
            return true;
        }
        *lock(&self.waker) = Some(waker.clone());
        self.expired.load(Ordering::Acquire)
    }
}
