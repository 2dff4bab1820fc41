//! Actors from the API: creating one (what `Counter::remote(..)` calls),
//! finding one by name, killing one.

use crate::actor::handle::{Actor, ActorHandle, ActorRef};
use crate::api::actor_class::ActorClass;
use crate::api::actor_options::ActorOptions;
use crate::backend::{Backend, CreateSpec};
use crate::error::{Error, Result};
use crate::runtime::global;
use crate::task::args::ArgList;
use crate::task::returns::UserError;

impl<A: Actor> ActorRef<A> {
    /// Creates an actor: generated `A::remote(..)` / `A::options().remote(..)`.
    #[doc(hidden)]
    pub fn __create<Ar, F>(
        options: ActorOptions,
        class: &ActorClass,
        constructor: &'static str,
        args: Ar,
        ctor: F,
    ) -> Result<Self>
    where
        Ar: ArgList,
        F: Fn(Ar::Values) -> std::result::Result<A, UserError> + Send + Sync + 'static,
    {
        let runtime = match &options.runtime {
            Some(rt) => rt.clone(),
            None => global()?,
        };
        runtime.check_running()?;
        if let Some((pg, _)) = &options.placement {
            pg.check_runtime(&runtime)?;
        }
        if options.get_if_exists && options.name.is_none() {
            return Err(Error::InvalidConfig {
                field: "get_if_exists",
                reason: "needs a name to look up: set `.name(..)` too".to_string(),
            });
        }
        let resolved = options.resolve(class);
        let namespace = match &options.namespace {
            Some(namespace) => namespace.clone(),
            None => runtime.namespace().to_string(),
        };
        let spec = CreateSpec {
            constructor,
            name: options.name.clone(),
            namespace,
            get_if_exists: options.get_if_exists,
            max_restarts: resolved.max_restarts,
            max_task_retries: resolved.max_task_retries,
            max_concurrency: resolved.max_concurrency,
            sync_concurrency: resolved.sync_concurrency,
            concurrency_groups: resolved.concurrency_groups,
            num_cpus: resolved.num_cpus,
            resources: &options.resources,
            placement: options
                .placement
                .as_ref()
                .map(|(pg, b)| (&pg.reservation, *b)),
            #[cfg(feature = "ray")]
            id: options.ray_id,
            #[cfg(not(feature = "ray"))]
            id: None,
        };
        #[cfg(feature = "ray")]
        if let Some(ray) = runtime.ray() {
            let methods = crate::api::registry::call_methods(std::any::type_name::<A>());
            return ray.create_actor::<A, Ar>(runtime.engine().local(), spec, &methods, args);
        }
        #[cfg(feature = "ray")]
        if let Some(link) = crate::backend::ray::worker::nested(runtime.id()) {
            let methods = crate::api::registry::call_methods(std::any::type_name::<A>());
            return link.create_actor::<A, Ar>(spec, &methods, args);
        }
        runtime.engine().local().create_actor(spec, args, ctor)
    }
}

/// The handle of the live actor named `name` in the current runtime.
/// [`Error::ActorNotFound`] when there is none, or it is not an `A`.
///
/// ```
/// #[rustyray::actor]
/// struct Counter {
///     n: i64,
/// }
///
/// #[rustyray::actor]
/// impl Counter {
///     fn new() -> Self {
///         Counter { n: 0 }
///     }
///
///     fn incr(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let hits = Counter::options().name("hits").remote()?;
/// hits.incr(2)?;
/// // Elsewhere, by name:
/// let same: CounterHandle = rustyray::get_actor::<Counter>("hits")?;
/// assert_eq!(same.incr(1)?.get()?, 3);
/// assert!(rustyray::get_actor::<Counter>("misses").is_err());
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn get_actor<A: Actor>(name: &str) -> Result<A::Handle> {
    global()?.get_actor::<A>(name)
}

/// Kills the actor: calls waiting or running fail with
/// [`Error::ActorDied`], its state is dropped, it is not restarted.
///
/// ```
/// use rustyray::Error;
///
/// #[rustyray::actor]
/// struct Counter {
///     n: i64,
/// }
///
/// #[rustyray::actor]
/// impl Counter {
///     fn new() -> Self {
///         Counter { n: 0 }
///     }
///
///     fn incr(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let counter = Counter::remote()?;
/// assert_eq!(counter.incr(1)?.get()?, 1);
/// rustyray::kill(&counter)?;
/// assert!(matches!(counter.incr(1)?.get(), Err(Error::ActorDied { .. })));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn kill<H: ActorHandle>(handle: &H) -> Result<()> {
    handle.actor_ref().kill();
    Ok(())
}
