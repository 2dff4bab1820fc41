//! The functions `#[remote]`-generated code calls to submit a task.
//!
//! Generated code passes the call's options, its arguments as a tuple of
//! [`Arg`](crate::Arg)s and a closure that calls the user's function; this
//! module hands them to the runtime's engine (see [`crate::backend`]).

use std::future::Future;

use crate::api::task_options::TaskOptions;
use crate::backend::{Backend, CallSpec};
use crate::error::Result;
use crate::runtime::{global, Config, Runtime};
use crate::task::args::ArgList;
use crate::task::body::{async_body, sync_body};
use crate::task::returns::{TaskReturn, UserError};
use crate::task::task::Body;

/// The runtime a call goes to: the one named with `.on(..)`, else the
/// current one.
pub(crate) fn target_runtime(options: &TaskOptions) -> Result<Runtime> {
    let runtime = match &options.runtime {
        Some(rt) => rt.clone(),
        None => global()?,
    };
    runtime.check_running()?;
    Ok(runtime)
}

/// What an engine is told of a call with `options` to `runtime`.
pub(crate) fn call_spec<'a>(options: &'a TaskOptions, runtime: &Runtime) -> Result<CallSpec<'a>> {
    if let Some((pg, _)) = &options.placement {
        pg.check_runtime(runtime)?;
    }
    Ok(CallSpec {
        function: options.function,
        name: options.name.clone(),
        num_cpus: options.num_cpus,
        resources: &options.resources,
        max_retries: options.max_retries,
        retry_exceptions: options.retry_exceptions,
        placement: options
            .placement
            .as_ref()
            .map(|(pg, b)| (&pg.reservation, *b)),
        num_returns: options.num_returns,
        first_attempt: options.first_attempt,
    })
}

/// Submits a call with `options` to its runtime's engine.
fn submit<A: ArgList, R: TaskReturn, B: Body>(
    options: &TaskOptions,
    args: A,
    body: impl FnOnce(A) -> B,
) -> Result<R::Refs> {
    let runtime = target_runtime(options)?;
    let call = call_spec(options, &runtime)?;
    #[cfg(feature = "ray")]
    if let Some(ray) = runtime.ray() {
        return ray.submit::<A, R>(runtime.engine().local().store(), call, args);
    }
    #[cfg(feature = "ray")]
    if let Some(link) = crate::backend::ray::worker::nested(runtime.id()) {
        return link.submit::<A, R>(&call, args);
    }
    runtime.engine().local().submit::<A, R, B>(call, args, body)
}

/// Submits a sync function: it runs on one of the runtime's worker threads.
#[doc(hidden)]
pub fn submit_sync<A, R, F>(options: TaskOptions, args: A, body: F) -> Result<R::Refs>
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    submit::<A, R, _>(&options, args, |args| sync_body(args, body))
}

/// Submits an async function: it runs on the runtime's tokio executor.
#[doc(hidden)]
pub fn submit_async<A, R, F, Fut>(options: TaskOptions, args: A, body: F) -> Result<R::Refs>
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
{
    submit::<A, R, _>(&options, args, |args| async_body(args, body))
}

/// Runs the body of an async `#[rustyray::test]` or `#[rustyray::main]`:
/// builds a multi-thread tokio runtime whose threads see the new RustyRay
/// runtime (see [`tokio_thread_start`](crate::tokio_thread_start)), starts
/// the RustyRay runtime on it (no second executor), runs `body` to
/// completion with the runtime in scope, then shuts both down.
///
/// # Panics
/// With `what` when the runtimes cannot start, or when called inside an
/// async context (tokio forbids nested `block_on`): entry-point mistakes,
/// as in `#[tokio::main]`.
#[doc(hidden)]
pub fn run_async<F: Future>(config: Config, what: &str, body: impl FnOnce() -> F) -> F::Output {
    let threads = config.executor_threads();
    let prefix = config
        .name
        .clone()
        .unwrap_or_else(|| "rustyray".to_string());
    let shutdown_timeout = config.shutdown_timeout;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(format!("{prefix}-tokio"))
        .enable_all()
        .on_thread_start(crate::tokio_thread_start())
        .build()
        .unwrap_or_else(|err| panic!("{what}: the tokio runtime failed to start: {err}"));
    let guard = crate::init(config.tokio_handle(tokio.handle().clone()))
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    let output = tokio.block_on(guard.scope(body()));
    drop(guard);
    tokio.shutdown_timeout(shutdown_timeout);
    output
}
