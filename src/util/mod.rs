//! Utilities built on tasks and actors: Ray's `ray.util`.
//!
//! - [`ActorPool`]: spreads calls over a fixed set of actors, one call per
//!   actor at a time, and hands results back in submission order or as
//!   they finish.
//! - [`Queue`]: a bounded FIFO queue that lives in an actor, so that any
//!   task, actor or thread holding (a copy of) its handle can put and get.
//!
//! Both use only the public API of actors and refs (the queue's actor is
//! made the way `#[rustyray::actor]` makes one), so they behave as a user's
//! own pool or queue actor would.

mod actor_pool;
mod queue;
#[cfg(feature = "ray")]
mod ray_queue;

pub use actor_pool::ActorPool;
pub use queue::{Queue, QueueActor};
