//! [`Queue`]: Ray's `ray.util.queue.Queue`, a bounded FIFO queue in an
//! actor.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::Notify;

use crate::actor::{Actor, ActorHandle, ActorRead, ActorRef};
use crate::api::actor_class::ActorClass;
use crate::api::actor_options::ActorOptions;
use crate::error::{Error, Result};
use crate::object::store::Store;
use crate::object::timer::Timer;
use crate::object::{Object, ObjectRef};
use crate::runtime::{global, Runtime};
use crate::sync::lock;
use crate::task::args::IntoArg;
use crate::task::returns::One;
#[cfg(feature = "ray")]
use crate::util::ray_queue::{RayItem, RayQueue, RayQueueHandle};

/// How many calls the queue's actor runs at once: every blocked `get` and
/// `put` is one (Ray's default for an async actor).
const QUEUE_CONCURRENCY: usize = 1000;

/// A FIFO queue of `T`s that lives in an actor: any task, actor or thread
/// holding a copy of the handle puts and gets, blocking (or waiting at
/// most a timeout) while the queue is full or empty. Ray's
/// `ray.util.queue.Queue`.
///
/// The handle is `Clone`, `Serialize` and `Deserialize`: pass it to tasks
/// and actors like an actor handle (it is one: [`kill`](crate::kill) or
/// [`shutdown`](Self::shutdown) stops the queue, and the queue stops by
/// itself when its last handle is dropped). Items are moved through the
/// actor's calls, not serialized.
///
/// Each call (`put`, `get`, `size`) is an actor call: the calls of one
/// caller take effect in the order made, and a blocked `get` never holds up
/// a `put` (the actor runs up to 1000 calls at once).
///
/// On a Ray cluster ([`Config::ray`](crate::Config::ray), feature `ray`)
/// the queue is a Ray actor, its handle passes to tasks and actors on any
/// node, and items travel as their encoded bytes; an item holding refs or
/// handles goes into Ray's object store first and travels as a ref to it,
/// so that what is inside crosses as Ray's own.
///
/// ```
/// use std::time::Duration;
///
/// use rustyray::util::Queue;
/// use rustyray::Error;
///
/// #[rustyray::remote]
/// fn consumer(queue: Queue<u32>) -> Vec<u32> {
///     let mut got = Vec::new();
///     // Until the queue stays empty for 100 ms.
///     while let Ok(item) = queue.get_timeout(Duration::from_millis(100)) {
///         got.push(item);
///     }
///     got
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let queue = Queue::new(100)?;
/// for i in 0..10 {
///     queue.put(i)?;
/// }
/// assert_eq!(consumer::remote(queue.clone())?.get()?, (0..10).collect::<Vec<_>>());
/// assert!(matches!(queue.get_timeout(Duration::ZERO), Err(Error::Timeout { .. })));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub struct Queue<T> {
    actor: ActorRef<QueueActor<T>>,
    maxsize: usize,
    /// The same actor as its Ray actor's own handle, when it is one (see
    /// `ray_queue`): the calls go there, items encoded.
    #[cfg(feature = "ray")]
    ray: Option<RayQueueHandle>,
}

/// The actor behind a [`Queue`]; reached only through it.
#[doc(hidden)]
pub struct QueueActor<T> {
    items: Mutex<VecDeque<T>>,
    /// 0: no bound.
    maxsize: usize,
    /// Wakes a `get` when an item arrives.
    not_empty: Notify,
    /// Wakes a `put` when an item leaves.
    not_full: Notify,
    /// For timers on the runtime's executor.
    store: Arc<Store>,
}

impl<T: Object> Actor for QueueActor<T> {
    type Handle = Queue<T>;
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            actor: self.actor.clone(),
            maxsize: self.maxsize,
            #[cfg(feature = "ray")]
            ray: self.ray.clone(),
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("actor", &self.actor)
            .field("maxsize", &self.maxsize)
            .finish()
    }
}

impl<T: Object> ActorHandle for Queue<T> {
    type Actor = QueueActor<T>;

    fn actor_ref(&self) -> &ActorRef<QueueActor<T>> {
        &self.actor
    }

