//! Streaming generators (Ray's `num_returns="streaming"`): a task that
//! yields many objects, each stored as soon as it is yielded, and the
//! [`ObjectRefStream`] its caller reads them from.
//!
//! # How items flow
//!
//! A generator task's body runs the user's iterator (or stream) and, for
//! each item, stores it and pushes its ref into a [`Channel`] shared with
//! the caller's [`ObjectRefStream`]. The task itself makes one object, the
//! stream's *task ref* (`ObjectRef<()>`), complete when the generator
//! ends: `Ok` after its last item, or the error that ended it (an `Err`
//! item or a panic: `TaskFailed`; `cancel`: `Cancelled`; a dead actor:
//! `ActorDied`). The stream yields the refs in order, then that error if
//! there is one, then ends. The items pushed before the end are always
//! yielded first: the body pushes them before the task ref completes.
//!
//! # Backpressure, cancel, drop
//!
//! With `generator_backpressure(n)` the producer waits while `n` items are
//! pushed and not yet taken by the consumer. It stops (its task ends) when
//! the task is cancelled, the runtime shuts down, or the consumer drops
//! the stream: each of these wakes it where it waits, and it checks them
//! between items.
//!
//! # Retries
//!
//! A retried generator runs again from its first item; the items an
//! earlier attempt pushed are skipped (by their index), so the consumer
//! never sees an item twice, provided the generator yields the same items
//! in the same order.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::object::store::Store;
use crate::object::value::Value;
use crate::object::{wait, Object, ObjectRef};
use crate::sync::lock;
use crate::task::context;
use crate::task::returns::{One, UserError};

/// How long a blocked producer or consumer sleeps before it looks again on
/// its own (it is woken by every event that concerns it; this only bounds
/// the wait).
const RECHECK: Duration = Duration::from_millis(100);

/// What the producer and the consumer share.
pub(crate) struct Channel<T> {
    store: Arc<Store>,
    /// Items pushed and not taken before the producer waits.
    backpressure: Option<u64>,
    state: Mutex<State<T>>,
    /// Wakes a consumer blocked in `next`.
    consumer: Condvar,
    /// Wakes a sync producer waiting for room.
    producer: Condvar,
    /// Wakes an async producer waiting for room.
    producer_async: tokio::sync::Notify,
}

struct State<T> {
    items: VecDeque<ObjectRef<T>>,
    /// Items pushed so far, over every attempt.
    pushed: u64,
    /// Items the consumer took.
    taken: u64,
    /// The task ref is complete: nothing more comes.
    ended: bool,
    /// The consumer dropped the stream.
    closed: bool,
    /// The async consumer waiting for an item.
    waker: Option<Waker>,
}

/// Why a producer stops early.
enum Stop {
    /// Cancelled, shut down, or nobody reads: end quietly.
    Quiet,
}

impl<T: Object> Channel<T> {
    /// A channel storing items in `store`, with at most `backpressure`
    /// items pushed ahead of the consumer (`None`: no limit).
    pub(crate) fn new(store: Arc<Store>, backpressure: Option<usize>) -> Arc<Channel<T>> {
        Arc::new(Channel {
            store,
            backpressure: backpressure.map(|n| n.max(1) as u64),
            state: Mutex::new(State {
                items: VecDeque::new(),
                pushed: 0,
                taken: 0,
                ended: false,
                closed: false,
                waker: None,
            }),
            consumer: Condvar::new(),
            producer: Condvar::new(),
            producer_async: tokio::sync::Notify::new(),
        })
    }

    fn wake_all(&self, state: &mut State<T>) {
        self.consumer.notify_all();
        self.producer.notify_all();
        self.producer_async.notify_waiters();
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }

    /// The generator's task ref completed: nothing more comes.
    fn end(&self) {
        let mut state = lock(&self.state);
        state.ended = true;
        self.wake_all(&mut state);
    }

