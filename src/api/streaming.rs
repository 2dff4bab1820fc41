//! Submitting streaming generators: what `#[remote(streaming)]` and
//! `#[method(streaming)]` expand to call. The generator is an ordinary task
//! (or actor call) making one object, its task ref, whose body pushes each
//! item to the caller's [`ObjectRefStream`] (see `task::stream`).

use std::future::Future;
use std::sync::Arc;

use crate::actor::core::Access;
use crate::actor::handle::{Actor, ActorRef};
use crate::actor::method::MethodInfo;
use crate::api::registry::{decode, runtime_of, Call, MethodCall};
use crate::api::submit::{submit_async, submit_sync, target_runtime};
use crate::api::task_options::TaskOptions;
use crate::error::Result;
use crate::object::{Object, ObjectRef};
use crate::task::args::{ArgList, ValueList};
use crate::task::returns::{One, UserError};
use crate::task::stream::{Channel, ObjectRefStream};

impl<Ar> Call<'_, Ar>
where
    Ar: ArgList,
    Ar::Values: ValueList<Args = Ar>,
{
    /// Submits a sync generator: `body` makes the iterator, `convert`
    /// turns each item into a value or an error that ends the stream.
    pub fn submit_streaming<T, X, I, F, C>(self, body: F, convert: C) -> Result<ObjectRefStream<T>>
    where
        T: Object,
        I: IntoIterator<Item = X>,
        F: Fn(Ar::Values) -> I + Send + Sync + 'static,
        C: Fn(X) -> std::result::Result<T, UserError> + Send + Sync + 'static,
    {
        self.submit_with_channel(|options, args, sink| {
            submit_sync::<Ar, One<()>, _>(options, args, move |values| {
                sink.drive(body(values), &convert)
            })
        })
    }

    /// Submits an async generator: `body`'s future makes the stream.
    pub fn submit_streaming_async<T, X, S, Fut, F, C>(
        self,
        body: F,
        convert: C,
    ) -> Result<ObjectRefStream<T>>
    where
        T: Object,
        X: Send + 'static,
        S: futures_core::Stream<Item = X> + Send + 'static,
        Fut: Future<Output = S> + Send + 'static,
        F: Fn(Ar::Values) -> Fut + Send + Sync + 'static,
        C: Fn(X) -> std::result::Result<T, UserError> + Send + Sync + 'static,
    {
        self.submit_with_channel(|options, args, sink| {
            let convert = Arc::new(convert);
            submit_async::<Ar, One<()>, _, _>(options, args, move |values| {
                let (sink, convert) = (Arc::clone(&sink), Arc::clone(&convert));
                let stream = body(values);
                async move { sink.drive_async(stream.await, &*convert).await }
            })
        })
    }

    /// A generator's stream: `submit` submits the task whose body pushes
    /// to the channel it is given, in the store of the runtime the options
    /// submit to. A call by name decodes its arguments first (its items
    /// are encoded by the conversion the entry gives).
    fn submit_with_channel<T: Object>(
        self,
        submit: impl FnOnce(TaskOptions, Ar, Arc<Channel<T>>) -> Result<ObjectRef<()>>,
    ) -> Result<ObjectRefStream<T>> {
        let (options, args) = match self {
            Call::Typed(options, args) => (options, args),
            Call::ByName(options, codec, bytes) => {
                let values: Ar::Values = decode(&runtime_of(&options.runtime)?, codec, bytes)?;
                (options, values.into_args())
            }
        };
        let runtime = target_runtime(&options)?;
        let store = Arc::clone(runtime.engine().local().store());
        #[cfg(feature = "ray")]
        if let Some(ray) = runtime.ray() {
            let mut args = args;
            let call = crate::api::submit::call_spec(&options, &runtime)?;
            let backpressure = options.generator_backpressure;
            let started = ray.submit_streaming(&store, call, args.ray_args()?, backpressure);
            return fed_stream(store, backpressure, started);
        }
        let channel = Channel::new(store, options.generator_backpressure);
        let task = submit(options, args, Arc::clone(&channel))?;
        Ok(ObjectRefStream::new(channel, task))
    }
}

