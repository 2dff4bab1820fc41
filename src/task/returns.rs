//! What a task returns: one value or a tuple split into several refs, and
//! how an application error becomes a [`TaskFailed`](crate::Error::TaskFailed).

use std::any::Any;
use std::fmt::Display;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::exec::pool;
use crate::object::cell::ObjectCell;
use crate::object::value::Value;
use crate::object::Codec;
use crate::object::{Object, ObjectRef};
use crate::sync::catch;

/// The output cells of a task, one per returned object (one allocation
/// fewer for the common single result).
#[doc(hidden)]
pub struct Outputs(Cells);

enum Cells {
    One(Arc<ObjectCell>),
    Many(Box<[Arc<ObjectCell>]>),
}

impl Outputs {
    pub(crate) fn new(mut cells: impl ExactSizeIterator<Item = Arc<ObjectCell>>) -> Outputs {
        match (cells.len(), cells.next()) {
            (1, Some(cell)) => Outputs(Cells::One(cell)),
            (_, first) => Outputs(Cells::Many(first.into_iter().chain(cells).collect())),
        }
    }

    pub(crate) fn cells(&self) -> &[Arc<ObjectCell>] {
        match &self.0 {
            Cells::One(cell) => std::slice::from_ref(cell),
            Cells::Many(cells) => cells,
        }
    }

    /// Completes output `index` with `result`: at once, or, for the task
    /// its worker thread is running (see [`publish_later`]), once that
    /// thread is ready for its next job.
    pub(crate) fn publish(&self, index: usize, result: crate::error::Result<Value>) {
        let cell = &self.cells()[index];
        if PUBLISHING_LATER.get() == self as *const Outputs as usize {
            pool::publish_later(Arc::clone(cell), result);
        } else {
            cell.complete(result);
        }
    }
}

