//! [`ActorOptions`]: how an actor is created.

use crate::api::placement::PlacementGroup;
use crate::api::task_options::set_resource;
use crate::runtime::Runtime;
#[cfg(feature = "ray")]
use crate::task::ActorId;

/// Options of an actor: start from `Actor::options()`, set what you need,
/// then call `.remote(..)` with the constructor's arguments.
///
/// Every generated `A::options()` builder has the same setters as this type.
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
/// # let _rt = rustyray::init(rustyray::Config::default().num_cpus(2))?;
/// let counter = Counter::options()
///     .name("visits")          // found again with `get_actor`
///     .get_if_exists(true)     // or return the live one of that name
///     .max_restarts(2)         // rebuilt after a panic, twice
///     .max_task_retries(1)     // a call cut short by a crash runs again
///     .num_cpus(1.0)           // held for the actor's lifetime
///     .remote()?;
/// assert_eq!(counter.incr(5)?.get()?, 5);
/// # Ok::<(), rustyray::Error>(())
/// ```
///
/// A setting left unset takes the class default written on the actor's
/// `impl` (`#[rustyray::actor(max_restarts = 2, ..)]`), else Ray's default.
#[derive(Clone, Debug)]
pub struct ActorOptions {
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) get_if_exists: bool,
    pub(crate) max_restarts: Option<i64>,
    pub(crate) max_task_retries: Option<u32>,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) num_cpus: Option<f64>,
    pub(crate) concurrency_groups: Vec<(String, usize)>,
    pub(crate) resources: Vec<(String, f64)>,
    pub(crate) runtime: Option<Runtime>,
    pub(crate) placement: Option<(PlacementGroup, Option<usize>)>,
    /// The id it goes by: Ray's, for the actor a Ray worker holds.
    #[cfg(feature = "ray")]
    pub(crate) ray_id: Option<ActorId>,
}

impl Default for ActorOptions {
    /// Nothing set: the class defaults, else Ray's (unnamed, no restarts,
    /// no call retries, one call at a time, or 1000 for an actor with an
    /// async method, no CPUs held).
    fn default() -> Self {
        ActorOptions {
            name: None,
            namespace: None,
            get_if_exists: false,
            max_restarts: None,
            max_task_retries: None,
            max_concurrency: None,
            num_cpus: None,
            concurrency_groups: Vec::new(),
            resources: Vec::new(),
            runtime: None,
            placement: None,
            #[cfg(feature = "ray")]
            ray_id: None,
        }
    }
}

impl ActorOptions {
    /// Names the actor: unique per runtime, found with
    /// [`get_actor`](crate::get_actor), alive until killed or the runtime
    /// shuts down.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The namespace the name lives in (default: the runtime's,
    /// [`Config::namespace`](crate::Config::namespace)); found with
    /// [`get_actor_in`](crate::get_actor_in).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// With a name: return the existing actor of that name (of the same
    /// type) instead of failing.
    pub fn get_if_exists(mut self, yes: bool) -> Self {
        self.get_if_exists = yes;
        self
    }

    /// How many times the actor is restarted after a panic (its constructor
    /// re-run with the same arguments); `-1` for no limit. Default 0.
    pub fn max_restarts(mut self, n: i64) -> Self {
        self.max_restarts = Some(n);
        self
    }

    /// How many times a call interrupted by a crash runs again on the
    /// restarted actor. Default 0: such calls fail with
    /// [`Error::ActorDied`](crate::Error::ActorDied).
    pub fn max_task_retries(mut self, n: u32) -> Self {
        self.max_task_retries = Some(n);
        self
    }

