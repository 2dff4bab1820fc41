//! The bottom layer: lock and wait helpers every other layer uses.
//!
//! - [`lock`]: a mutex lock that ignores poisoning. Every update RustyRay
//!   makes under a lock leaves the data consistent before any user code
//!   can run, so a panic elsewhere never leaves half-written state behind,
//!   and a poisoned lock is as good as a clean one.
//! - [`deadline_after`] and [`wait_until`]: waits with an optional deadline
//!   that saturate instead of overflowing (`Duration::MAX` means "no
//!   deadline").
//! - [`spin_until`] and [`SpinBudget`]: the short spin a waiter does
//!   before it sleeps (or an async waiter, on a value a worker thread is
//!   producing, before it suspends), as long as spinning has been paying
//!   lately (one look under loom).
//! - [`catch`], [`catch_future`] and [`panic_message`]: user code (a task,
//!   a `Drop`, a `Serialize`) may panic anywhere; these turn the panic into
//!   a value at the boundary where user code is called.
//! - [`Padded`] (a value on cache lines of its own), [`Few`] (what a
//!   lock hands out, most often one item, without an allocation) and
//!   [`FastHash`] (maps keyed by RustyRay's own numbers): the shapes of the
//!   hot paths' shared state.
//!
//! # The loom facade
//!
//! [`atomic`], [`Mutex`] (with its [`MutexGuard`]) and [`Condvar`] are
//! std's, or with `--cfg rustyray_loom` [loom](https://docs.rs/loom)'s,
//! whose models explore every interleaving of the threads that use them.
//! The protocols that decide races (the task phase machine,
//! `task/phase.rs`; an object's completion and its waiters,
//! `object/completion.rs`) take their types from here and carry loom
//! models next to them; `.ci/run` runs them
//! (`RUSTFLAGS="--cfg rustyray_loom" cargo test -p rustyray --lib --release loom_models`).
//! [`lock`] takes either mutex.

mod few;
mod hash;
mod padded;
mod panic;
// Under loom the timed spin is replaced (below).
#[cfg_attr(rustyray_loom, allow(dead_code))]
mod wait;

pub(crate) use few::Few;
pub(crate) use hash::FastHash;
pub(crate) use padded::Padded;
pub(crate) use panic::{catch, catch_future, panic_message};
#[cfg(feature = "lock-stats")]
pub(crate) use wait::LOCKS;
pub(crate) use wait::{deadline_after, lock, wait_until};

pub(crate) use wait::SpinBudget;
#[cfg(not(rustyray_loom))]
pub(crate) use wait::{slept, spin_until};

/// Under loom a spin is one look: loom does not model time, and a spin's
/// outcome only decides whether a waiter sleeps, which it checks again
/// under its lock.
#[cfg(rustyray_loom)]
pub(crate) fn spin_until(ready: impl Fn() -> bool) -> bool {
    ready()
}

/// Under loom there is no spin budget to adapt.
#[cfg(rustyray_loom)]
pub(crate) fn slept(_since: std::time::Instant) {}

#[cfg(not(rustyray_loom))]
pub(crate) use std::sync::{atomic, Condvar, Mutex, MutexGuard};

#[cfg(rustyray_loom)]
pub(crate) use loom::sync::{atomic, Condvar, Mutex, MutexGuard};
