//! The actor behind a [`Queue`](super::Queue) on a Ray cluster.
//!
//! Ray makes an actor in a worker by its registered name, and a generic
//! actor (`QueueActor<T>`) has none: on Ray the queue is this one actor
//! type, registered like a user's `#[rustyray::actor]`, holding each item
//! as a [`RayItem`]. The queue's handle stays an
//! `ActorRef<QueueActor<T>>` whose calls go to it (so it passes to tasks
//! and actors inside values like any Ray actor's handle); the queue
//! encodes items on the way in and decodes them on the way out.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::queue::{Outcome, QueueActor};
use crate::error::Error;
use crate::object::ObjectRef;

/// An item as a queue's actor on Ray holds it.
#[doc(hidden)]
#[derive(Serialize, Deserialize)]
pub enum RayItem {
    /// Its encoded bytes: nothing inside it must stay a ref.
    Bytes(Vec<u8>),
    /// An item holding refs or handles: put in Ray's object store first,
    /// so that they cross as Ray's own (Ray's borrowers keep their objects
    /// alive while the item waits), and queued as the ref to it.
    Object(ObjectRef<Queued>),
}

/// What the ref of a [`RayItem::Object`] is typed as in the queue's actor,
/// which does not know the item's type (the queue's handle does).
#[doc(hidden)]
pub struct Queued;

/// A queue's actor on Ray.
#[doc(hidden)]
#[crate::actor(crate = "crate")]
pub struct RayQueue {
    items: QueueActor<RayItem>,
}

#[crate::actor(crate = "crate")]
impl RayQueue {
    pub(crate) fn new(maxsize: usize) -> Result<Self, Error> {
        let runtime = crate::global()?;
        let store = Arc::clone(runtime.engine().local().store());
        Ok(RayQueue {
            items: QueueActor::new(maxsize, store),
        })
    }

    pub(crate) async fn put(&self, item: RayItem, timeout: Option<Duration>) -> Outcome<()> {
        self.items.put(item, timeout).await
    }

    pub(crate) async fn get(&self, timeout: Option<Duration>) -> Outcome<RayItem> {
        self.items.get(timeout).await
    }

    pub(crate) fn put_nowait_batch(&self, items: Vec<RayItem>) -> bool {
        self.items.put_batch(items)
    }

    pub(crate) fn get_nowait_batch(&self, n: usize) -> Option<Vec<RayItem>> {
        self.items.get_batch(n)
    }

    pub(crate) fn size(&self) -> usize {
        self.items.len()
    }
}