    fn stopped(state: &State<T>) -> bool {
        state.ended
            || state.closed
            || context::with_running(|r| r.is_some_and(|r| r.task.is_cancelled()))
    }

    fn has_room(&self, state: &State<T>) -> bool {
        self.backpressure
            .is_none_or(|n| state.pushed - state.taken < n)
    }

    /// Stores `value` as item `index` and hands its ref to the consumer;
    /// an item an earlier attempt pushed is skipped.
    fn push(
        &self,
        state: &mut State<T>,
        index: u64,
        value: T,
    ) -> std::result::Result<(), UserError> {
        if index < state.pushed {
            return Ok(()); // replayed by a retry: the consumer has it
        }
        let cell = self.store.put(Value::new(value)).map_err(|err| UserError {
            message: format!("its item {index} could not be stored: {err}"),
            cause: None,
        })?;
        state.items.push_back(ObjectRef::from_cell(cell));
        state.pushed += 1;
        self.consumer.notify_one();
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        Ok(())
    }

    /// Waits (blocking) for room for item `index`.
    fn room_blocking(
        &self,
        index: u64,
    ) -> std::result::Result<std::sync::MutexGuard<'_, State<T>>, Stop> {
        let mut state = lock(&self.state);
        if index < state.pushed {
            return Ok(state);
        }
        let mut blocked = None;
        loop {
            if Self::stopped(&state) {
                return Err(Stop::Quiet);
            }
            if self.has_room(&state) {
                return Ok(state);
            }
            // Its CPUs are lent while it waits for the consumer.
            if blocked.is_none() {
                blocked = Some(self.store.blocking());
            }
            state = self
                .producer
                .wait_timeout(state, RECHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits (async) for room for item `index`.
    async fn room(&self, index: u64) -> std::result::Result<(), Stop> {
        loop {
            let notified = self.producer_async.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = lock(&self.state);
                if index < state.pushed {
                    return Ok(());
                }
                if Self::stopped(&state) {
                    return Err(Stop::Quiet);
                }
                if self.has_room(&state) {
                    return Ok(());
                }
            }
            let _ = tokio::time::timeout(RECHECK, notified).await;
        }
    }

    /// The body of a sync generator: runs `items`, converting each with
    /// `convert` (an `Err` ends the generator with it), and pushes them.
    pub(crate) fn drive<X, C>(
        &self,
        items: impl IntoIterator<Item = X>,
        convert: &C,
    ) -> std::result::Result<One<()>, UserError>
    where
        C: Fn(X) -> std::result::Result<T, UserError>,
    {
        self.feed(items.into_iter().map(convert), |err| err)
            .map(|()| One(()))
    }

    /// Pushes the values `items` yields, in order, each once there is room,
    /// until one is an error (returned; `stored` makes the error of an item
    /// that cannot be stored) or the stream stops (cancelled, ended, or
    /// nobody reads).
    fn feed<E>(
        &self,
        items: impl IntoIterator<Item = std::result::Result<T, E>>,
        stored: impl Fn(UserError) -> E,
    ) -> std::result::Result<(), E> {
        for (index, item) in (0u64..).zip(items) {
            let value = item?;
            match self.room_blocking(index) {
                Ok(mut state) => self.push(&mut state, index, value).map_err(&stored)?,
                Err(Stop::Quiet) => break,
            }
        }
        Ok(())
    }

    /// Feeds the channel, on a thread of its own, from a generator that runs
    /// in another engine (`source`: its items encoded), decoding each
    /// item; completes `task` (the stream's task ref) when the generator
    /// ends, with the error that ended it if one did. When the stream stops
    /// first, the source is told to stop its producer.
    #[cfg(feature = "ray")]
    pub(crate) fn feed_from(
        self: &Arc<Self>,
        task: Arc<crate::object::cell::ObjectCell>,
        mut source: Box<dyn ItemSource>,
    ) -> Result<()> {
        let channel = Arc::clone(self);
        let feed = move || {
            let name = source.name().to_string();
            let mut ended = false;
            let items = std::iter::from_fn(|| {
                let item = source.next_item();
                ended = item.is_none();
                item
            })
            .map(|item| item.and_then(|bytes| crate::object::Codec::Postcard.decode::<T>(&bytes)));
            let outcome = channel.feed(items, |err| Error::TaskFailed {
                task: name.clone(),
                message: err.message,
                cause: err.cause,
            });
            let failed = outcome.is_err();
            task.complete(outcome.map(|()| Value::new(())));
            if !ended && !failed {
                source.stop();
            }
        };
        std::thread::Builder::new()
            .name("rustyray-stream-feed".into())
            .spawn(feed)
            .map(drop)
            .map_err(|err| Error::Io {
                what: "starting a stream's feeding thread".into(),
                reason: err.to_string(),
            })
    }

    /// The body of an async generator: the same over a stream.
    pub(crate) async fn drive_async<X, S, C>(
        &self,
        items: S,
        convert: &C,
    ) -> std::result::Result<One<()>, UserError>
    where
        S: futures_core::Stream<Item = X>,
        C: Fn(X) -> std::result::Result<T, UserError>,
    {
        let mut items = std::pin::pin!(items);
        let mut index = 0u64;
        while let Some(item) = std::future::poll_fn(|cx| items.as_mut().poll_next(cx)).await {
            let value = convert(item)?;
            if let Err(Stop::Quiet) = self.room(index).await {
                break;
            }
            self.push(&mut lock(&self.state), index, value)?;
            index += 1;
        }
        Ok(One(()))
    }
}

/// A streaming generator started in another engine: its task cell and its
/// items.
#[cfg(feature = "ray")]
pub(crate) type RemoteStream = (Arc<crate::object::cell::ObjectCell>, Box<dyn ItemSource>);

/// A streaming generator running in another engine (a Ray worker), as
/// [`Channel::feed_from`] reads it.
#[cfg(feature = "ray")]
pub(crate) trait ItemSource: Send {
    /// The generator's task name, for its errors.
    fn name(&self) -> &str;
    /// Waits for the next item: its encoding, `None` after the last, or
    /// the error that ended the generator.
    fn next_item(&mut self) -> Option<Result<Vec<u8>>>;
    /// Nobody reads any more: stop the producer.
    fn stop(&mut self);
}

/// Ends the channel when the generator's task ref completes.
struct EndOnComplete<T>(Weak<Channel<T>>);

impl<T: Object> Wake for EndOnComplete<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(channel) = self.0.upgrade() {
            channel.end();
        }
    }
}

