//! [`ActorCore`]: one actor's state, its constructor and its restarts.
//!
//! The state sits behind an async-aware read-write lock: `&self` methods
//! take it shared, `&mut self` methods exclusively, so `max_concurrency`
//! above 1 lets `&self` calls overlap while `&mut self` calls stay alone.
//! Sync methods lock it on their worker thread, async ones with owned
//! guards that live inside the call's future.
//!
//! A panic in a method is a crash. The crashed instance is dropped and,
//! while restarts remain, the constructor runs again with the same
//! arguments (kept in the store for that); the generation number tells
//! concurrent crashes of one instance apart so it restarts once. Without
//! restarts left the actor dies, and its mailbox fails every later call.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::actor::mailbox::{Instance, Mailbox};
use crate::error::Error;
use crate::sync::lock;
use crate::sync::{catch, catch_future, panic_message};
use crate::task::args::ArgList;
use crate::task::returns::{TaskReturn, UserError};
use crate::task::task::{Body, BoxFuture, Failure, Outcome, Task};

#[doc(hidden)]
pub struct Slot<A> {
    generation: u64,
    value: Option<A>,
    /// Set when the actor dies (shared with the core, so it can be set
    /// while a call holds the state): the last holder drops the state.
    doomed: Arc<AtomicBool>,
}

impl<A> Slot<A> {
    fn doomed(&self) -> bool {
        self.doomed.load(Ordering::Acquire)
    }
}

/// Drops a doomed actor's state if nobody holds it now.
fn reap<A>(state: &RwLock<Slot<A>>) {
    if let Ok(mut slot) = state.try_write() {
        if slot.doomed() {
            let dropped = slot.value.take();
            drop(slot);
            drop(dropped);
        }
    }
}

type Constructor<A> = Box<dyn FnMut() -> Result<A, String> + Send>;

pub(crate) struct ActorCore<A> {
    pub(crate) mailbox: Arc<Mailbox>,
    state: Arc<RwLock<Slot<A>>>,
    constructor: Mutex<Option<Constructor<A>>>,
    /// Restarts left; negative = no limit.
    restarts_left: Mutex<i64>,
    max_task_retries: u32,
    doomed: Arc<AtomicBool>,
}

/// Shared access to an actor's state inside an async `&self` method.
///
/// Dropping it (also when a killed call's future is dropped mid-`.await`)
/// drops the state of an actor that died meanwhile.
#[doc(hidden)]
pub struct ActorRead<A>(Option<OwnedRwLockReadGuard<Slot<A>>>);

/// Exclusive access to an actor's state inside an async `&mut self` method.
#[doc(hidden)]
pub struct ActorWrite<A>(Option<OwnedRwLockWriteGuard<Slot<A>>>);

impl<A> ActorRead<A> {
    fn held(&self) -> &Slot<A> {
        self.0.as_ref().expect("held until drop")
    }
}

impl<A> ActorWrite<A> {
    fn held(&self) -> &Slot<A> {
        self.0.as_ref().expect("held until drop")
    }
}

impl<A> Deref for ActorRead<A> {
    type Target = A;

    fn deref(&self) -> &A {
        self.held()
            .value
            .as_ref()
            .expect("checked when the guard was made")
    }
}

impl<A> Deref for ActorWrite<A> {
    type Target = A;

    fn deref(&self) -> &A {
        self.held()
            .value
            .as_ref()
            .expect("checked when the guard was made")
    }
}

impl<A> DerefMut for ActorWrite<A> {
    fn deref_mut(&mut self) -> &mut A {
        let slot = self.0.as_mut().expect("held until drop");
        slot.value
            .as_mut()
            .expect("checked when the guard was made")
    }
}

impl<A> Drop for ActorRead<A> {
    fn drop(&mut self) {
        if let Some(guard) = self.0.take() {
            let state = Arc::clone(OwnedRwLockReadGuard::rwlock(&guard));
            drop(guard);
            reap(&state);
        }
    }
}

impl<A> Drop for ActorWrite<A> {
    fn drop(&mut self) {
        if let Some(mut guard) = self.0.take() {
            if guard.doomed() {
                let dropped = guard.value.take();
                drop(guard);
                drop(dropped);
            }
        }
    }
}

fn user_failure(task: &Task, err: UserError) -> Failure {
    // An `Err` fails this call only and is not retried.
    Failure {
        error: Error::TaskFailed {
            task: task.name.to_string(),
            message: err.message,
            cause: err.cause,
        },
        retryable: false,
    }
}

fn bad_argument(error: Error) -> Failure {
    Failure {
        error,
        retryable: false,
    }
}

