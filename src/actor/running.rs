//! [`Running`]: a lane's calls started and not finished, by number.
//!
//! A lane usually runs one call at a time (a sync actor's always does, and
//! an async actor awaited call by call does too), so the first call started
//! takes a slot of its own and costs no hashing; calls started while it
//! runs go to a map (up to 1000 in an async actor's lane, found by key, not
//! by a search; and a map, not a window of numbers, which one call that
//! never returns would keep growing).

use std::collections::HashMap;

use crate::sync::FastHash;

/// The running calls of a lane (`T`: a call's task).
pub(crate) struct Running<T> {
    /// One call, whichever found the slot free when it started.
    one: Option<(u64, T)>,
    /// The others.
    more: HashMap<u64, T, FastHash>,
}

impl<T> Default for Running<T> {
    fn default() -> Self {
        Running {
            one: None,
            more: HashMap::default(),
        }
    }
}

impl<T> Running<T> {
    pub(crate) fn len(&self) -> usize {
        usize::from(self.one.is_some()) + self.more.len()
    }

    /// Call `n` started (numbers are unique in a lane).
    pub(crate) fn insert(&mut self, n: u64, task: T) {
        if self.one.is_none() {
            self.one = Some((n, task));
        } else {
            self.more.insert(n, task);
        }
    }

    /// Call `n` finished: its task, if it was running.
    pub(crate) fn remove(&mut self, n: u64) -> Option<T> {
        if matches!(&self.one, Some((m, _)) if *m == n) {
            return self.one.take().map(|(_, task)| task);
        }
        self.more.remove(&n)
    }

    /// The running calls, in no order.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = &T> {
        self.one
            .iter()
            .map(|(_, task)| task)
            .chain(self.more.values())
    }
}

#[cfg(test)]
mod tests {
    use super::Running;

    fn sorted(running: &Running<&'static str>) -> Vec<&'static str> {
        let mut tasks: Vec<_> = running.tasks().copied().collect();
        tasks.sort_unstable();
        tasks
    }

    #[test]
    fn calls_are_found_by_number_whether_in_the_slot_or_the_map() {
        let mut running = Running::default();
        assert_eq!(running.len(), 0);
        running.insert(1, "a");
        running.insert(2, "b");
        running.insert(3, "c");
        assert_eq!((running.len(), sorted(&running)), (3, vec!["a", "b", "c"]));
        // The slot's call ends first; the next call started takes the slot.
        assert_eq!(running.remove(1), Some("a"));
        assert_eq!(running.remove(1), None);
        running.insert(4, "d");
        assert_eq!((running.len(), sorted(&running)), (3, vec!["b", "c", "d"]));
        assert_eq!(running.remove(3), Some("c"));
        assert_eq!(running.remove(4), Some("d"));
        assert_eq!(running.remove(7), None);
        assert_eq!((running.len(), sorted(&running)), (1, vec!["b"]));
        assert_eq!(running.remove(2), Some("b"));
        assert_eq!(running.len(), 0);
    }
}
