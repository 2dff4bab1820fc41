//! [`ActorTable`]: one runtime's actors, by id and by name.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::actor::mailbox::Mailbox;
use crate::actor::state::ActorState;
use crate::error::{Error, Result};
use crate::object::RuntimeId;
use crate::sync::lock;
use crate::task::id::ActorId;

struct Entry {
    /// The `Arc<ActorCore<A>>`, for typed lookups.
    core: Arc<dyn Any + Send + Sync>,
    mailbox: Arc<Mailbox>,
    type_name: &'static str,
}

#[derive(Default)]
struct Tables {
    by_id: HashMap<ActorId, Entry>,
    /// By (namespace, name).
    by_name: HashMap<(String, String), ActorId>,
    next: u64,
    closed: bool,
}

/// The runtime's live actors: how a name or a decoded handle finds one,
/// and how shutdown reaches them all. An actor leaves the table when it
/// dies.
pub(crate) struct ActorTable {
    runtime: RuntimeId,
    tables: Mutex<Tables>,
    /// The newest actors that died, for the state API.
    dead: Mutex<VecDeque<ActorState>>,
    /// Restarts of the runtime's actors so far.
    restarts: AtomicU64,
}

/// How many dead actors a runtime keeps for the state API.
const DEAD_KEPT: usize = 1000;

/// The outcome of registering a named actor.
pub(crate) enum Registered {
    New,
    /// `get_if_exists`: the live actor of that name.
    Existing(Arc<dyn Any + Send + Sync>),
}

/// The actor table of the runtime current on this thread: what a handle
/// decoded from bytes binds to. Installed by the runtime layer once per
/// process.
static CURRENT_TABLE: OnceLock<fn() -> Option<Arc<ActorTable>>> = OnceLock::new();

/// Installs how to find the current actor table (the runtime layer does, at
/// its first start; later calls change nothing).
pub(crate) fn set_current_table(find: fn() -> Option<Arc<ActorTable>>) {
    let _ = CURRENT_TABLE.set(find);
}

/// The actor table of the runtime current on this thread, if any.
pub(crate) fn current_table() -> Option<Arc<ActorTable>> {
    CURRENT_TABLE.get().and_then(|find| find())
}

impl ActorTable {
    /// The runtime the actors belong to.
    pub(crate) fn runtime(&self) -> RuntimeId {
        self.runtime
    }

    pub(crate) fn new(runtime: RuntimeId) -> ActorTable {
        ActorTable {
            runtime,
            tables: Mutex::new(Tables::default()),
            dead: Mutex::new(VecDeque::new()),
            restarts: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        lock(&self.tables)
    }

    pub(crate) fn next_id(&self) -> ActorId {
        let mut tables = self.lock();
        tables.next += 1;
        ActorId::new(self.runtime, tables.next)
    }

    /// Adds a new actor; with a name taken, the existing actor when
    /// `get_if_exists`, else an error.
    pub(crate) fn register(
        &self,
        core: Arc<dyn Any + Send + Sync>,
        mailbox: &Arc<Mailbox>,
        type_name: &'static str,
        get_if_exists: bool,
        shut_down: impl FnOnce() -> Error,
    ) -> Result<Registered> {
        let mut tables = self.lock();
        if tables.closed {
            return Err(shut_down());
        }
        if let Some(name) = &mailbox.name {
            let key = (mailbox.namespace.clone(), name.clone());
            if let Some(id) = tables.by_name.get(&key) {
                let existing = &tables.by_id[id];
                if get_if_exists && existing.type_name == type_name {
                    return Ok(Registered::Existing(Arc::clone(&existing.core)));
                }
                return Err(Error::ActorExists {
                    name: name.clone(),
                    existing: existing.type_name.to_string(),
                });
            }
            tables.by_name.insert(key, mailbox.id);
        }
        tables.by_id.insert(
            mailbox.id,
            Entry {
                core,
                mailbox: Arc::clone(mailbox),
                type_name,
            },
        );
        Ok(Registered::New)
    }

    /// The actor named `name` in `namespace`, as its `Arc<ActorCore<_>>`.
    pub(crate) fn by_name(
        &self,
        name: &str,
        namespace: &str,
    ) -> Result<(Arc<dyn Any + Send + Sync>, &'static str)> {
        let tables = self.lock();
        tables
            .by_name
            .get(&(namespace.to_string(), name.to_string()))
            .and_then(|id| tables.by_id.get(id))
            .map(|e| (Arc::clone(&e.core), e.type_name))
            .ok_or_else(|| Error::ActorNotFound {
                name: name.to_string(),
                reason: format!(
                    "no live actor has this name in the namespace `{namespace}` of this runtime"
                ),
            })
    }

    /// The live actor with this id, for a decoded handle.
    pub(crate) fn by_id(&self, id: ActorId) -> Option<(Arc<dyn Any + Send + Sync>, &'static str)> {
        let tables = self.lock();
        tables
            .by_id
            .get(&id)
            .map(|e| (Arc::clone(&e.core), e.type_name))
    }

    /// A dead actor leaves the table.
    pub(crate) fn forget(&self, id: ActorId, name: Option<&str>, namespace: &str) {
        let removed = {
            let mut tables = self.lock();
            if let Some(name) = name {
                let key = (namespace.to_string(), name.to_string());
                if tables.by_name.get(&key) == Some(&id) {
                    tables.by_name.remove(&key);
                }
            }
            tables.by_id.remove(&id)
        };
        if let Some(entry) = &removed {
            let state = ActorState::of(&entry.mailbox, entry.type_name);
            let mut dead = lock(&self.dead);
            if dead.len() >= DEAD_KEPT {
                dead.pop_front();
            }
            dead.push_back(state);
        }
        drop(removed);
    }

    /// One more restart of an actor.
    pub(crate) fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Restarts of the runtime's actors so far.
    pub(crate) fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The live actors, then the newest dead ones, by id.
    pub(crate) fn list(&self) -> Vec<ActorState> {
        let live: Vec<(Arc<Mailbox>, &'static str)> = self
            .lock()
            .by_id
            .values()
            .map(|e| (Arc::clone(&e.mailbox), e.type_name))
            .collect();
        let mut actors: Vec<ActorState> = live
            .iter()
            .map(|(mailbox, type_name)| ActorState::of(mailbox, type_name))
            .collect();
        actors.extend(lock(&self.dead).iter().cloned());
        actors.sort_by_key(|a| a.id.index());
        actors
    }

    /// Shutdown: every actor dies; no new one is accepted.
    pub(crate) fn shutdown(&self, cause: &str) {
        let mailboxes: Vec<Arc<Mailbox>> = {
            let mut tables = self.lock();
            tables.closed = true;
            tables
                .by_id
                .values()
                .map(|e| Arc::clone(&e.mailbox))
                .collect()
        };
        for mailbox in mailboxes {
            mailbox.die(cause.to_string());
        }
    }
}
