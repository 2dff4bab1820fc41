//! [`ActorCore`]: one actor's state, its constructor and its restarts.
//!
//! The state lives in an *incarnation*: one constructed instance behind an
//! async-aware read-write lock. `&self` methods take it shared, `&mut self`
//! methods exclusively, so `max_concurrency` above 1 lets `&self` calls
//! overlap while `&mut self` calls stay alone. Sync methods lock it on their
//! worker thread, async ones with owned guards that live inside the call's
//! future.
//!
//! A panic in a method (or in the constructor) is a crash, as a crashed
//! process is in Ray. The crash never waits for the instance's other calls:
//! the incarnation is marked crashed and leaves the core at once, the calls
//! still running on it that have no retries left fail with
//! [`Error::ActorDied`](crate::Error::ActorDied) at once, and the instance
//! is dropped when the last of them lets go of it. While restarts remain, a
//! restart task runs the constructor again with the same arguments (kept in
//! the store for that; `context().was_restarted()` is true inside it) and
//! installs a new incarnation; calls that may be retried
//! (`max_task_retries`) run again on it, in place. Without restarts left,
//! or when the constructor returns `Err`, the actor dies, and its mailbox
//! fails every call not yet finished.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::{Notify, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::actor::mailbox::{Construction, Instance, Mailbox};
use crate::error::Error;
use crate::sync::{catch, catch_future, lock, panic_message, Padded};
use crate::task::args::ArgList;
use crate::task::body::submit;
use crate::task::context;
use crate::task::resources::Demand;
use crate::task::returns::{TaskReturn, UserError};
use crate::task::run::{AsyncBody, SyncBody};
use crate::task::spec::{FirstAttempt, TaskName, TaskSpec};
use crate::task::task::{Body, Failure, Outcome, Task};

/// One constructed instance of an actor.
struct Incarnation<A> {
    state: Arc<RwLock<A>>,
    /// Set when a call on this instance panicked: its other calls' results
    /// no longer count.
    crashed: AtomicBool,
}

impl<A> Incarnation<A> {
    fn is_crashed(&self) -> bool {
        self.crashed.load(Ordering::Acquire)
    }
}

/// Where the actor is in its life, as the calls see it.
enum Life<A> {
    /// Its constructor runs (first, or again after a crash).
    Starting,
    Alive(Arc<Incarnation<A>>),
    Dead,
}

type Constructor<A> = Box<dyn FnMut() -> Result<A, UserError> + Send>;

pub(crate) struct ActorCore<A> {
    pub(crate) mailbox: Arc<Mailbox>,
    /// Locked by every call where it runs, while submitters read the
    /// fields around it: on cache lines of its own.
    life: Padded<Mutex<Life<A>>>,
    /// Wakes sync calls waiting for a restart to finish.
    changed: Condvar,
    /// Wakes async calls waiting for a restart to finish.
    notify: Notify,
    constructor: Mutex<Option<Constructor<A>>>,
    /// Restarts left; negative = no limit.
    restarts_left: AtomicI64,
    max_task_retries: u32,
}

/// Shared access to an actor's state inside an async `&self` method.
#[doc(hidden)]
pub struct ActorRead<A>(OwnedRwLockReadGuard<A>);

/// Exclusive access to an actor's state inside an async `&mut self` method.
#[doc(hidden)]
pub struct ActorWrite<A>(OwnedRwLockWriteGuard<A>);

impl<A> Deref for ActorRead<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A> Deref for ActorWrite<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A> DerefMut for ActorWrite<A> {
    fn deref_mut(&mut self) -> &mut A {
        &mut self.0
    }
}

/// How an async method holds the actor's state: shared or exclusive.
#[doc(hidden)]
pub trait Access<A>: Send + Sized + 'static {
    /// The access, if it is free now.
    #[doc(hidden)]
    fn try_acquire(state: &Arc<RwLock<A>>) -> Option<Self>;

    /// The access, once it is free.
    #[doc(hidden)]
    fn acquire(state: Arc<RwLock<A>>) -> impl Future<Output = Self> + Send;
}

