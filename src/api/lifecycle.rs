//! An actor's life from the API: [`exit_actor`] from inside, [`kill_with`]
//! (Ray's `kill(no_restart=False)`), [`get_actor_in`] a namespace, and
//! [`Context::current_actor`].

use crate::actor::handle::{Actor, ActorHandle, ActorRef};
use crate::error::Result;
use crate::runtime::global;
use crate::task::context::{context, Context};

/// Options of [`kill_with`].
#[derive(Clone, Copy, Debug)]
pub struct KillOptions {
    no_restart: bool,
}

impl Default for KillOptions {
    /// As [`kill`](crate::kill): no restart.
    fn default() -> Self {
        KillOptions { no_restart: true }
    }
}

impl KillOptions {
    /// `false`: restart the actor (its constructor runs again with the same
    /// arguments) if its `max_restarts` allow, as Ray's
    /// `kill(actor, no_restart=False)`; the restart counts against them.
    /// Default `true`.
    pub fn no_restart(mut self, yes: bool) -> Self {
        self.no_restart = yes;
        self
    }
}

/// Kills the actor's running instance. With
/// [`no_restart(false)`](KillOptions::no_restart) it is restarted while its
/// `max_restarts` allow (its calls then run on the new instance; those
/// running when it was killed fail with
/// [`Error::ActorDied`](crate::Error::ActorDied) unless `max_task_retries`
/// runs them again); otherwise, or without restarts left, it dies as with
/// [`kill`](crate::kill).
///
/// ```
/// use rustyray::KillOptions;
///
/// #[rustyray::actor]
/// struct Counter {
///     n: i64,
/// }
///
/// #[rustyray::actor(max_restarts = 1)]
/// impl Counter {
///     fn new() -> Self {
///         Counter { n: 0 }
///     }
///
///     fn incr(&mut self) -> i64 {
///         self.n += 1;
///         self.n
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let counter = Counter::remote()?;
/// assert_eq!(counter.incr()?.get()?, 1);
/// rustyray::kill_with(&counter, KillOptions::default().no_restart(false))?;
/// assert_eq!(counter.incr()?.get()?, 1); // a fresh instance
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn kill_with<H: ActorHandle>(handle: &H, options: KillOptions) -> Result<()> {
    if options.no_restart {
        handle.actor_ref().kill();
    } else {
        handle.actor_ref().kill_and_restart();
    }
    Ok(())
}

/// Inside an actor method: the actor stops once this call returns (its
/// result is delivered), for good: no restart, whatever `max_restarts`
/// says. No other call of it starts meanwhile; its pending calls, and calls
/// of other groups still running, fail with
/// [`Error::ActorDied`](crate::Error::ActorDied). Outside an actor it does
/// nothing.
///
/// Unlike Ray's `exit_actor()`, it returns: the method goes on to its end.
///
/// ```
/// #[rustyray::actor]
/// struct Job;
///
/// #[rustyray::actor]
/// impl Job {
///     fn new() -> Self {
///         Job
///     }
///
///     fn finish(&self) -> String {
///         rustyray::exit_actor();
///         "bye".to_string()
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let job = Job::remote()?;
/// assert_eq!(job.finish()?.get()?, "bye");
/// assert!(matches!(job.finish()?.get(), Err(rustyray::Error::ActorDied { .. })));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn exit_actor() {
    if let Some(actor) = context().actor() {
        actor.exit();
    }
}

/// The handle of the live actor named `name` in the namespace `namespace`
/// of the current runtime (see
/// [`ActorOptions::namespace`](crate::ActorOptions::namespace));
/// [`Error::ActorNotFound`](crate::Error::ActorNotFound) when there is
/// none, or it is not an `A`.
pub fn get_actor_in<A: Actor>(name: &str, namespace: &str) -> Result<A::Handle> {
    global()?.get_actor_in::<A>(name, namespace)
}

impl Context {
    /// Inside a call (or the constructor) of an `A` actor: a handle to it,
    /// to pass along or to call itself with. `None` outside an actor, or
    /// inside an actor of another type.
    pub fn current_actor<A: Actor>(&self) -> Option<A::Handle> {
        let id = self.actor_id()?;
        ActorRef::<A>::current(id).map(A::Handle::from_actor_ref)
    }
}