thread_local! {
    /// The outputs whose completions wait for this worker to be ready for
    /// more work (their address; 0: none).
    static PUBLISHING_LATER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` (a sync task's attempts on its worker thread) with the
/// completions of `outputs` deferred until the worker is ready for its next
/// job (see [`pool::publish_later`]): the caller that waits for them then
/// finds that worker idle and spinning, not busy finishing, when it submits
/// its next call. The outputs of any other task (one stolen and run inside
/// `f`) complete at once.
pub(crate) fn publish_later<R>(outputs: &Outputs, f: impl FnOnce() -> R) -> R {
    let outer = PUBLISHING_LATER.replace(outputs as *const Outputs as usize);
    let result = f();
    PUBLISHING_LATER.set(outer);
    result
}

/// The successful result of one task attempt, ready to be stored.
#[doc(hidden)]
pub trait TaskReturn: Send + 'static {
    /// What the caller gets: `ObjectRef<T>`, or a tuple of refs.
    type Refs;
    /// How many objects the task produces.
    const COUNT: usize;
    /// Completes the task's output cells with the values.
    fn complete(self, outputs: &Outputs);
    /// The caller's refs to the output cells.
    fn refs(outputs: &Outputs) -> Self::Refs;
    /// Each object encoded with `codec` (for a call by name).
    fn encode(self, codec: Codec) -> Vec<Result<Vec<u8>>>;
}

/// A task's single return value.
#[doc(hidden)]
pub struct One<T>(pub T);

impl<T: Object> TaskReturn for One<T> {
    type Refs = ObjectRef<T>;
    const COUNT: usize = 1;

    fn complete(self, outputs: &Outputs) {
        outputs.publish(0, Ok(Value::new(self.0)));
    }

    fn refs(outputs: &Outputs) -> ObjectRef<T> {
        ObjectRef::from_cell(Arc::clone(&outputs.cells()[0]))
    }

    fn encode(self, codec: Codec) -> Vec<Result<Vec<u8>>> {
        vec![encode_output(codec, &self.0)]
    }
}

/// A tuple returned with `num_returns = N`: one object per element.
#[doc(hidden)]
pub struct Many<T>(pub T);

macro_rules! many {
    ($n:expr; $($name:ident $idx:tt),*) => {
        impl<$($name: Object),*> TaskReturn for Many<($($name,)*)> {
            type Refs = ($(ObjectRef<$name>,)*);
            const COUNT: usize = $n;

            fn complete(self, outputs: &Outputs) {
                $(outputs.publish($idx, Ok(Value::new((self.0).$idx)));)*
            }

            fn refs(outputs: &Outputs) -> Self::Refs {
                ($(ObjectRef::<$name>::from_cell(Arc::clone(&outputs.cells()[$idx])),)*)
            }

            fn encode(self, codec: Codec) -> Vec<Result<Vec<u8>>> {
                vec![$(encode_output(codec, &(self.0).$idx)),*]
            }
        }
    };
}

many!(1; A 0);
many!(2; A 0, B 1);
many!(3; A 0, B 1, C 2);
many!(4; A 0, B 1, C 2, D 3);
many!(5; A 0, B 1, C 2, D 3, E 4);
many!(6; A 0, B 1, C 2, D 3, E 4, F 5);
many!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
many!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// The objects of a call by name, each encoded with `codec` in the task
/// that made them: the caller (another process's worker, in the end) gets
/// bytes. A `Serialize` that fails or panics fails that object with
/// [`Error::Serialization`].
#[doc(hidden)]
pub struct Encoded<R> {
    pub(crate) value: R,
    pub(crate) codec: Codec,
}

impl<R: TaskReturn> TaskReturn for Encoded<R> {
    type Refs = Vec<ObjectRef<Vec<u8>>>;
    const COUNT: usize = R::COUNT;

    fn complete(self, outputs: &Outputs) {
        let Encoded { value, codec } = self;
        let (encoded, refs) = crossing_outputs(|| {
            catch(|| value.encode(codec)).unwrap_or_else(|panic| {
                let error = Error::Serialization(format!("a result's `Serialize` {panic}"));
                vec![Err(error); R::COUNT]
            })
        });
        publish_encoded(outputs, encoded, refs);
    }

    fn refs(outputs: &Outputs) -> Self::Refs {
        let cells = outputs.cells().iter();
        cells
            .map(|cell| ObjectRef::from_cell(Arc::clone(cell)))
            .collect()
    }

    fn encode(self, codec: Codec) -> Vec<Result<Vec<u8>>> {
        let bytes = self.value.encode(self.codec);
        bytes.into_iter().map(|b| codec.encode(&b?)).collect()
    }
}

/// Encodes one output of a call by name (in a program serving a Ray
/// worker, collecting the refs inside: see `object::crossing`).
pub(crate) fn encode_output<T: Object>(codec: Codec, value: &T) -> Result<Vec<u8>> {
    #[cfg(feature = "ray")]
    return crate::object::crossing::encode_output(codec, value);
    #[cfg(not(feature = "ray"))]
    codec.encode(value)
}

/// Runs `encode` (a call's outputs, by [`encode_output`]), with the refs
/// inside each output where results cross to a Ray worker.
fn crossing_outputs<R>(encode: impl FnOnce() -> R) -> (R, CrossingRefs) {
    #[cfg(feature = "ray")]
    return crate::object::crossing::outputs(encode);
    #[cfg(not(feature = "ray"))]
    (encode(), ())
}

/// The cells of the refs inside each output that crosses to a Ray worker.
#[cfg(feature = "ray")]
type CrossingRefs = Vec<Vec<crate::object::handoff::Handle>>;
#[cfg(not(feature = "ray"))]
type CrossingRefs = ();

/// Publishes the encoded outputs as objects: the bytes, or, when refs
/// inside cross to a Ray worker, the bytes with their cells.
#[cfg(feature = "ray")]
fn publish_encoded(outputs: &Outputs, encoded: Vec<Result<Vec<u8>>>, refs: CrossingRefs) {
    let mut refs = refs.into_iter();
    for (index, bytes) in encoded.into_iter().enumerate() {
        let refs = refs.next().unwrap_or_default();
        outputs.publish(
            index,
            bytes.map(|bytes| {
                if refs.is_empty() {
                    Value::new(bytes)
                } else {
                    Value::encoded_with(bytes, refs)
                }
            }),
        );
    }
}

#[cfg(not(feature = "ray"))]
fn publish_encoded(outputs: &Outputs, encoded: Vec<Result<Vec<u8>>>, (): CrossingRefs) {
    for (index, bytes) in encoded.into_iter().enumerate() {
        outputs.publish(index, bytes.map(Value::new));
    }
}

/// An application error returned by a task (its `Err`), before the task's
/// name is attached.
#[doc(hidden)]
#[derive(Debug)]
pub struct UserError {
    pub(crate) message: String,
    pub(crate) cause: Option<Arc<Error>>,
}

/// Converts a task's `Err(e)`. A `rustyray::Error` is kept as the cause, so
/// a failure that came from a nested task shows its chain.
#[doc(hidden)]
pub fn user_error<E: Display + 'static>(err: E) -> UserError {
    let message = err.to_string();
    let cause = (&err as &dyn Any)
        .downcast_ref::<Error>()
        .map(|e| Arc::new(e.clone()));
    UserError { message, cause }
}
