//! Submitting streaming generators: what `#[remote(streaming)]` and
//! `#[method(streaming)]` expand to call. The generator is an ordinary task
//! (or actor call) making one object, its task ref, whose body pushes each
//! item to the caller's [`ObjectRefStream`] (see `task::stream`).

use std::future::Future;
use std::sync::Arc;

use crate::actor::core::Access;
use crate::actor::handle::{Actor, ActorRef};
use crate::actor::method::MethodInfo;
use crate::api::registry::{Call, MethodCall};
use crate::api::submit::{submit_async, submit_sync, target_runtime};
use crate::api::task_options::TaskOptions;
use crate::error::Result;
use crate::object::Object;
use crate::task::args::{ArgList, ValueList};
use crate::task::returns::{One, UserError};
use crate::task::stream::{by_name_error, Channel, ObjectRefStream};

impl<Ar> Call<'_, Ar>
where
    Ar: ArgList,
    Ar::Values: ValueList<Args = Ar>,
{
    /// Submits a sync generator: `body` makes the iterator, `convert`
    /// turns each item into a value or an error that ends the stream.
    pub fn submit_streaming<T, X, I, F, C>(
        self,
        function: &'static str,
        body: F,
        convert: C,
    ) -> Result<ObjectRefStream<T>>
    where
        T: Object,
        I: IntoIterator<Item = X>,
        F: Fn(Ar::Values) -> I + Send + Sync + 'static,
        C: Fn(X) -> std::result::Result<T, UserError> + Send + Sync + 'static,
    {
        let Call::Typed(options, args) = self else {
            return Err(by_name_error(function));
        };
        let channel = task_channel(&options)?;
        let sink = Arc::clone(&channel);
        let task = submit_sync::<Ar, One<()>, _>(options, args, move |values| {
            sink.drive(body(values), &convert)
        })?;
        Ok(ObjectRefStream::new(channel, task))
    }

    /// Submits an async generator: `body`'s future makes the stream.
    pub fn submit_streaming_async<T, X, S, Fut, F, C>(
        self,
        function: &'static str,
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
        let Call::Typed(options, args) = self else {
            return Err(by_name_error(function));
        };
        let channel = task_channel(&options)?;
        let sink = Arc::clone(&channel);
        let convert = Arc::new(convert);
        let task = submit_async::<Ar, One<()>, _, _>(options, args, move |values| {
            let (sink, convert) = (Arc::clone(&sink), Arc::clone(&convert));
            let stream = body(values);
            async move { sink.drive_async(stream.await, &*convert).await }
        })?;
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
        let method = method.into();
        let MethodCall::Typed(handle, args) = self else {
            return Err(by_name_error(method.name));
        };
        let channel = Channel::new(Arc::clone(handle.store()), method.generator_backpressure);
        let sink = Arc::clone(&channel);
        let task = handle.__call_ref::<Ar, One<()>, _>(method, args, move |actor, values| {
            sink.drive(f(actor, values), &convert)
        })?;
        Ok(ObjectRefStream::new(channel, task))
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
        let method = method.into();
        let MethodCall::Typed(handle, args) = self else {
            return Err(by_name_error(method.name));
        };
        let channel = Channel::new(Arc::clone(handle.store()), method.generator_backpressure);
        let sink = Arc::clone(&channel);
        let task = handle.__call_mut::<Ar, One<()>, _>(method, args, move |actor, values| {
            sink.drive(f(actor, values), &convert)
        })?;
        Ok(ObjectRefStream::new(channel, task))
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
        let method = method.into();
        let MethodCall::Typed(handle, args) = self else {
            return Err(by_name_error(method.name));
        };
        let channel = Channel::new(Arc::clone(handle.store()), method.generator_backpressure);
        let sink = Arc::clone(&channel);
        let convert = Arc::new(convert);
        let task =
            handle.__call_async::<Ar, One<()>, G, _, _>(method, args, move |g, values| {
                let (sink, convert) = (Arc::clone(&sink), Arc::clone(&convert));
                let stream = f(g, values);
                async move { sink.drive_async(stream.await, &*convert).await }
            })?;
        Ok(ObjectRefStream::new(channel, task))
    }
}

impl<A: Actor> ActorRef<A> {
    /// The object store of the actor's runtime.
    fn store(&self) -> &Arc<crate::object::store::Store> {
        self.__store()
    }
}

/// The channel of a streaming task's items, in the store of the runtime
/// `options` submit to.
fn task_channel<T: Object>(options: &TaskOptions) -> Result<Arc<Channel<T>>> {
    let runtime = target_runtime(options)?;
    let store = Arc::clone(runtime.engine().local().store());
    Ok(Channel::new(store, options.generator_backpressure))
}