    fn from_actor_ref(actor: ActorRef<QueueActor<T>>) -> Self {
        // Only a queue's own handles are made from its actor, and they
        // carry the bound: this one does not know it.
        Queue::of(actor, 0)
    }
}

impl<T: Object> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (&self.actor, self.maxsize).serialize(serializer)
    }
}

impl<'de, T: Object> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let (actor, maxsize) = <(ActorRef<QueueActor<T>>, usize)>::deserialize(deserializer)?;
        Ok(Queue::of(actor, maxsize))
    }
}

/// What a timed call of the queue's actor returns.
#[doc(hidden)]
#[derive(Serialize, Deserialize)]
pub enum Outcome<T> {
    Done(T),
    TimedOut,
}

impl<T: Object> Queue<T> {
    /// A queue of at most `maxsize` items (0: no bound), in a new actor of
    /// the current runtime.
    pub fn new(maxsize: usize) -> Result<Self> {
        Self::create(maxsize, &global()?)
    }

    /// [`new`](Self::new) in `runtime` instead of the current one.
    pub fn new_on(maxsize: usize, runtime: &Runtime) -> Result<Self> {
        Self::create(maxsize, runtime)
    }

    fn create(maxsize: usize, runtime: &Runtime) -> Result<Self> {
        runtime.check_running()?;
        #[cfg(feature = "ray")]
        if runtime.ray().is_some() || crate::backend::ray::worker::nested(runtime.id()).is_some() {
            // A Ray actor of the one queue type Ray workers make by name
            // (see `ray_queue`), reached through this queue's handle.
            let ray = RayQueue::options()
                .max_concurrency(QUEUE_CONCURRENCY)
                .on(runtime)
                .remote(maxsize)?;
            let actor = ray
                .actor_ref()
                .retyped()
                .ok_or_else(|| Error::InvalidArgument {
                    call: "Queue::new",
                    reason: "the queue's Ray actor was made in this process".into(),
                })?;
            return Ok(Queue::of(actor, maxsize));
        }
        let store = Arc::clone(runtime.engine().local().store());
        let options = ActorOptions::default()
            .max_concurrency(QUEUE_CONCURRENCY)
            .on(runtime);
        let class = ActorClass::__new().any_async(true);
        let actor = ActorRef::__create(options, &class, "Queue.new", (), move |()| {
            Ok(QueueActor::new(maxsize, Arc::clone(&store)))
        })?;
        Ok(Queue::of(actor, maxsize))
    }

    /// The queue of `actor`, bounded at `maxsize`.
    fn of(actor: ActorRef<QueueActor<T>>, maxsize: usize) -> Self {
        Queue {
            #[cfg(feature = "ray")]
            ray: actor.retyped().map(RayQueueHandle::from_actor_ref),
            actor,
            maxsize,
        }
    }

    /// The queue's actor on Ray, when it is one.
    #[cfg(feature = "ray")]
    fn on_ray(&self) -> Option<&RayQueueHandle> {
        self.ray.as_ref()
    }

    /// The bound given at creation (0: none).
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// Adds `item` at the back, waiting while the queue is full.
    pub fn put(&self, item: T) -> Result<()> {
        self.put_with(item, None)
    }

