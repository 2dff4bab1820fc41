//! The functions `#[remote]`-generated code calls to submit a task.
//!
//! Generated code passes the call's options, its arguments as a tuple of
//! [`Arg`](crate::Arg)s and a closure that calls the user's function; this
//! module turns them into a [`Task`] and gives it to the scheduler. Tasks
//! and actor calls both end up here, in [`submit_task`].

use std::future::Future;
use std::sync::Arc;

use crate::actor::mailbox::Mailbox;
use crate::error::{Error, Result};
use crate::runtime::{global, Config, Runtime};
use crate::task::args::{ArgList, Dependencies};
use crate::task::options::TaskOptions;
use crate::task::returns::{TaskReturn, UserError};
use crate::task::task::{Body, BoxFuture, Failure, Place, Task};

impl UserError {
    pub(crate) fn into_failure(self, task: &Task) -> Failure {
        Failure {
            error: Error::TaskFailed {
                task: task.name.to_string(),
                message: self.message,
                cause: self.cause,
            },
            retryable: true,
        }
    }
}

fn bad_argument(error: Error) -> Failure {
    Failure {
        error,
        retryable: false,
    }
}

/// A sync attempt: take the arguments, call, store the results.
pub(crate) fn sync_body<A, R, F>(mut args: A, body: F) -> Body
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    Body::Sync(Box::new(move |task: &Arc<Task>| {
        let values = args.take().map_err(bad_argument)?;
        match body(values) {
            Ok(ret) => {
                ret.complete(&task.outputs);
                Ok(())
            }
            Err(err) => Err(err.into_failure(task)),
        }
    }))
}

/// An async attempt: the same, as a future.
pub(crate) fn async_body<A, R, F, Fut>(mut args: A, body: F) -> Body
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
{
    Body::Async(Box::new(move |task: &Arc<Task>| -> BoxFuture {
        let task = Arc::clone(task);
        match args.take() {
            Err(err) => Box::pin(std::future::ready(Err(bad_argument(err)))),
            Ok(values) => {
                let future = body(values);
                Box::pin(async move {
                    match future.await {
                        Ok(ret) => {
                            ret.complete(&task.outputs);
                            Ok(())
                        }
                        Err(err) => Err(err.into_failure(&task)),
                    }
                })
            }
        }
    }))
}

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

/// Where and how a task runs, besides its options.
pub(crate) struct Submission {
    pub(crate) place: Place,
    pub(crate) actor: Option<Arc<Mailbox>>,
    /// Whether by-value arguments must survive more than one use (retries,
    /// actor restarts).
    pub(crate) reusable_args: bool,
    pub(crate) outputs: usize,
}

impl Submission {
    pub(crate) fn task(options: &TaskOptions, outputs: usize) -> Submission {
        Submission {
            place: Place::Pool,
            actor: None,
            reusable_args: options.retry_exceptions && options.max_retries > 0,
            outputs,
        }
    }
}

/// Creates a task and hands it to the scheduler: the one way tasks, actor
/// calls and actor creations enter the system.
pub(crate) fn submit_task<A: ArgList>(
    runtime: &Runtime,
    options: &TaskOptions,
    submission: Submission,
    mut args: A,
    body: impl FnOnce(A) -> Body,
) -> Result<Arc<Task>> {
    let name = options.task_name();
    let demand =
        runtime
            .scheduler()
            .capacity()
            .demand(&name, options.num_cpus, &options.resources)?;
    if submission.reusable_args {
        args.make_reusable(runtime)?;
    }
    let mut deps = Dependencies::default();
    args.dependencies(&mut deps);
    let task = Task::new(
        runtime.scheduler().next_id(),
        name,
        runtime.clone(),
        submission.outputs,
        demand,
        options.max_retries,
        options.retry_exceptions,
        submission.place,
        submission.actor,
        deps.0,
        body(args),
    );
    task.start();
    Ok(task)
}

/// Submits a sync function: it runs on one of the runtime's worker threads.
#[doc(hidden)]
pub fn submit_sync<A, R, F>(options: TaskOptions, args: A, body: F) -> Result<R::Refs>
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    let runtime = target_runtime(&options)?;
    let submission = Submission::task(&options, R::COUNT);
    let task = submit_task(&runtime, &options, submission, args, |args| {
        sync_body(args, body)
    })?;
    Ok(R::refs(&task.outputs))
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
    let runtime = target_runtime(&options)?;
    let submission = Submission::task(&options, R::COUNT);
    let task = submit_task(&runtime, &options, submission, args, |args| {
        async_body(args, body)
    })?;
    Ok(R::refs(&task.outputs))
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
