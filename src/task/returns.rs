//! What a task returns: one value or a tuple split into several refs, and
//! how an application error becomes a [`TaskFailed`](crate::Error::TaskFailed).

use std::any::Any;
use std::fmt::Display;
use std::sync::Arc;

use crate::error::Error;
use crate::object::cell::ObjectCell;
use crate::object::value::Value;
use crate::object::{Object, ObjectRef};

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
}

/// A task's single return value.
#[doc(hidden)]
pub struct One<T>(pub T);

impl<T: Object> TaskReturn for One<T> {
    type Refs = ObjectRef<T>;
    const COUNT: usize = 1;

    fn complete(self, outputs: &Outputs) {
        outputs.cells()[0].complete(Ok(Value::new(self.0)));
    }

    fn refs(outputs: &Outputs) -> ObjectRef<T> {
        ObjectRef::from_cell(Arc::clone(&outputs.cells()[0]))
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
                $(outputs.cells()[$idx].complete(Ok(Value::new((self.0).$idx)));)*
            }

            fn refs(outputs: &Outputs) -> Self::Refs {
                ($(ObjectRef::<$name>::from_cell(Arc::clone(&outputs.cells()[$idx])),)*)
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