/// The refs a streaming generator yields, in order, each as soon as it is
/// yielded: Ray's `ObjectRefGenerator`.
///
/// It is an [`Iterator`] (a blocking `next`) and a
/// [`Stream`](futures_core::Stream) (an async one) of
/// `Result<ObjectRef<T>>`. After the last item comes the error that ended
/// the generator, if one did ([`Error::TaskFailed`] for an `Err` item or a
/// panic, [`Error::Cancelled`] after [`cancel`](crate::cancel) of
/// [`task_ref`](Self::task_ref)), then the end.
///
/// Dropping the stream stops its generator at its next item.
///
/// Both traits have a `next`: a `for` loop uses the iterator's (blocking);
/// in async code write `StreamExt::next(&mut stream).await` (with
/// `futures::StreamExt`), since `stream.next()` is ambiguous there.
///
/// ```
/// #[rustyray::remote(streaming)]
/// fn squares(n: u32) -> impl Iterator<Item = u32> + Send + 'static {
///     (0..n).map(|i| i * i)
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default().num_cpus(2))?;
/// let mut values = Vec::new();
/// for r in squares::remote(4)? {
///     values.push(r?.get()?);
/// }
/// assert_eq!(values, vec![0, 1, 4, 9]);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub struct ObjectRefStream<T> {
    channel: Arc<Channel<T>>,
    task: ObjectRef<()>,
    /// The end (and the error, if any) was yielded.
    done: bool,
}

