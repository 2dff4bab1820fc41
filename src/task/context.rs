//! [`context()`]: what the running task knows about itself.
//!
//! While a task attempt runs (each poll, for an async one) a reference to
//! it is set in a scoped thread-local, so reading the context costs no
//! allocation and no lock, and code outside any task reads driver values.

use std::collections::HashMap;
use std::sync::Arc;

use crate::task::id::{ActorId, TaskId};
use crate::task::place::ActorView;
use crate::task::resources::show;
use crate::task::task::Task;

/// The task attempt running on this thread.
pub(crate) struct Running {
    pub(crate) task: Arc<Task>,
    pub(crate) attempt: u32,
}

scoped_tls::scoped_thread_local!(pub(crate) static RUNNING: Running);

/// Runs `f` as part of `running`.
pub(crate) fn enter<R>(running: &Running, f: impl FnOnce() -> R) -> R {
    RUNNING.set(running, f)
}

/// Whether a task is running on this thread.
pub(crate) fn is_running() -> bool {
    RUNNING.is_set()
}

/// The task running on this thread, if any.
pub(crate) fn with_running<R>(f: impl FnOnce(Option<&Running>) -> R) -> R {
    if RUNNING.is_set() {
        RUNNING.with(|r| f(Some(r)))
    } else {
        f(None)
    }
}

/// What the current task knows about itself; see [`context()`].
///
/// ```
/// let ctx = rustyray::context();
/// assert_eq!(ctx.task_id(), None); // the driver, outside any task
/// assert_eq!(ctx.attempt(), 0);
/// assert!(!ctx.is_cancelled());
/// ```
#[derive(Clone)]
pub struct Context {
    running: Option<(Arc<Task>, u32)>,
}

/// The context of the running task or actor call; outside one, the driver's
/// (no id, no name, attempt 0). Never fails.
pub fn context() -> Context {
    Context {
        running: with_running(|r| r.map(|r| (Arc::clone(&r.task), r.attempt))),
    }
}

impl Context {
    /// The running task's id: on a Ray cluster, Ray's task id.
    pub fn task_id(&self) -> Option<TaskId> {
        self.running.as_ref().map(|(t, _)| t.id)
    }

    /// The running task's name (its function path, `Actor.method`, or the
    /// name it was given).
    pub fn task_name(&self) -> Option<String> {
        self.running.as_ref().map(|(t, _)| t.name.to_string())
    }

    /// Which attempt this is: 0 for the first, 1 for the first retry, ….
    /// On a Ray cluster, a task's attempt as Ray numbers it (Ray does the
    /// retrying); an actor call's as the actor's worker process numbers it.
    pub fn attempt(&self) -> u32 {
        self.running.as_ref().map_or(0, |(_, a)| *a)
    }

    /// The actor this call runs on, if it is an actor call: on a Ray
    /// cluster, Ray's actor id, equal to its handles' `id()`.
    pub fn actor_id(&self) -> Option<ActorId> {
        self.actor().map(|a| a.id())
    }

    /// The name of that actor, if it has one.
    pub fn actor_name(&self) -> Option<String> {
        self.actor().and_then(|a| a.name().map(str::to_string))
    }

    /// Whether that actor is a restarted instance (its constructor ran again
    /// after a crash).
    pub fn was_restarted(&self) -> bool {
        self.actor().is_some_and(|a| a.was_restarted())
    }

    pub(crate) fn actor(&self) -> Option<&dyn ActorView> {
        let (task, _) = self.running.as_ref()?;
        task.place.as_ref()?.actor()
    }

    /// The resources the running task holds (`"CPU"` and custom names,
    /// those above 0): an actor call's are its actor's, what it holds for
    /// its lifetime. Empty outside a task.
    pub fn assigned_resources(&self) -> HashMap<String, f64> {
        let Some((task, _)) = self.running.as_ref() else {
            return HashMap::new();
        };
        let held;
        let demand = match self.actor().and_then(|a| a.held()) {
            Some(actor) if task.place.as_ref().is_some_and(|p| p.is_actor_call()) => {
                held = actor;
                &held
            }
            _ => &task.demand,
        };
        let names = &task.scheduler.capacity().names;
        let mut assigned = HashMap::new();
        if demand.cpu > 0 {
            assigned.insert("CPU".to_string(), show(demand.cpu));
        }
        for &(index, amount) in &demand.custom {
            if let Some(name) = names.get(index) {
                assigned.insert(name.clone(), show(amount));
            }
        }
        assigned
    }

    /// Whether the task was cancelled (or its runtime is shutting down): a
    /// long-running sync task should check this and return early.
    pub fn is_cancelled(&self) -> bool {
        self.running.as_ref().is_some_and(|(t, _)| t.is_cancelled())
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("task_id", &self.task_id())
            .field("task_name", &self.task_name())
            .field("attempt", &self.attempt())
            .field("is_cancelled", &self.is_cancelled())
            .field("actor_id", &self.actor_id())
            .finish()
    }
}