impl<A: Send + Sync + 'static> Access<A> for ActorRead<A> {
    fn try_acquire(state: &Arc<RwLock<A>>) -> Option<Self> {
        Arc::clone(state).try_read_owned().ok().map(ActorRead)
    }

    async fn acquire(state: Arc<RwLock<A>>) -> Self {
        ActorRead(state.read_owned().await)
    }
}

impl<A: Send + Sync + 'static> Access<A> for ActorWrite<A> {
    fn try_acquire(state: &Arc<RwLock<A>>) -> Option<Self> {
        Arc::clone(state).try_write_owned().ok().map(ActorWrite)
    }

    async fn acquire(state: Arc<RwLock<A>>) -> Self {
        ActorWrite(state.write_owned().await)
    }
}

fn user_failure(task: &Task, err: UserError, retry: bool) -> Failure {
    // An `Err` fails this call only; it is retried only when its method
    // says `retry_exceptions`.
    Failure {
        error: Error::TaskFailed {
            task: task.name.to_string(),
            message: err.message,
            cause: err.cause,
        },
        retryable: retry,
    }
}

fn bad_argument(error: Error) -> Failure {
    Failure {
        error,
        retryable: false,
    }
}

/// What one call of a method produced.
type CallResult<R> = Result<Result<R, UserError>, String>;

