//! What a runtime lends the layers below it, so that they never name it:
//! its context (installed on its worker threads, around every poll of its
//! async tasks, around every decode of a value) and its waiting policy.
//!
//! - The object store's [`Hooks`]: a blocking wait is refused where it
//!   would stall an executor, and lends the running task's CPUs (and its
//!   place among the worker threads) while it blocks; an async wait of a
//!   task lends its CPUs; values decode with the store's runtime current.
//! - The scheduler's [`Scope`]: tasks run with their runtime current.
//! - The worker pool's thread start: each worker has its runtime installed
//!   for its whole life.
//! - Once per process: how a ref or handle decoded from bytes finds the
//!   current runtime's store and actor table (the runtime's context slot).
//!
//! Each holds the runtime weakly: the runtime owns its parts, not the
//! other way round.

use std::any::Any;
use std::sync::Arc;

use super::context;
use super::handle::{Runtime, WeakRuntime};
use crate::actor::registry::{set_current_table, ActorTable};
use crate::error::Result;
use crate::exec::blocking::refuse_blocking;
use crate::exec::pool::{self, ThreadStart};
use crate::object::hooks::{set_current_store, Guard, Hooks, SendGuard};
use crate::object::store::Store;
use crate::task::help::Lent;
use crate::task::scheduler::Scope;

/// Installs the runtime's hooks into its parts (once, at its start).
pub(crate) fn install(runtime: &Runtime) {
    let local = runtime.engine().local();
    local
        .store()
        .set_hooks(Arc::new(StoreHooks(runtime.downgrade())));
    local
        .scheduler()
        .set_scope(Arc::new(RuntimeScope(runtime.downgrade())));
}

/// Installs how refs and handles decoded from bytes find the current
/// runtime (later calls change nothing).
pub(crate) fn install_process_hooks() {
    set_current_store(current_store);
    set_current_table(current_table);
}

fn current_store() -> Option<Arc<Store>> {
    context::with_current(|rt| rt.map(|rt| Arc::clone(rt.engine().local().store())))
}

fn current_table() -> Option<Arc<ActorTable>> {
    context::with_current(|rt| rt.map(|rt| Arc::clone(rt.engine().local().actors())))
}

/// What each worker thread of `runtime` runs first: installs the runtime
/// in its context for its whole life.
pub(crate) fn thread_start(runtime: WeakRuntime) -> ThreadStart {
    Arc::new(move || -> Box<dyn Any> { Box::new(runtime.upgrade().map(context::install)) })
}

struct StoreHooks(WeakRuntime);

impl Hooks for StoreHooks {
    fn refuse_blocking(&self, call: &'static str) -> Result<()> {
        refuse_blocking(call)
    }

    fn may_help_many(&self) -> bool {
        crate::task::context::is_running()
    }

    fn blocking(&self) -> Option<Guard> {
        // Nothing to undo on a thread that is neither in a task nor a
        // worker (a client's `get`): no guard, no allocation.
        match (Lent::begin(), pool::blocking()) {
            (None, None) => None,
            held => Some(Box::new(held)),
        }
    }

    fn lend(&self) -> Option<SendGuard> {
        Lent::begin().map(|lent| Box::new(lent) as SendGuard)
    }

    fn enter(&self) -> Option<Guard> {
        let runtime = self.0.upgrade()?;
        if context::is_current(&runtime) {
            return None;
        }
        Some(Box::new(context::install(runtime)))
    }

    fn timers(&self) -> Option<tokio::runtime::Handle> {
        let runtime = self.0.upgrade()?;
        runtime.executor().handle().ok().cloned()
    }
}

struct RuntimeScope(WeakRuntime);

impl Scope for RuntimeScope {
    fn run(&self, f: &mut dyn FnMut()) {
        match self.0.upgrade() {
            Some(runtime) if !context::is_current(&runtime) => {
                let _installed = context::install(runtime);
                f();
            }
            _ => f(),
        }
    }
}