    /// How many calls of its default group may run at once (default 1, or
    /// 1000 for an actor with an async method, as in Ray): async methods
    /// interleave at `.await`s, sync methods run on at most `n` threads at
    /// once.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n.max(1));
        self
    }

    /// A concurrency group of at most `n` calls at once, or a new limit
    /// for one the class declares: methods marked
    /// `#[method(concurrency_group = "name")]` run in it, apart from the
    /// other groups' calls.
    pub fn concurrency_group(mut self, name: impl Into<String>, n: usize) -> Self {
        let name = name.into();
        let n = n.max(1);
        match self.concurrency_groups.iter_mut().find(|(g, _)| *g == name) {
            Some(group) => group.1 = n,
            None => self.concurrency_groups.push((name, n)),
        }
        self
    }

    /// CPUs the actor holds for its lifetime (default 0).
    pub fn num_cpus(mut self, n: impl Into<f64>) -> Self {
        self.num_cpus = Some(n.into());
        self
    }

    /// An amount of a custom resource held for the actor's lifetime.
    pub fn resource(mut self, name: impl Into<String>, amount: impl Into<f64>) -> Self {
        set_resource(&mut self.resources, name.into(), amount.into());
        self
    }

    /// Creates the actor in this runtime instead of
    /// [`global()`](crate::global).
    pub fn on(mut self, runtime: &Runtime) -> Self {
        self.runtime = Some(runtime.clone());
        self
    }

    /// Places the actor in bundle `bundle` of `pg` (`None`: any of its
    /// bundles): what it holds for its lifetime comes from that
    /// reservation only, and removing the group kills it.
    pub fn placement_group(mut self, pg: &PlacementGroup, bundle: Option<usize>) -> Self {
        self.placement = Some((pg.clone(), bundle));
        if self.runtime.is_none() {
            self.runtime = Some(pg.runtime().clone());
        }
        self
    }
}

/// Generates, inside an `impl` of a one-field tuple struct wrapping
/// [`ActorOptions`], the same builder setters. Used by `#[actor]`.
///
/// Paths go through `$crate`, so a dependency renamed in Cargo.toml works.
/// The setters' docs name the options type without a link (a doc link
/// cannot say `$crate`; the generated type is `#[doc(hidden)]` anyway).
#[doc(hidden)]
#[macro_export]
macro_rules! __actor_options_methods {
    () => {
        /// See `ActorOptions::name`.
        pub fn name(self, name: impl ::core::convert::Into<::std::string::String>) -> Self {
            Self(self.0.name(name))
        }
        /// See `ActorOptions::namespace`.
        pub fn namespace(
            self,
            namespace: impl ::core::convert::Into<::std::string::String>,
        ) -> Self {
            Self(self.0.namespace(namespace))
        }
        /// See `ActorOptions::concurrency_group`.
        pub fn concurrency_group(
            self,
            name: impl ::core::convert::Into<::std::string::String>,
            n: usize,
        ) -> Self {
            Self(self.0.concurrency_group(name, n))
        }
        /// See `ActorOptions::get_if_exists`.
        pub fn get_if_exists(self, yes: bool) -> Self {
            Self(self.0.get_if_exists(yes))
        }
        /// See `ActorOptions::max_restarts`.
        pub fn max_restarts(self, n: i64) -> Self {
            Self(self.0.max_restarts(n))
        }
        /// See `ActorOptions::max_task_retries`.
        pub fn max_task_retries(self, n: u32) -> Self {
            Self(self.0.max_task_retries(n))
        }
        /// See `ActorOptions::max_concurrency`.
        pub fn max_concurrency(self, n: usize) -> Self {
            Self(self.0.max_concurrency(n))
        }
        /// See `ActorOptions::num_cpus`.
        pub fn num_cpus(self, n: impl ::core::convert::Into<f64>) -> Self {
            Self(self.0.num_cpus(n))
        }
        /// See `ActorOptions::resource`.
        pub fn resource(
            self,
            name: impl ::core::convert::Into<::std::string::String>,
            amount: impl ::core::convert::Into<f64>,
        ) -> Self {
            Self(self.0.resource(name, amount))
        }
        /// See `ActorOptions::on`.
        pub fn on(self, runtime: &$crate::Runtime) -> Self {
            Self(self.0.on(runtime))
        }
        /// See `ActorOptions::placement_group`.
        pub fn placement_group(
            self,
            pg: &$crate::PlacementGroup,
            bundle: ::core::option::Option<usize>,
        ) -> Self {
            Self(self.0.placement_group(pg, bundle))
        }
        /// The options as plain `ActorOptions`.
        pub fn into_options(self) -> $crate::ActorOptions {
            self.0
        }
    };
}
