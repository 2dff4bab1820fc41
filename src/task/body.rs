//! How a call becomes a task: its body (a sync closure or a future per
//! attempt that stores its results), and [`submit`], the one way tasks,
//! actor calls and actor creations enter the system.

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::task::args::{ArgList, Dependencies, Keep};
use crate::task::returns::{TaskReturn, UserError};
use crate::task::run::{AsyncBody, SyncBody};
use crate::task::scheduler::Scheduler;
use crate::task::spec::TaskSpec;
use crate::task::task::{Body, Failure, Task};

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
pub(crate) fn sync_body<A, R, F>(mut args: A, body: F) -> impl Body
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> std::result::Result<R, UserError> + Send + Sync + 'static,
{
    SyncBody::new(move |task: &Arc<Task>| {
        let values = args.take().map_err(bad_argument)?;
        match body(values) {
            Ok(ret) => {
                task.succeed(ret);
                Ok(())
            }
            Err(err) => Err(err.into_failure(task)),
        }
    })
}

/// An async attempt: the same, as a future.
pub(crate) fn async_body<A, R, F, Fut>(mut args: A, body: F) -> impl Body
where
    A: ArgList,
    R: TaskReturn,
    F: Fn(A::Values) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<R, UserError>> + Send + 'static,
{
    AsyncBody::new(move |task: &Arc<Task>| {
        let task = Arc::clone(task);
        let future = args.take().map(&body);
        async move {
            match future.map_err(bad_argument)?.await {
                Ok(ret) => {
                    task.succeed(ret);
                    Ok(())
                }
                Err(err) => Err(err.into_failure(&task)),
            }
        }
    })
}

/// Creates a task as `spec` says and sets it going: the one way tasks,
/// actor calls and actor creations enter the system. With `reusable`,
/// by-value arguments go into the store first, so that every attempt (a
/// retry, an actor's restart) reads its own copy.
pub(crate) fn submit<A: ArgList, B: Body>(
    scheduler: &Arc<Scheduler>,
    spec: TaskSpec,
    mut args: A,
    reusable: bool,
    body: impl FnOnce(A) -> B,
) -> Result<Arc<Task>> {
    if reusable {
        args.make_reusable(&Keep(scheduler.store()))?;
    }
    let mut deps = Dependencies::default();
    args.dependencies(&mut deps);
    Ok(Task::start(scheduler, spec, deps.0, body(args)))
}
