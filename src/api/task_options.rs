//! [`TaskOptions`]: how one call of a remote function is submitted.

use std::sync::Arc;

use crate::api::placement::PlacementGroup;
use crate::runtime::Runtime;
use crate::task::spec::FirstAttempt;

/// Per-call options of a remote function: start from `f::options()`, set
/// what differs from the function's `#[remote(..)]` defaults, then call
/// `.remote(..)`.
///
/// Every generated `f::options()` builder has the same setters as this type
/// (`name`, `num_cpus`, `resource`, `max_retries`, `retry_exceptions`,
/// `on`).
#[derive(Clone, Debug)]
pub struct TaskOptions {
    pub(crate) function: &'static str,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) num_cpus: f64,
    pub(crate) resources: Vec<(String, f64)>,
    pub(crate) max_retries: u32,
    pub(crate) retry_exceptions: bool,
    pub(crate) generator_backpressure: Option<usize>,
    pub(crate) runtime: Option<Runtime>,
    pub(crate) placement: Option<(PlacementGroup, Option<usize>)>,
    /// Objects the call makes, when not its function's own count: set by
    /// the generated `num_returns(n)` of a function returning a `Vec`.
    pub(crate) num_returns: Option<usize>,
    /// The call's first attempt: a Ray worker runs the attempt of Ray's
    /// task that Ray runs (see [`TaskOptions::ray_attempt`]).
    pub(crate) first_attempt: FirstAttempt,
}

impl TaskOptions {
    /// Options with Ray's defaults for the function with this stable name
    /// (`module::path::fn`): 1 CPU, 3 retries of system failures, no retry
    /// of application errors.
    #[doc(hidden)]
    pub fn __new(function: &'static str) -> Self {
        TaskOptions {
            function,
            name: None,
            num_cpus: 1.0,
            resources: Vec::new(),
            max_retries: 3,
            retry_exceptions: false,
            generator_backpressure: None,
            runtime: None,
            placement: None,
            num_returns: None,
            first_attempt: FirstAttempt::NEW,
        }
    }

    /// The task's name in errors and [`context`](crate::context) (default:
    /// the function's path).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into().into());
        self
    }

    /// CPUs the task holds while it runs (default 1; fractions allowed, 0
    /// for none).
    pub fn num_cpus(mut self, n: impl Into<f64>) -> Self {
        self.num_cpus = n.into();
        self
    }

    /// An amount of a custom resource declared with
    /// [`Config::resource`](crate::Config::resource).
    pub fn resource(mut self, name: impl Into<String>, amount: impl Into<f64>) -> Self {
        set_resource(&mut self.resources, name.into(), amount.into());
        self
    }

    /// Runs the call as `attempt` (what [`Context::attempt`] and
    /// [`Context::task_id`] say in it): a Ray worker runs the attempt of
    /// Ray's task that Ray runs.
    ///
    /// [`Context::attempt`]: crate::Context::attempt
    /// [`Context::task_id`]: crate::Context::task_id
    #[cfg(feature = "ray")]
    pub(crate) fn ray_attempt(mut self, attempt: FirstAttempt) -> Self {
        self.first_attempt = attempt;
        self
    }

    /// How many times a failed attempt may be retried. Application errors
    /// (`Err`, panic) are retried only with
    /// [`retry_exceptions`](Self::retry_exceptions), as in Ray.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Whether an `Err` or a panic is retried (up to `max_retries`).
    pub fn retry_exceptions(mut self, yes: bool) -> Self {
        self.retry_exceptions = yes;
        self
    }

    /// For a streaming generator (`#[remote(streaming)]`): the producer
    /// pauses while `n` items (at least 1) it yielded are not yet taken
    /// from its [`ObjectRefStream`](crate::ObjectRefStream). Default: no
    /// limit. No effect on other functions.
    pub fn generator_backpressure(mut self, n: usize) -> Self {
        self.generator_backpressure = Some(n.max(1));
        self
    }

    /// Submits to this runtime instead of [`global()`](crate::global).
    pub fn on(mut self, runtime: &Runtime) -> Self {
        self.runtime = Some(runtime.clone());
        self
    }

    /// Sets how many objects the call makes (what the generated
    /// `num_returns(n)` of a function returning a `Vec` calls).
    #[doc(hidden)]
    pub fn __num_returns(mut self, n: usize) -> Self {
        self.num_returns = Some(n);
        self
    }

    /// The count [`__num_returns`](Self::__num_returns) set (0 if none).
    #[doc(hidden)]
    pub fn __returns(&self) -> usize {
        self.num_returns.unwrap_or(0)
    }

    /// Runs the task in bundle `bundle` of `pg` (`None`: any of its
    /// bundles), drawing its CPUs and resources from that reservation only,
    /// in `pg`'s runtime. It waits until the group is reserved; asking for
    /// more than the bundle (or group) holds is
    /// [`Error::Unschedulable`](crate::Error::Unschedulable).
    pub fn placement_group(mut self, pg: &PlacementGroup, bundle: Option<usize>) -> Self {
        self.placement = Some((pg.clone(), bundle));
        if self.runtime.is_none() {
            self.runtime = Some(pg.runtime().clone());
        }
        self
    }
}