    /// Adds `item` at the back, waiting at most `timeout` while the queue
    /// is full: [`Error::Timeout`] then, and the item is dropped.
    /// `Duration::ZERO` is Ray's `put_nowait`.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<()> {
        self.put_with(item, Some(timeout))
    }

    fn put_with(&self, item: T, timeout: Option<Duration>) -> Result<()> {
        Self::put_outcome(self.put_call(item, timeout)?.get()?, timeout)
    }

    /// Adds `item` at the back from async code, waiting (without blocking
    /// a thread) while the queue is full, at most `timeout` if one is
    /// given ([`Error::Timeout`] then, and the item is dropped). Ray's
    /// `put_async`.
    ///
    /// The put is an actor call made at once: dropping the future before it
    /// completes does not withdraw it (the item may still be added).
    pub fn put_async(
        &self,
        item: T,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let call = self.put_call(item, timeout);
        async move { Self::put_outcome(call?.await?, timeout) }
    }

    fn put_call(&self, item: T, timeout: Option<Duration>) -> Result<ObjectRef<Outcome<()>>> {
        #[cfg(feature = "ray")]
        if let Some(ray) = self.on_ray() {
            return ray.put(encoded("Queue::put", item)?, timeout);
        }
        self.actor
            .__call_async::<_, One<Outcome<()>>, ActorRead<QueueActor<T>>, _, _>(
                "Queue.put",
                (
                    IntoArg::<T>::into_arg(item),
                    IntoArg::<Option<Duration>>::into_arg(timeout),
                ),
                |queue: ActorRead<QueueActor<T>>, (item, timeout)| async move {
                    Ok(One(queue.put(item, timeout).await))
                },
            )
    }

    fn put_outcome(outcome: Outcome<()>, timeout: Option<Duration>) -> Result<()> {
        match outcome {
            Outcome::Done(()) => Ok(()),
            Outcome::TimedOut => Err(timed_out("Queue::put: room in the full queue", timeout)),
        }
    }

    /// Adds every item of `items` at the back, in order, at once, or none
    /// of them: [`Error::Timeout`] (with a zero timeout) when the queue has
    /// no room for them all now. Ray's `put_nowait_batch`.
    pub fn put_nowait_batch(&self, items: Vec<T>) -> Result<()> {
        let count = items.len();
        if self.put_batch_call(items)?.get()? {
            return Ok(());
        }
        Err(timed_out(
            &format!("Queue::put_nowait_batch: room for {count} items in the queue"),
            Some(Duration::ZERO),
        ))
    }

    fn put_batch_call(&self, items: Vec<T>) -> Result<ObjectRef<bool>> {
        #[cfg(feature = "ray")]
        if let Some(ray) = self.on_ray() {
            let call = "Queue::put_nowait_batch";
            let items = items.into_iter().map(|item| encoded(call, item));
            return ray.put_nowait_batch(items.collect::<Result<Vec<_>>>()?);
        }
        self.actor.__call_ref::<_, One<bool>, _>(
            "Queue.put_nowait_batch",
            (IntoArg::<Vec<T>>::into_arg(items),),
            |queue: &QueueActor<T>, (items,)| Ok(One(queue.put_batch(items))),
        )
    }

    /// Removes the item at the front, waiting while the queue is empty.
    pub fn get(&self) -> Result<T> {
        self.get_with(None)
    }

    /// Removes the item at the front, waiting at most `timeout` while the
    /// queue is empty: [`Error::Timeout`] then. `Duration::ZERO` is Ray's
    /// `get_nowait`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_with(Some(timeout))
    }

    fn get_with(&self, timeout: Option<Duration>) -> Result<T> {
        Self::get_outcome(self.get_call(timeout)?.get()?, timeout)
    }

    /// Removes the item at the front from async code, waiting (without
    /// blocking a thread) while the queue is empty, at most `timeout` if
    /// one is given ([`Error::Timeout`] then). Ray's `get_async`.
    ///
    /// The get is an actor call made at once: dropping the future before it
    /// completes does not withdraw it, and the item it then takes is lost.
    /// Give a timeout rather than dropping the future.
    pub fn get_async(
        &self,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<T>> + Send + 'static {
        let call = self.get_call(timeout);
        async move { Self::get_outcome(call?.wait().await?, timeout) }
    }

    fn get_call(&self, timeout: Option<Duration>) -> Result<Got<T>> {
        #[cfg(feature = "ray")]
        if let Some(ray) = self.on_ray() {
            return ray.get(timeout).map(Got::Encoded);
        }
        self.actor
            .__call_async::<_, One<Outcome<T>>, ActorRead<QueueActor<T>>, _, _>(
                "Queue.get",
                (IntoArg::<Option<Duration>>::into_arg(timeout),),
                |queue: ActorRead<QueueActor<T>>, (timeout,)| async move {
                    Ok(One(queue.get(timeout).await))
                },
            )
            .map(Got::Item)
    }

    fn get_outcome(outcome: Outcome<T>, timeout: Option<Duration>) -> Result<T> {
        match outcome {
            Outcome::Done(item) => Ok(item),
            Outcome::TimedOut => Err(timed_out("Queue::get: an item in the empty queue", timeout)),
        }
    }

    /// Removes the `n` items at the front at once, or none: [`Error::Timeout`]
    /// (with a zero timeout) when the queue holds fewer now. Ray's
    /// `get_nowait_batch`.
    pub fn get_nowait_batch(&self, n: usize) -> Result<Vec<T>> {
        #[cfg(feature = "ray")]
        if let Some(ray) = self.on_ray() {
            let items = ray.get_nowait_batch(n)?.get()?;
            let items = items.map(|items| items.into_iter().map(decoded).collect());
            return items.transpose()?.ok_or_else(|| short_of(n));
        }
        let r = self.actor.__call_ref::<_, One<Option<Vec<T>>>, _>(
            "Queue.get_nowait_batch",
            (IntoArg::<usize>::into_arg(n),),
            |queue: &QueueActor<T>, (n,)| Ok(One(queue.get_batch(n))),
        )?;
        r.get()?.ok_or_else(|| short_of(n))
    }

    /// How many items the queue holds now.
    pub fn size(&self) -> Result<usize> {
        #[cfg(feature = "ray")]
        if let Some(ray) = self.on_ray() {
            return ray.size()?.get();
        }
        let r = self.actor.__call_ref::<_, One<usize>, _>(
            "Queue.size",
            (),
            |queue: &QueueActor<T>, ()| Ok(One(queue.len())),
        )?;
        r.get()
    }

    /// Whether the queue holds no item now.
    pub fn empty(&self) -> Result<bool> {
        Ok(self.size()? == 0)
    }

    /// Whether the queue holds `maxsize` items now (never, without a
    /// bound).
    pub fn full(&self) -> Result<bool> {
        Ok(self.maxsize > 0 && self.size()? >= self.maxsize)
    }

    /// Stops the queue's actor: its items are dropped, waiting and later
    /// calls fail with [`Error::ActorDied`]. Ray's `Queue.shutdown`.
    pub fn shutdown(&self) {
        self.actor.kill();
    }
}

