//! The actor behind a [`Queue`](super::Queue) on a Ray cluster.
//!
//! Ray makes an actor in a worker by its registered name, and a generic
//! actor (`QueueActor<T>`) has none: on Ray the queue is this one actor
//! type, registered like a user's `#[rustyray::actor]`, holding each item
//! as its encoded bytes. The queue's handle stays an
//! `ActorRef<QueueActor<T>>` whose calls go to it (so it passes to tasks
//! and actors inside values like any Ray actor's handle); the queue
//! encodes items on the way in and decodes them on the way out.

use std::sync::Arc;
use std::time::Duration;

use super::queue::{Outcome, QueueActor};
use crate::error::Error;

/// A queue's actor on Ray: its items encoded.
#[doc(hidden)]
#[crate::actor(crate = "crate")]
pub struct RayQueue {
    items: QueueActor<Vec<u8>>,
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

    pub(crate) async fn put(&self, item: Vec<u8>, timeout: Option<Duration>) -> Outcome<()> {
        self.items.put(item, timeout).await
    }

    pub(crate) async fn get(&self, timeout: Option<Duration>) -> Outcome<Vec<u8>> {
        self.items.get(timeout).await
    }

    pub(crate) fn put_nowait_batch(&self, items: Vec<Vec<u8>>) -> bool {
        self.items.put_batch(items)
    }

    pub(crate) fn get_nowait_batch(&self, n: usize) -> Option<Vec<Vec<u8>>> {
        self.items.get_batch(n)
    }

    pub(crate) fn size(&self) -> usize {
        self.items.len()
    }
}