/// Sets `name` to `amount` in a list of resource requests.
pub(crate) fn set_resource(resources: &mut Vec<(String, f64)>, name: String, amount: f64) {
    match resources.iter_mut().find(|(n, _)| *n == name) {
        Some(entry) => entry.1 = amount,
        None => resources.push((name, amount)),
    }
}

/// Generates, inside an `impl` of a one-field tuple struct wrapping
/// [`TaskOptions`], the same builder setters as `TaskOptions` itself. Used by
/// `#[remote]`, so that each function's options type has inherent setters.
///
/// Paths go through `$crate`, so a dependency renamed in Cargo.toml works.
/// The setters' docs name the options type without a link (a doc link
/// cannot say `$crate`; the generated type is `#[doc(hidden)]` anyway).
#[doc(hidden)]
#[macro_export]
macro_rules! __task_options_methods {
    () => {
        /// See `TaskOptions::name`.
        pub fn name(self, name: impl ::core::convert::Into<::std::string::String>) -> Self {
            Self(self.0.name(name))
        }
        /// See `TaskOptions::num_cpus`.
        pub fn num_cpus(self, n: impl ::core::convert::Into<f64>) -> Self {
            Self(self.0.num_cpus(n))
        }
        /// See `TaskOptions::resource`.
        pub fn resource(
            self,
            name: impl ::core::convert::Into<::std::string::String>,
            amount: impl ::core::convert::Into<f64>,
        ) -> Self {
            Self(self.0.resource(name, amount))
        }
        /// See `TaskOptions::max_retries`.
        pub fn max_retries(self, n: u32) -> Self {
            Self(self.0.max_retries(n))
        }
        /// See `TaskOptions::retry_exceptions`.
        pub fn retry_exceptions(self, yes: bool) -> Self {
            Self(self.0.retry_exceptions(yes))
        }
        /// See `TaskOptions::on`.
        pub fn on(self, runtime: &$crate::Runtime) -> Self {
            Self(self.0.on(runtime))
        }
        /// See `TaskOptions::placement_group`.
        pub fn placement_group(
            self,
            pg: &$crate::PlacementGroup,
            bundle: ::core::option::Option<usize>,
        ) -> Self {
            Self(self.0.placement_group(pg, bundle))
        }
        /// See `TaskOptions::generator_backpressure`.
        pub fn generator_backpressure(self, n: usize) -> Self {
            Self(self.0.generator_backpressure(n))
        }
        /// The options as a plain `TaskOptions`.
        pub fn into_options(self) -> $crate::TaskOptions {
            self.0
        }
    };
}