impl<A: Send + Sync + 'static> ActorCore<A> {
    pub(crate) fn new(
        mailbox: Arc<Mailbox>,
        max_restarts: i64,
        max_task_retries: u32,
    ) -> Arc<Self> {
        let core = Arc::new(ActorCore {
            mailbox,
            life: Padded(Mutex::new(Life::Starting)),
            changed: Condvar::new(),
            notify: Notify::new(),
            constructor: Mutex::new(None),
            restarts_left: AtomicI64::new(max_restarts),
            max_task_retries,
        });
        let instance: Arc<dyn Instance> = core.clone();
        core.mailbox.set_instance(Arc::downgrade(&instance));
        core
    }

    pub(crate) fn max_task_retries(&self) -> u32 {
        self.max_task_retries
    }

    /// The body of the creation task: holds the actor's resources for its
    /// lifetime, then builds the first instance.
    pub(crate) fn creation_body<Ar, F>(self: &Arc<Self>, mut args: Ar, ctor: F) -> impl Body
    where
        Ar: ArgList,
        F: Fn(Ar::Values) -> Result<A, UserError> + Send + Sync + 'static,
    {
        let thunk: Constructor<A> = Box::new(move || {
            let values = args.take().map_err(|e| UserError {
                message: e.to_string(),
                cause: None,
            })?;
            ctor(values)
        });
        *lock(&self.constructor) = Some(thunk);
        let core = Arc::clone(self);
        SyncBody::new(move |task: &Arc<Task>| {
            // Held from now until the actor dies: if it died already (killed
            // before its constructor ran), the creation gives them back.
            if !core.mailbox.hold(task.demand.clone()) {
                return Err(bad_argument(core.not_alive()));
            }
            task.keep_resources();
            core.construct(None, Some(task));
            Ok(())
        })
    }

    /// Runs the constructor until an instance stands (a panic is a crash,
    /// which uses up a restart) and installs it; or lets the actor die.
    /// `crash`: why the previous instance is gone, when this is a restart;
    /// `creation`: the task running the constructor (the creation task, or
    /// a restart task), recorded as ended before any call can see the
    /// outcome.
    fn construct(self: &Arc<Self>, mut crash: Option<String>, creation: Option<&Task>) {
        let ended = |failed: bool| {
            if let Some(task) = creation {
                task.record_end(failed);
            }
        };
        loop {
            if let Some(cause) = &crash {
                let allowed = self
                    .restarts_left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| match left {
                        0 => None,
                        left if left > 0 => Some(left - 1),
                        unlimited => Some(unlimited),
                    })
                    .is_ok();
                if !allowed {
                    ended(true);
                    return self
                        .mailbox
                        .die(format!("it {cause} with no restarts left"));
                }
                self.mailbox.set_restarted();
                tracing::warn!(
                    target: "rustyray::actor",
                    actor = %self.mailbox.label,
                    actor_id = %self.mailbox.id,
                    %cause,
                    "restarting"
                );
            }
            let built = {
                let mut ctor = lock(&self.constructor);
                match ctor.as_mut() {
                    Some(thunk) => catch(thunk),
                    None => Ok(Err(UserError {
                        message: "no constructor".to_string(),
                        cause: None,
                    })),
                }
            };
            match built {
                Ok(Ok(actor)) => {
                    ended(false);
                    return self.install(actor);
                }
                Ok(Err(err)) => {
                    ended(true);
                    let cause = match &crash {
                        Some(crash) => {
                            format!("it {crash}, and restarting it failed: {}", err.message)
                        }
                        None => format!("its constructor failed: {}", err.message),
                    };
                    return self.mailbox.die(cause);
                }
                Err(panic) => crash = Some(format!("{panic} in its constructor")),
            }
        }
    }

    /// A new instance is up: calls may start (again).
    fn install(&self, actor: A) {
        let incarnation = Arc::new(Incarnation {
            state: Arc::new(RwLock::new(actor)),
            crashed: AtomicBool::new(false),
        });
        {
            let mut life = lock(&self.life);
            if matches!(*life, Life::Dead) {
                return; // killed meanwhile: the instance is dropped here
            }
            *life = Life::Alive(incarnation);
        }
        self.life_changed();
        self.mailbox.open();
    }

    fn life_changed(&self) {
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    /// The live instance, waiting while a restart runs.
    fn incarnation_blocking(&self) -> Result<Arc<Incarnation<A>>, Failure> {
        let mut life = lock(&self.life);
        loop {
            match &*life {
                Life::Alive(incarnation) => return Ok(Arc::clone(incarnation)),
                Life::Dead => {
                    drop(life);
                    return Err(bad_argument(self.not_alive()));
                }
                Life::Starting => {
                    life = self.changed.wait(life).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// The live instance, if there is one now; `Err` once the actor is
    /// dead; `Ok(None)` while it starts.
    fn live(&self) -> Result<Option<Arc<Incarnation<A>>>, Failure> {
        match &*lock(&self.life) {
            Life::Alive(incarnation) => return Ok(Some(Arc::clone(incarnation))),
            Life::Starting => return Ok(None),
            Life::Dead => {}
        }
        // Not while `life` is held: `not_alive` locks the mailbox.
        Err(bad_argument(self.not_alive()))
    }

    /// [`incarnation_blocking`](Self::incarnation_blocking), for async calls
    /// (which take the live instance with [`live`](Self::live) first).
    async fn incarnation(&self) -> Result<Arc<Incarnation<A>>, Failure> {
        loop {
            // Registered before looking again, so that a restart ending in
            // between still wakes it.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.live()? {
                Some(incarnation) => return Ok(incarnation),
                None => notified.await,
            }
        }
    }

    fn not_alive(&self) -> Error {
        self.mailbox
            .dead()
            .unwrap_or_else(|| self.mailbox.died("its state is gone"))
    }

    /// The failure of a call whose instance crashed. Retryable:
    /// `max_task_retries` decides whether it runs again on the restarted
    /// instance.
    fn crash_failure(&self, cause: &str) -> Failure {
        Failure {
            error: self.mailbox.died(cause.to_string()),
            retryable: true,
        }
    }

    /// A call on `incarnation` panicked: the instance is gone at once,
    /// without waiting for its other calls. The crashed call fails now
    /// unless it will be retried; the actor restarts (on a restart task) or
    /// dies.
    fn crashed(
        self: &Arc<Self>,
        task: &Arc<Task>,
        incarnation: Arc<Incarnation<A>>,
        panic: String,
    ) -> Failure {
        let failure = self.crash_failure(&panic);
        if incarnation.crashed.swap(true, Ordering::AcqRel) {
            return failure; // a concurrent crash of the same instance handles it
        }
        let current = {
            let mut life = lock(&self.life);
            match &*life {
                Life::Alive(current) if Arc::ptr_eq(current, &incarnation) => {
                    std::mem::replace(&mut *life, Life::Starting)
                }
                _ => Life::Starting,
            }
        };
        // Unless another call still holds it, the crashed instance is
        // dropped before anyone learns of the crash.
        if let Err(panic) = catch(|| drop((current, incarnation))) {
            tracing::warn!(actor = %self.mailbox.label, "dropping a crashed instance {panic}");
        }
        // The mailbox learns of the crash before the caller does: a call
        // submitted once the caller saw the failure waits for the restart.
        self.mailbox.crashed(Some(task), &failure.error);
        let attempt = context::with_running(|r| r.map_or(0, |r| r.attempt));
        if !task.may_retry(&failure, attempt) {
            task.fail(failure.error.clone());
        }
        self.restart(panic);
        failure
    }

    /// `kill_with(.., no_restart(false))`: the live instance is dropped as
    /// if it crashed, and the actor restarts while restarts remain (or
    /// dies). Calls running on it fail with `ActorDied` unless they may be
    /// retried. Nothing happens while it is starting or dead.
    pub(crate) fn kill_and_restart(self: &Arc<Self>) {
        let current = {
            let mut life = lock(&self.life);
            match &*life {
                Life::Alive(incarnation) => {
                    incarnation.crashed.store(true, Ordering::Release);
                    std::mem::replace(&mut *life, Life::Starting)
                }
                _ => return,
            }
        };
        if let Err(panic) = catch(|| drop(current)) {
            tracing::warn!(actor = %self.mailbox.label, "dropping a killed instance {panic}");
        }
        let cause = "was killed";
        self.mailbox.crashed(None, &self.mailbox.died(cause));
        self.restart(cause.to_string());
    }

    /// Runs the constructor again on a task of its own (a sync constructor
    /// must not run on the executor thread of a crashed async call).
    fn restart(self: &Arc<Self>, cause: String) {
        let core = Arc::clone(self);
        let spec = TaskSpec {
            name: TaskName::Function(self.mailbox.constructor_name),
            demand: Demand::default(),
            max_retries: 0,
            retry_exceptions: false,
            outputs: 0,
            place: Some(Arc::new(Construction(Arc::clone(&self.mailbox)))),
            seq: 0,
            first_attempt: FirstAttempt::NEW,
        };
        let mut cause = Some(cause);
        let submitted = submit(&self.mailbox.scheduler, spec, (), false, |()| {
            SyncBody::new(move |task: &Arc<Task>| {
                core.construct(cause.take(), Some(task));
                Ok(())
            })
        });
        if let Err(err) = submitted {
            self.mailbox
                .die(format!("it crashed and could not be restarted: {err}"));
        }
    }

    /// The outcome of a call that ran on `incarnation`.
    fn conclude<R: TaskReturn>(
        self: &Arc<Self>,
        task: &Arc<Task>,
        incarnation: Arc<Incarnation<A>>,
        result: CallResult<R>,
        retry_user: bool,
    ) -> Outcome {
        match result {
            Err(panic) => Err(self.crashed(task, incarnation, panic)),
            // Ran on an instance that crashed meanwhile: it does not count.
            Ok(_) if incarnation.is_crashed() => Err(self.crash_failure("crashed during the call")),
            Ok(Ok(ret)) => {
                task.succeed(ret);
                Ok(())
            }
            Ok(Err(err)) => Err(user_failure(task, err, retry_user)),
        }
    }

    /// A sync `&self` method call.
    pub(crate) fn call_ref<Ar, R, F>(
        self: &Arc<Self>,
        mut args: Ar,
        retry_user: bool,
        f: F,
    ) -> impl Body
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&A, Ar::Values) -> Result<R, UserError> + Send + Sync + 'static,
    {
        let core = Arc::clone(self);
        SyncBody::new(move |task: &Arc<Task>| {
            let values = args.take().map_err(bad_argument)?;
            let incarnation = core.incarnation_blocking()?;
            let result = {
                // Uncontended (the usual case): no blocking machinery.
                let state = match incarnation.state.try_read() {
                    Ok(state) => state,
                    Err(_) => incarnation.state.blocking_read(),
                };
                if incarnation.is_crashed() {
                    return Err(core.crash_failure("crashed before the call started"));
                }
                catch(|| f(&state, values))
            };
            core.conclude(task, incarnation, result, retry_user)
        })
    }

    /// A sync `&mut self` method call.
    pub(crate) fn call_mut<Ar, R, F>(
        self: &Arc<Self>,
        mut args: Ar,
        retry_user: bool,
        f: F,
    ) -> impl Body
    where
        Ar: ArgList,
        R: TaskReturn,
        F: Fn(&mut A, Ar::Values) -> Result<R, UserError> + Send + Sync + 'static,
    {
        let core = Arc::clone(self);
        SyncBody::new(move |task: &Arc<Task>| {
            let values = args.take().map_err(bad_argument)?;
            let incarnation = core.incarnation_blocking()?;
            let result = {
                let mut state = match incarnation.state.try_write() {
                    Ok(state) => state,
                    Err(_) => incarnation.state.blocking_write(),
                };
                if incarnation.is_crashed() {
                    return Err(core.crash_failure("crashed before the call started"));
                }
                catch(|| f(&mut state, values))
            };
            core.conclude(task, incarnation, result, retry_user)
        })
    }

    /// An async method call, with shared (`G` = [`ActorRead`]) or exclusive
    /// ([`ActorWrite`]) access held across its `.await`s.
    pub(crate) fn call_async<Ar, R, G, F, Fut>(
        self: &Arc<Self>,
        mut args: Ar,
        retry_user: bool,
        f: F,
    ) -> impl Body
    where
        Ar: ArgList,
        R: TaskReturn,
        G: Access<A>,
        F: Fn(G, Ar::Values) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<R, UserError>> + Send + 'static,
    {
        let core = Arc::clone(self);
        AsyncBody::new(move |task: &Arc<Task>| {
            let (task, core, f) = (Arc::clone(task), Arc::clone(&core), f.clone());
            let values = args.take();
            async move {
                let values = values.map_err(bad_argument)?;
                // The instance and the access to it are taken at once when
                // free (the usual case); the waits for them are boxed: held
                // inline, they would make every call's future larger.
                let incarnation = match core.live()? {
                    Some(incarnation) => incarnation,
                    None => Box::pin(core.incarnation()).await?,
                };
                let guard = match G::try_acquire(&incarnation.state) {
                    Some(guard) => guard,
                    None => Box::pin(G::acquire(Arc::clone(&incarnation.state))).await,
                };
                if incarnation.is_crashed() {
                    return Err(core.crash_failure("crashed before the call started"));
                }
                let result = catch_future(f(guard, values))
                    .await
                    .map_err(|p| panic_message(&*p));
                core.conclude(&task, incarnation, result, retry_user)
            }
        })
    }
}

impl<A: Send + Sync + 'static> Instance for ActorCore<A> {
    fn destroy(&self) {
        // The instance is dropped by whoever holds it last: now, or the
        // call that holds it when it lets go.
        let old = std::mem::replace(&mut *lock(&self.life), Life::Dead);
        self.life_changed();
        if let Err(panic) = catch(|| drop(old)) {
            tracing::warn!(actor = %self.mailbox.label, "dropping the actor's state {panic}");
        }
    }
}
