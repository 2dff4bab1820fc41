//! [`Place`]: where a task runs once its resources are granted.
//!
//! The scheduler grants a task its resources and hands it to its place: the
//! worker pool (no place: the scheduler starts it) or an actor's mailbox,
//! which starts its calls one by one in their turn. The task layer knows
//! places only through this trait; the actor layer implements it.

use std::sync::Arc;

use crate::task::id::ActorId;
use crate::task::resources::Demand;
use crate::task::task::Task;

/// Somewhere other than the pool that tasks run.
pub(crate) trait Place: Send + Sync + 'static {
    /// A task of this place whose resources are granted: start it now or
    /// in its turn (with [`Scheduler::start`](super::scheduler::Scheduler::start)).
    fn deliver(&self, task: Arc<Task>);

    /// A task of this place waits for its dependencies: known, so that it
    /// can fail at once if the place goes away meanwhile.
    fn waiting(&self, task: &Arc<Task>);

    /// A task of this place left the system (ran, or ended without
    /// running).
    fn finished(&self, task: &Arc<Task>);

    /// Whether tasks of this place run on the pool once delivered, and so
    /// may be run by a thread blocked on their output before they are
    /// dispatched (an actor's calls may not: they wait for their actor's
    /// turn, and only a call dispatched in its turn may be stolen).
    fn stealable(&self) -> bool {
        false
    }

    /// A thread is about to block on the output of `task`, an async task
    /// of this place that has started and waits for its runner: `true`
    /// when the place hands it over, for that thread to run its first poll
    /// now. (A mailbox does for a call alone in its lane, so that no other
    /// call's start is overtaken.)
    fn hand_over(&self, task: &Arc<Task>) -> bool {
        let _ = task;
        false
    }

    /// Whether the task stops when the task that submitted it is cancelled
    /// (a call does; an actor's creation does not: the actor lives on).
    fn cancelled_with_parent(&self) -> bool {
        true
    }

    /// The actor the task belongs to, for [`context()`](crate::context).
    fn actor(&self) -> Option<&dyn ActorView>;

    /// Whether the task is a call of its actor (not its construction),
    /// holding what its actor holds.
    fn is_actor_call(&self) -> bool {
        false
    }
}

/// What a task knows of its actor.
pub(crate) trait ActorView: Send + Sync {
    fn id(&self) -> ActorId;
    fn name(&self) -> Option<&str>;
    fn was_restarted(&self) -> bool;
    /// `exit_actor()`: the actor stops after the running call, for good.
    fn exit(&self);
    /// What the actor holds for its lifetime, once granted.
    fn held(&self) -> Option<Demand>;
}
