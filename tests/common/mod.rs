//! Helpers shared by the integration tests; a test file uses them with
//! `mod common;`.
//!
//! Each test file is its own crate, so every static here (and every
//! [`Registry`] a test file declares) is that test binary's own. Every wait
//! here is bounded by the including crate's `PATIENCE` (a [`Duration`]), so
//! a bug fails a test instead of hanging it.

// Each test crate uses only some of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustyray::{Error, Object, ObjectRef, Result};
use tokio::sync::watch;

use crate::PATIENCE;

pub mod probe;

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A count that threads can block on and futures can await.
pub struct Count {
    n: Mutex<usize>,
    changed: Condvar,
    watch: watch::Sender<usize>,
}

impl Default for Count {
    fn default() -> Self {
        Count {
            n: Mutex::new(0),
            changed: Condvar::new(),
            watch: watch::Sender::new(0),
        }
    }
}

impl Count {
    pub fn incr(&self) {
        let mut n = lock(&self.n);
        *n += 1;
        self.watch.send_replace(*n);
        self.changed.notify_all();
    }

    pub fn get(&self) -> usize {
        *lock(&self.n)
    }

    /// Blocks until the count is at least `n`; `false` after [`PATIENCE`].
    pub fn wait_for(&self, n: usize) -> bool {
        let guard = lock(&self.n);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, PATIENCE, |count| *count < n)
            .unwrap_or_else(PoisonError::into_inner);
        *guard >= n
    }

    /// Blocks until the count is at least `n` or `give_up()` holds
    /// (checked every few milliseconds); `false` then or after [`PATIENCE`].
    pub fn wait_for_or(&self, n: usize, give_up: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + PATIENCE;
        let mut count = lock(&self.n);
        while *count < n {
            let now = Instant::now();
            if give_up() || now >= deadline {
                return false;
            }
            let slice = (deadline - now).min(Duration::from_millis(5));
            count = self
                .changed
                .wait_timeout(count, slice)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Waits until the count is at least `n`.
    pub async fn reached(&self, n: usize) {
        let mut rx = self.watch.subscribe();
        let _ = rx.wait_for(|count| *count >= n).await;
    }
}

/// What one test shares with the tasks or actors it starts, which reach it
/// through the test's key (task arguments must be objects).
pub trait Keyed: Sized + 'static {
    /// Where this test crate keeps the states of its tests.
    fn registry() -> &'static Registry<Self>;

    /// Lets go of every task or call held back for the test. Runs when the
    /// test's [`TestState`] drops, so that a failing test leaves none
    /// blocked.
    fn release(&self);
}

/// The states of one kind that the tests of a crate own, by key.
pub struct Registry<S> {
    states: LazyLock<Mutex<HashMap<u64, Arc<S>>>>,
    next_key: AtomicU64,
    /// Whether a state leaves the registry when its test drops it.
    forget_released: bool,
}

impl<S> Registry<S> {
    /// A registry whose states leave it once their test drops them.
    pub const fn new() -> Self {
        Self::with_policy(true)
    }

    /// A registry whose states stay (released) after their test drops them.
    pub const fn keeping_released() -> Self {
        Self::with_policy(false)
    }

    const fn with_policy(forget_released: bool) -> Self {
        Registry {
            states: LazyLock::new(Default::default),
            next_key: AtomicU64::new(1),
            forget_released,
        }
    }

    /// The state with this key (created on first use).
    pub fn get_or_default(&self, key: u64) -> Arc<S>
    where
        S: Default,
    {
        Arc::clone(lock(&self.states).entry(key).or_default())
    }

    /// The state with this key; panics if there is none.
    pub fn get(&self, key: u64) -> Arc<S> {
        Arc::clone(&lock(&self.states)[&key])
    }
}

/// A test's own state, under a fresh key; released (see [`Keyed`]) when
/// dropped.
pub struct TestState<S: Keyed> {
    pub key: u64,
    state: Arc<S>,
}

impl<S: Keyed> TestState<S> {
    /// A fresh default state.
    pub fn new() -> Self
    where
        S: Default,
    {
        Self::with(S::default())
    }

