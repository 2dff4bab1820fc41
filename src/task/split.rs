//! [`Split`]: a `Vec<T>` returned as one object per element, for a call
//! made with `f::options().num_returns(n)` (Ray's per-call `num_returns`).

use std::sync::Arc;

use crate::error::Result;
use crate::object::value::Value;
use crate::object::{Codec, Object, ObjectRef};
use crate::task::returns::{Outputs, TaskReturn, UserError};

/// The elements of a returned `Vec<T>`, one object each; the call says how
/// many (its `num_returns`), and [`split`] checks the vector has as many.
#[doc(hidden)]
pub struct Split<T>(Vec<T>);

/// `values` as the `n` objects of a call with `num_returns(n)`; a vector
/// of another length fails the task (as in Ray).
#[doc(hidden)]
pub fn split<T>(n: usize, values: Vec<T>) -> std::result::Result<Split<T>, UserError> {
    if values.len() == n {
        Ok(Split(values))
    } else {
        Err(UserError {
            message: format!(
                "it returned {} values, but the call asked for num_returns = {n}",
                values.len()
            ),
            cause: None,
        })
    }
}

impl<T: Object> TaskReturn for Split<T> {
    type Refs = Vec<ObjectRef<T>>;
    /// Unknown here: the call's `num_returns` sets the count.
    const COUNT: usize = 0;

    fn complete(self, outputs: &Outputs) {
        for (index, value) in self.0.into_iter().enumerate() {
            outputs.publish(index, Ok(Value::new(value)));
        }
    }

    fn refs(outputs: &Outputs) -> Vec<ObjectRef<T>> {
        let cells = outputs.cells().iter();
        cells.map(|c| ObjectRef::from_cell(Arc::clone(c))).collect()
    }

    fn encode(self, codec: Codec) -> Vec<Result<Vec<u8>>> {
        self.0
            .iter()
            .map(|v| crate::task::returns::encode_output(codec, v))
            .collect()
    }
}
