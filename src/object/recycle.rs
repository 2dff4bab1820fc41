//! [`BytePool`]: large byte buffers of freed objects, reused for copies.
//!
//! Fresh memory costs a page fault per page the first time it is written:
//! on a VM, copying 800 MiB into a new allocation takes several times as
//! long as copying it into memory already mapped. When an object holding a
//! large `Vec<u8>` is freed, its buffer comes here (at most two, the most
//! recent, so a runtime keeps at most a couple of buffers it no longer
//! needs); [`put_bytes`](crate::put_bytes) and reads of large byte objects
//! copy into one of them when it fits, at `memcpy` speed. The pool belongs
//! to the store and goes with the runtime.

use crate::sync::lock;
use std::sync::Mutex;

/// Buffers smaller than this are not worth keeping.
pub(crate) const MIN_BYTES: usize = 1 << 20;

const KEEP: usize = 2;

#[derive(Default)]
pub(crate) struct BytePool {
    buffers: Mutex<Vec<Vec<u8>>>,
}

impl BytePool {
    /// Keeps a freed buffer for reuse.
    pub(crate) fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() < MIN_BYTES {
            return;
        }
        buffer.clear();
        let mut buffers = lock(&self.buffers);
        if buffers.len() == KEEP {
            buffers.remove(0);
        }
        buffers.push(buffer);
    }

    /// A copy of `bytes`, in a recycled buffer when one fits (and is not
    /// more than twice the size).
    pub(crate) fn copy(&self, bytes: &[u8]) -> Vec<u8> {
        if bytes.len() >= MIN_BYTES {
            let mut buffers = lock(&self.buffers);
            let fits = buffers
                .iter()
                .position(|b| b.capacity() >= bytes.len() && b.capacity() / 2 <= bytes.len());
            if let Some(i) = fits {
                let mut buffer = buffers.swap_remove(i);
                drop(buffers);
                buffer.extend_from_slice(bytes);
                return buffer;
            }
        }
        bytes.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_buffer_is_reused_for_a_copy_that_fits() {
        let pool = BytePool::default();
        let buffer = vec![9u8; MIN_BYTES * 2];
        let ptr = buffer.as_ptr();
        pool.give(buffer);
        let data = vec![3u8; MIN_BYTES + 5];
        let copy = pool.copy(&data);
        assert_eq!(copy, data);
        assert_eq!(copy.as_ptr(), ptr);
        // Nothing left: the next copy allocates.
        let fresh = pool.copy(&data);
        assert_ne!(fresh.as_ptr(), ptr);
    }

    #[test]
    fn small_and_far_too_large_buffers_are_not_used() {
        let pool = BytePool::default();
        pool.give(vec![0u8; 10]);
        pool.give(vec![0u8; MIN_BYTES * 8]);
        let data = vec![1u8; MIN_BYTES];
        assert_eq!(pool.copy(&data), data);
        assert_eq!(pool.buffers.lock().unwrap().len(), 1);
    }
}
