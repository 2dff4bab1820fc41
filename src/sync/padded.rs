//! [`Padded`]: a value on cache lines of its own.

use std::ops::Deref;

/// A value alone on its cache lines (128 bytes: two lines, as adjacent-line
/// prefetchers pull pairs), so that threads writing it do not slow threads
/// reading or writing its neighbours in the same struct (false sharing).
/// For the few fields every task touches from different threads: the
/// scheduler's state lock, the id counters.
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