    /// `state`, under a fresh key.
    pub fn with(state: S) -> Self {
        let registry = S::registry();
        let key = registry.next_key.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(state);
        lock(&registry.states).insert(key, Arc::clone(&state));
        TestState { key, state }
    }
}

impl<S: Keyed> Deref for TestState<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S: Keyed> Drop for TestState<S> {
    fn drop(&mut self) {
        self.state.release();
        let registry = S::registry();
        if registry.forget_released {
            lock(&registry.states).remove(&self.key);
        }
    }
}

/// The value of `r`, waiting at most [`PATIENCE`].
pub fn get<T: Object>(r: &ObjectRef<T>) -> Result<T> {
    r.get_timeout(PATIENCE)
}

/// Every value of `refs`, failing (not hanging) if they are not all ready
/// within [`PATIENCE`].
pub fn get_all_within<T: Object>(refs: &[ObjectRef<T>]) -> Result<Vec<T>> {
    let (_, pending) = rustyray::wait(refs, refs.len(), Some(PATIENCE))?;
    assert!(
        pending.is_empty(),
        "{} of {} refs still pending after {PATIENCE:?}",
        pending.len(),
        refs.len()
    );
    rustyray::get_all(refs)
}

/// The cause of an `ActorDied`, or a panic naming what came instead.
pub fn died<T: std::fmt::Debug>(outcome: Result<T>) -> String {
    match outcome {
        Err(Error::ActorDied { cause, .. }) => cause,
        other => panic!("expected ActorDied, got {other:?}"),
    }
}

/// Polls `condition` until it holds, yielding between polls; panics with
/// `what` once [`PATIENCE`] has passed.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting until {what} after {PATIENCE:?}"
        );
        std::thread::yield_now();
    }
}

/// Bytes of the postcard varint encoding of `n`.
pub fn varint_len(n: u64) -> u64 {
    let bits = 64 - (n | 1).leading_zeros();
    u64::from(bits.div_ceil(7))
}

/// Bytes of the type tag that ends an encoded ref or actor handle.
pub const TYPE_TAG_LEN: u64 = 8;

/// The encoded size of a ref: its runtime id and its index, as varints,
/// then its type tag.
pub fn ref_len<T>(r: &ObjectRef<T>) -> u64 {
    varint_len(r.id().runtime().as_u64()) + varint_len(r.id().index()) + TYPE_TAG_LEN
}

/// The type tag of `kind<T>` on the wire (`kind` is `ObjectRef` for refs,
/// `ActorRef` for actor handles): the 64-bit FNV-1a hash of
/// `kind<{std::any::type_name::<T>()}>`, little endian.
pub fn type_tag<T: ?Sized>(kind: &str) -> [u8; 8] {
    fnv1a(format!("{kind}<{}>", std::any::type_name::<T>()).as_bytes()).to_le_bytes()
}

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A ref to `r`'s object typed as `ObjectRef<U>`: `r`'s encoding with the
/// type tag of `U` put in. What a program gets that decodes a ref with a
/// forged tag (or with two types of one name); the store must still never
/// hand back a wrong value through it. Call under `r`'s runtime.
pub fn retype<T, U>(r: &ObjectRef<T>) -> ObjectRef<U> {
    let mut bytes = postcard::to_allocvec(r).expect("a ref encodes");
    let at = bytes.len() - TYPE_TAG_LEN as usize;
    bytes[at..].copy_from_slice(&type_tag::<U>("ObjectRef"));
    postcard::from_bytes(&bytes).expect("a retyped ref decodes under its runtime")
}

/// Runs the test `name` of this binary in a child process and checks that
/// it passed there; `false` when called in that child, which runs the test
/// itself. A test whose failure mode is an abort (a stack overflow) then
/// fails alone instead of taking every test of the binary down with it.
pub fn run_in_child_process(name: &str) -> bool {
    const CHILD: &str = "RUSTYRAY_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("the child process starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`{name}` failed in its child process ({}):\n{stderr}",
        out.status
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "`{name}` did not run in its child process"
    );
    true
}