/// A get's pending outcome: the item, or its bytes from the queue's actor
/// on Ray.
enum Got<T> {
    Item(ObjectRef<Outcome<T>>),
    #[cfg(feature = "ray")]
    Encoded(ObjectRef<Outcome<RayItem>>),
}

impl<T: Object> Got<T> {
    fn get(self) -> Result<Outcome<T>> {
        match self {
            Got::Item(r) => r.get(),
            #[cfg(feature = "ray")]
            Got::Encoded(r) => decoded_outcome(r.get()?),
        }
    }

    async fn wait(self) -> Result<Outcome<T>> {
        match self {
            Got::Item(r) => r.await,
            #[cfg(feature = "ray")]
            Got::Encoded(r) => match r.await? {
                Outcome::Done(RayItem::Object(item)) => {
                    Ok(Outcome::Done(item.untyped().typed::<T>().await?))
                }
                outcome => decoded_outcome(outcome),
            },
        }
    }
}

/// An item as the queue's actor on Ray holds it: its bytes, or (holding
/// refs or handles) a ref to it in Ray's object store.
#[cfg(feature = "ray")]
fn encoded<T: Object>(call: &'static str, item: T) -> Result<RayItem> {
    let crossed = crate::object::crossing::encode(call, &item)?;
    if crossed.inside.is_empty() {
        return Ok(RayItem::Bytes(crossed.bytes));
    }
    Ok(RayItem::Object(global()?.put(item)?.untyped().typed()))
}

/// An item from the queue's actor on Ray (waiting for it, if it is a ref).
#[cfg(feature = "ray")]
fn decoded<T: Object>(item: RayItem) -> Result<T> {
    match item {
        RayItem::Bytes(bytes) => crate::Codec::Postcard.decode(&bytes),
        RayItem::Object(item) => item.untyped().typed::<T>().get(),
    }
}

