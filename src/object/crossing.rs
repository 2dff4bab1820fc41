//! Values that cross to another engine (a Ray cluster, feature `ray`).
//!
//! A value crosses encoded whole, so a ref or an actor handle inside it
//! would name an object or an actor of this process, which the other side
//! cannot reach (Ray's refs inside values are not mapped yet). While a
//! value is encoded to cross, the `Serialize` of refs and handles asks
//! [`refuses`] and fails, and [`encode`] turns that into an error naming
//! what could not cross, at the call that tried, instead of a decoding
//! error in a Ray worker later.

use std::cell::Cell;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::object::Codec;

thread_local! {
    /// `Some` while a value is encoded to cross: what inside refused, if
    /// anything did.
    static CROSSING: Cell<Option<Option<&'static str>>> = const { Cell::new(None) };
}

/// Restores the outer state, also when a `Serialize` panics.
struct Restore(Option<Option<&'static str>>);

impl Drop for Restore {
    fn drop(&mut self) {
        CROSSING.set(self.0);
    }
}

/// Encodes `value` (for `call`) to cross to another engine; a ref or an
/// actor handle inside it is [`Error::InvalidArgument`] naming it.
pub(crate) fn encode<T: Serialize + 'static>(call: &'static str, value: &T) -> Result<Vec<u8>> {
    let _restore = Restore(CROSSING.replace(Some(None)));
    let encoded = Codec::Postcard.encode(value);
    match CROSSING.get().flatten() {
        Some(what) => Err(Error::InvalidArgument {
            call,
            reason: format!(
                "{what} inside a value does not cross to Ray yet: pass a ref as an argument \
                 of its own (Ray resolves it where the task runs)"
            ),
        }),
        None => encoded,
    }
}

/// Whether the value being encoded is crossing to another engine, where
/// `what` (a ref, a handle) cannot go: the `Serialize` asking must fail
/// then.
pub(crate) fn refuses(what: &'static str) -> bool {
    match CROSSING.get() {
        Some(None) => {
            CROSSING.set(Some(Some(what)));
            true
        }
        Some(Some(_)) => true,
        None => false,
    }
}