impl<T: Object> ObjectRefStream<T> {
    /// The stream of `channel`, whose generator's task ref is `task`.
    pub(crate) fn new(channel: Arc<Channel<T>>, task: ObjectRef<()>) -> Self {
        let waker = Waker::from(Arc::new(EndOnComplete(Arc::downgrade(&channel))));
        if !task.cell.on_complete(&waker) {
            channel.end();
        }
        ObjectRefStream {
            channel,
            task,
            done: false,
        }
    }

    /// The generator task's own ref: complete (`Ok(())`) when it has yielded
    /// its last item, or failed with what ended it. Cancel it with
    /// [`cancel`](crate::cancel) to stop the generator.
    pub fn task_ref(&self) -> &ObjectRef<()> {
        &self.task
    }

    /// The next item if there is one now, the end, or `cx`'s waker kept.
    fn poll_item(&mut self, waker: Option<&Waker>) -> Poll<Option<Result<ObjectRef<T>>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let mut state = lock(&self.channel.state);
        if let Some(item) = state.items.pop_front() {
            state.taken += 1;
            drop(state);
            self.channel.producer.notify_all();
            self.channel.producer_async.notify_waiters();
            return Poll::Ready(Some(Ok(item)));
        }
        if state.ended {
            drop(state);
            self.done = true;
            return Poll::Ready(match self.task.cell.try_get() {
                Some(Err(err)) => Some(Err(err)),
                _ => None,
            });
        }
        if let Some(waker) = waker {
            state.waker = Some(waker.clone());
        }
        Poll::Pending
    }
}

impl<T: Object> Iterator for ObjectRefStream<T> {
    type Item = Result<ObjectRef<T>>;

    /// Blocks until the next item is yielded or the generator ends. Refused
    /// with [`Error::BlockingInAsync`] on a thread that runs async tasks
    /// (use the stream's async `next` there).
    fn next(&mut self) -> Option<Self::Item> {
        if let Poll::Ready(item) = self.poll_item(None) {
            return item;
        }
        let store = Arc::clone(&self.channel.store);
        if let Err(err) = store.refuse_blocking("ObjectRefStream::next") {
            return Some(Err(err));
        }
        // Its CPUs are lent while it waits for the producer.
        let _blocked = store.blocking();
        loop {
            if let Poll::Ready(item) = self.poll_item(None) {
                return item;
            }
            // A generator living elsewhere (a Ray actor's, called in a Ray
            // worker) is waited for there too, which lends the worker's
            // CPU as Ray's own iteration does; a while at a time, since
            // the item reaches the channel by another way.
            wait::block_elsewhere(&[&self.task.cell], 1, Some(Instant::now() + RECHECK));
            let state = lock(&self.channel.state);
            if state.items.is_empty() && !state.ended {
                drop(
                    self.channel
                        .consumer
                        .wait_timeout(state, RECHECK)
                        .unwrap_or_else(|e| e.into_inner()),
                );
            }
        }
    }
}

impl<T: Object> futures_core::Stream for ObjectRefStream<T> {
    type Item = Result<ObjectRef<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(Some(cx.waker()))
    }
}

impl<T> Drop for ObjectRefStream<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.channel.state);
        state.closed = true;
        state.waker = None;
        drop(state);
        self.channel.producer.notify_all();
        self.channel.producer_async.notify_waiters();
    }
}

impl<T> std::fmt::Debug for ObjectRefStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRefStream")
            .field("task", &self.task.id())
            .field("done", &self.done)
            .finish()
    }
}

/// The error of a generator called by name as if it returned once.
pub(crate) fn by_name_error(function: &str) -> Error {
    Error::InvalidArgument {
        call: "remote",
        reason: format!(
            "`{function}` is a streaming generator: call it by name with `remote_streaming` \
             (`AnyActor::call_streaming` for a method)"
        ),
    }
}