impl<A: Send + Sync + 'static> ActorCore<A> {
    pub(crate) fn new(
        mailbox: Arc<Mailbox>,
        max_restarts: i64,
        max_task_retries: u32,
    ) -> Arc<Self> {
        let doomed = Arc::new(AtomicBool::new(false));
        let core = Arc::new(ActorCore {
            mailbox,
            state: Arc::new(RwLock::new(Slot {
                generation: 0,
                value: None,
                doomed: Arc::clone(&doomed),
            })),
            constructor: Mutex::new(None),
            restarts_left: Mutex::new(max_restarts),
            max_task_retries,
            doomed,
        });
        let instance: Arc<dyn Instance> = core.clone();
        core.mailbox.set_instance(Arc::downgrade(&instance));
        core
    }

    pub(crate) fn max_task_retries(&self) -> u32 {
        self.max_task_retries
    }

    /// The body of the creation task: builds the first instance.
    pub(crate) fn creation_body<Ar, F>(self: &Arc<Self>, mut args: Ar, ctor: F) -> Body
    where
        Ar: ArgList,
        F: Fn(Ar::Values) -> Result<A, UserError> + Send + Sync + 'static,
    {
        let thunk: Constructor<A> = Box::new(move || {
            let values = args.take().map_err(|e| e.to_string())?;
            match catch(|| ctor(values)) {
                Ok(Ok(actor)) => Ok(actor),
                Ok(Err(err)) => Err(err.message),
                Err(panic) => Err(panic),
            }
        });
        *lock(&self.constructor) = Some(thunk);
        let core = Arc::clone(self);
        Body::Sync(Box::new(move |task: &Arc<Task>| match core.construct() {
            Ok(actor) => {
                core.state.blocking_write().value = Some(actor);
                task.retain_resources();
                core.mailbox.hold(task.demand.clone());
                core.mailbox.open();
                Ok(())
            }
            Err(cause) => {
                let cause = format!("its constructor failed: {cause}");
                core.mailbox.die(cause.clone());
                Err(bad_argument(core.mailbox.died(cause)))
            }
        }))
    }

    /// Shared access from a worker thread: without contention a plain
    /// `try_read`, else a blocking wait.
    fn read_blocking(&self) -> tokio::sync::RwLockReadGuard<'_, Slot<A>> {
        match self.state.try_read() {
            Ok(guard) => guard,
            Err(_) => self.state.blocking_read(),
        }
    }

    /// Exclusive access from a worker thread (see [`read_blocking`](Self::read_blocking)).
    fn write_blocking(&self) -> tokio::sync::RwLockWriteGuard<'_, Slot<A>> {
        match self.state.try_write() {
            Ok(guard) => guard,
            Err(_) => self.state.blocking_write(),
        }
    }

    fn construct(&self) -> Result<A, String> {
        let mut ctor = lock(&self.constructor);
        match ctor.as_mut() {
            Some(thunk) => thunk(),
            None => Err("no constructor".to_string()),
        }
    }

    /// After a crash of instance `generation`: restart it or let it die.
    /// The caller holds the state exclusively.
    fn recover(&self, slot: &mut Slot<A>, generation: u64, cause: &str) -> Option<String> {
        if slot.generation != generation || slot.value.is_none() {
            return None; // already restarted by a concurrent crash, or dead
        }
        slot.value = None;
        let allowed = {
            let mut left = lock(&self.restarts_left);
            let allowed = *left != 0;
            if *left > 0 {
                *left -= 1;
            }
            allowed
        };
        if !allowed {
            return Some(format!("it {cause} with no restarts left"));
        }
        match self.construct() {
            Ok(actor) => {
                slot.value = Some(actor);
                slot.generation += 1;
                self.mailbox.set_restarted();
                None
            }
            Err(err) => Some(format!("it {cause}, and restarting it failed: {err}")),
        }
    }

    fn crashed(&self, cause: &str) -> Failure {
        // Retryable: `max_task_retries` decides whether it runs again on
        // the restarted instance.
        Failure {
            error: self.mailbox.died(cause.to_string()),
            retryable: true,
        }
    }

    fn after_call(&self) {
        reap(&self.state);
    }

    fn conclude<R: TaskReturn>(
        &self,
        task: &Task,
        result: Result<Result<R, UserError>, String>,
        death: Option<String>,
    ) -> Outcome {
        if let Some(death) = death {
            self.mailbox.die(death);
        }
        match result {
            Ok(Ok(ret)) => {
                ret.complete(&task.outputs);
                Ok(())
            }
            Ok(Err(err)) => Err(user_failure(task, err)),
            Err(panic) => Err(self.crashed(&panic)),
        }
    }

    fn not_alive(&self) -> Failure {
        bad_argument(
            self.mailbox
                .dead()
                .unwrap_or_else(|| self.mailbox.died("its state is gone")),
        )
    }

    /// A sync `&self` method call.
    pub(crate) fn call_ref<Ar, R, F>(self: &Arc<Self>, mut args: Ar, f: F) -> Body
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&A, Ar::Values) -> Result<R, UserError> + Send + Sync + 'static,
    {
        let core = Arc::clone(self);
        Body::Sync(Box::new(move |task: &Arc<Task>| {
            let values = args.take().map_err(bad_argument)?;
            let (generation, result) = {
                let slot = core.read_blocking();
                let Some(actor) = slot.value.as_ref() else {
                    return Err(core.not_alive());
                };
                (slot.generation, catch(|| f(actor, values)))
            };
            let death = match &result {
                Err(panic) => core.recover(&mut core.write_blocking(), generation, panic),
                Ok(_) => None,
            };
            core.after_call();
            core.conclude(task, result, death)
        }))
    }

    /// A sync `&mut self` method call.
    pub(crate) fn call_mut<Ar, R, F>(self: &Arc<Self>, mut args: Ar, f: F) -> Body
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&mut A, Ar::Values) -> Result<R, UserError> + Send + Sync + 'static,
    {
        let core = Arc::clone(self);
        Body::Sync(Box::new(move |task: &Arc<Task>| {
            let values = args.take().map_err(bad_argument)?;
            let mut slot = core.write_blocking();
            let generation = slot.generation;
            let Some(actor) = slot.value.as_mut() else {
                return Err(core.not_alive());
            };
            let result = catch(|| f(actor, values));
            let death = match &result {
                Err(panic) => core.recover(&mut slot, generation, panic),
                Ok(_) => None,
            };
            drop(slot);
            core.after_call();
            core.conclude(task, result, death)
        }))
    }

    /// An async method call, with shared (`G` = [`ActorRead`]) or exclusive
    /// ([`ActorWrite`]) access held across its `.await`s.
    pub(crate) fn call_async<Ar, R, G, F, Fut>(self: &Arc<Self>, mut args: Ar, f: F) -> Body
    where
        Ar: ArgList,
        R: TaskReturn,
        G: Access<A>,
        F: Fn(G, Ar::Values) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, UserError>> + Send + 'static,
    {
        let core = Arc::clone(self);
        let f = Arc::new(f);
        Body::Async(Box::new(move |task: &Arc<Task>| -> BoxFuture {
            let (task, core, f) = (Arc::clone(task), Arc::clone(&core), Arc::clone(&f));
            let values = args.take();
            Box::pin(async move {
                let values = values.map_err(bad_argument)?;
                let guard = G::acquire(Arc::clone(&core.state)).await;
                let generation = match G::slot(&guard) {
                    Slot {
                        value: Some(_),
                        generation,
                        ..
                    } => *generation,
                    Slot { value: None, .. } => return Err(core.not_alive()),
                };
                let result = catch_future(f(guard, values))
                    .await
                    .map_err(|p| panic_message(&*p));
                let death = match &result {
                    Err(panic) => {
                        let mut slot = Arc::clone(&core.state).write_owned().await;
                        core.recover(&mut slot, generation, panic)
                    }
                    Ok(_) => None,
                };
                core.after_call();
                core.conclude(&task, result, death)
            })
        }))
    }
}

/// How an async method holds the actor's state: shared or exclusive.
#[doc(hidden)]
pub trait Access<A>: Send + Sized + 'static {
    #[doc(hidden)]
    fn acquire(state: Arc<RwLock<Slot<A>>>) -> impl Future<Output = Self> + Send;
    #[doc(hidden)]
    fn slot(&self) -> &Slot<A>;
}

impl<A: Send + Sync + 'static> Access<A> for ActorRead<A> {
    async fn acquire(state: Arc<RwLock<Slot<A>>>) -> Self {
        ActorRead(Some(state.read_owned().await))
    }

    fn slot(&self) -> &Slot<A> {
        self.held()
    }
}

impl<A: Send + Sync + 'static> Access<A> for ActorWrite<A> {
    async fn acquire(state: Arc<RwLock<Slot<A>>>) -> Self {
        ActorWrite(Some(state.write_owned().await))
    }

    fn slot(&self) -> &Slot<A> {
        self.held()
    }
}

impl<A: Send + Sync + 'static> Instance for ActorCore<A> {
    fn destroy(&self) {
        // Whoever holds the state last drops it: now, or the call that
        // holds it when it lets go.
        self.doomed.store(true, Ordering::Release);
        reap(&self.state);
    }
}