#[cfg(feature = "ray")]
fn decoded_outcome<T: Object>(outcome: Outcome<RayItem>) -> Result<Outcome<T>> {
    Ok(match outcome {
        Outcome::Done(item) => Outcome::Done(decoded(item)?),
        Outcome::TimedOut => Outcome::TimedOut,
    })
}

fn short_of(n: usize) -> Error {
    timed_out(
        &format!("Queue::get_nowait_batch: {n} items in the queue"),
        Some(Duration::ZERO),
    )
}

fn timed_out(what: &str, timeout: Option<Duration>) -> Error {
    Error::Timeout {
        what: what.to_string(),
        timeout: timeout.unwrap_or_default(),
    }
}

impl<T: Send> QueueActor<T> {
    /// A queue of at most `maxsize` items (0: no bound), its timers on
    /// `store`'s runtime.
    pub(crate) fn new(maxsize: usize, store: Arc<Store>) -> Self {
        QueueActor {
            items: Mutex::new(VecDeque::new()),
            maxsize,
            not_empty: Notify::new(),
            not_full: Notify::new(),
            store,
        }
    }

    /// How many items it holds now.
    pub(crate) fn len(&self) -> usize {
        lock(&self.items).len()
    }

    pub(crate) async fn put(&self, item: T, timeout: Option<Duration>) -> Outcome<()> {
        let mut timer = timeout.map(|t| Timer::after(&self.store, t));
        loop {
            let notified = self.not_full.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            {
                let mut items = lock(&self.items);
                if self.maxsize == 0 || items.len() < self.maxsize {
                    items.push_back(item);
                    drop(items);
                    self.not_empty.notify_one();
                    return Outcome::Done(());
                }
            }
            if timeout == Some(Duration::ZERO) || !Self::wait(notified, &mut timer).await {
                // Timed out: a wake-up meant for this put goes to the next.
                self.pass_on(&self.not_full, |n| self.maxsize == 0 || n < self.maxsize);
                return Outcome::TimedOut;
            }
        }
    }

    pub(crate) async fn get(&self, timeout: Option<Duration>) -> Outcome<T> {
        let mut timer = timeout.map(|t| Timer::after(&self.store, t));
        loop {
            let notified = self.not_empty.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            if let Some(item) = lock(&self.items).pop_front() {
                self.not_full.notify_one();
                return Outcome::Done(item);
            }
            if timeout == Some(Duration::ZERO) || !Self::wait(notified, &mut timer).await {
                self.pass_on(&self.not_empty, |n| n > 0);
                return Outcome::TimedOut;
            }
        }
    }

    /// Adds all of `items`, or none when there is no room for them all.
    pub(crate) fn put_batch(&self, items: Vec<T>) -> bool {
        let added = items.len();
        {
            let mut queue = lock(&self.items);
            if self.maxsize > 0 && queue.len() + added > self.maxsize {
                return false;
            }
            queue.extend(items);
        }
        for _ in 0..added {
            self.not_empty.notify_one();
        }
        true
    }

    /// Takes the `n` items at the front, or none when there are fewer.
    pub(crate) fn get_batch(&self, n: usize) -> Option<Vec<T>> {
        let taken: Vec<T> = {
            let mut queue = lock(&self.items);
            if queue.len() < n {
                return None;
            }
            queue.drain(..n).collect()
        };
        for _ in 0..taken.len() {
            self.not_full.notify_one();
        }
        Some(taken)
    }

    /// Waits for an enabled `notified`, or the timer.
    async fn wait(
        mut notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
        timer: &mut Option<Timer>,
    ) -> bool {
        poll_fn(|cx| {
            if notified.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            match timer.as_mut().map(|t| t.poll_expired(cx)) {
                Some(true) => Poll::Ready(false),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// A call that gives up may have taken a wake-up another waiter needs:
    /// passes one on while the condition (on the item count) holds.
    fn pass_on(&self, notify: &Notify, holds: impl Fn(usize) -> bool) {
        if holds(lock(&self.items).len()) {
            notify.notify_one();
        }
    }
}
