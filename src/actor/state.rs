//! A runtime's actors as [`list_actors`](crate::state::list_actors) shows
//! them: the live ones from the runtime's actor table, then the newest dead
//! ones it keeps.

use std::sync::Arc;

use crate::actor::mailbox::Mailbox;
use crate::task::id::ActorId;

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorStatus {
    /// Its constructor has not finished yet.
    Pending,
    /// It takes calls.
    Alive,
    /// Its instance crashed and its constructor runs again.
    Restarting,
    /// It died: killed, out of restarts, its constructor failed, every
    /// handle was dropped, or its runtime shut down.
    Dead,
}

/// One actor, as [`list_actors`](crate::state::list_actors) shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorState {
    /// The actor's id.
    pub id: ActorId,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// Its type's name, without the module path (`Counter`).
    pub class: String,
    /// Where it is in its life.
    pub status: ActorStatus,
    /// How many times its constructor ran again after a crash.
    pub restarts: u32,
}

/// `Counter` of `my_crate::Counter` (generic arguments kept).
pub(crate) fn class_name(type_name: &str) -> String {
    let head = type_name.split('<').next().unwrap_or(type_name);
    let start = head.rfind("::").map_or(0, |i| i + 2);
    type_name[start..].to_string()
}

impl ActorState {
    pub(crate) fn of(mailbox: &Arc<Mailbox>, type_name: &str) -> ActorState {
        let (status, restarts) = mailbox.observe();
        ActorState {
            id: mailbox.id,
            name: mailbox.name.clone(),
            class: class_name(type_name),
            status,
            restarts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::class_name;

    #[test]
    fn class_names_drop_the_module_path_but_keep_generic_arguments() {
        assert_eq!(class_name("app::actors::Counter"), "Counter");
        assert_eq!(class_name("Counter"), "Counter");
        assert_eq!(
            class_name("app::Cache<alloc::string::String>"),
            "Cache<alloc::string::String>"
        );
    }
}