impl<A, Ar> MethodCall<'_, A, Ar>
where
    A: Actor,
    Ar: ArgList,
    Ar::Values: ValueList<Args = Ar>,
{
    /// Calls a sync streaming `&self` method: it holds the state (shared)
    /// while it yields.
    pub fn call_streaming_ref<T, X, I, F, C>(
        self,
        method: impl Into<MethodInfo>,
        f: F,
        convert: C,
    ) -> Result<ObjectRefStream<T>>
    where
        T: Object,
        I: IntoIterator<Item = X>,
        F: Fn(&A, Ar::Values) -> I + Send + Sync + 'static,
        C: Fn(X) -> std::result::Result<T, UserError> + Send + Sync + 'static,
    {
        self.call_with_channel(method.into(), |handle, method, args, sink| {
            handle.__call_ref::<Ar, One<()>, _>(method, args, move |actor, values| {
                sink.drive(f(actor, values), &convert)
            })
        })
    }

    /// Calls a sync streaming `&mut self` method: it holds the state
    /// exclusively while it yields.
    pub fn call_streaming_mut<T, X, I, F, C>(
        self,
        method: impl Into<MethodInfo>,
        f: F,
        convert: C,
    ) -> Result<ObjectRefStream<T>>
    where
        T: Object,
        I: IntoIterator<Item = X>,
        F: Fn(&mut A, Ar::Values) -> I + Send + Sync + 'static,
        C: Fn(X) -> std::result::Result<T, UserError> + Send + Sync + 'static,
    {
        self.call_with_channel(method.into(), |handle, method, args, sink| {
            handle.__call_mut::<Ar, One<()>, _>(method, args, move |actor, values| {
                sink.drive(f(actor, values), &convert)
            })
        })
    }

    /// Calls an async streaming method, holding the state as `G` while it
    /// yields.
    pub fn call_streaming_async<T, X, S, G, Fut, F, C>(
        self,
        method: impl Into<MethodInfo>,
        f: F,
        convert: C,
    ) -> Result<ObjectRefStream<T>>
    where
        T: Object,
        X: Send + 'static,
        S: futures_core::Stream<Item = X> + Send + 'static,
        G: Access<A>,
        Fut: Future<Output = S> + Send + 'static,
        F: Fn(G, Ar::Values) -> Fut + Clone + Send + Sync + 'static,
        C: Fn(X) -> std::result::Result<T, UserError> + Send + Sync + 'static,
    {
        self.call_with_channel(method.into(), |handle, method, args, sink| {
            let convert = Arc::new(convert);
            handle.__call_async::<Ar, One<()>, G, _, _>(method, args, move |g, values| {
                let (sink, convert) = (Arc::clone(&sink), Arc::clone(&convert));
                let stream = f(g, values);
                async move { sink.drive_async(stream.await, &*convert).await }
            })
        })
    }

    /// A streaming method's stream: `call` makes the call whose body pushes
    /// to the channel it is given, in the store of the actor's runtime.
    fn call_with_channel<T: Object>(
        self,
        method: MethodInfo,
        call: impl FnOnce(&ActorRef<A>, MethodInfo, Ar, Arc<Channel<T>>) -> Result<ObjectRef<()>>,
    ) -> Result<ObjectRefStream<T>> {
        let (handle, args) = match self {
            MethodCall::Typed(handle, args) => (handle, args),
            MethodCall::ByName(actor, codec, bytes) => {
                let values: Ar::Values = decode(&actor.runtime, codec, bytes)?;
                (actor.typed::<A>()?, values.into_args())
            }
        };
        let store = Arc::clone(handle.__store());
        let backpressure = method.generator_backpressure;
        #[cfg(feature = "ray")]
        let mut args = args;
        #[cfg(feature = "ray")]
        if let Some(started) = handle.call_streaming_remote(method, &mut args, backpressure) {
            return fed_stream(store, backpressure, started);
        }
        let channel = Channel::new(store, backpressure);
        let task = call(handle, method, args, Arc::clone(&channel))?;
        Ok(ObjectRefStream::new(channel, task))
    }
}

/// The stream of a generator that runs in another engine (Ray): its items
/// fed into a channel of `store` as they come (see `Channel::feed_from`).
#[cfg(feature = "ray")]
fn fed_stream<T: Object>(
    store: Arc<crate::object::store::Store>,
    backpressure: Option<usize>,
    started: Result<crate::task::stream::RemoteStream>,
) -> Result<ObjectRefStream<T>> {
    let (task, items) = started?;
    let channel = Channel::new(store, backpressure);
    channel.feed_from(Arc::clone(&task), items)?;
    Ok(ObjectRefStream::new(channel, ObjectRef::from_cell(task)))
}
