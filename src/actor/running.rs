//! [`RunningCalls`]: the calls of one lane that have started and not
//! finished, found by their number in O(1).
//!
//! A lane starts its calls strictly in sequence order, so the running ones
//! lie between the oldest still running and the next to start: a window
//! kept as a ring (`slots[i]` is call `base + i`, `None` once it finished
//! or when its turn was skipped). A call that finishes empties its slot and
//! the window's front moves past every empty one. With up to 1000 calls
//! of an async actor running at once, a linear search per finished call
//! cost more than the call itself.

use std::collections::VecDeque;

/// `T` is what a running call is kept as (its task).
pub(super) struct RunningCalls<T> {
    /// The number of the call in `slots[0]`.
    base: u64,
    slots: VecDeque<Option<T>>,
    count: usize,
}

impl<T> RunningCalls<T> {
    pub(super) fn new() -> Self {
        RunningCalls {
            base: 0,
            slots: VecDeque::new(),
            count: 0,
        }
    }

    /// How many calls run.
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// Call `seq` starts; calls start in increasing `seq` order.
    pub(super) fn start(&mut self, seq: u64, task: T) {
        if self.slots.is_empty() {
            self.base = seq;
        }
        let Some(i) = seq.checked_sub(self.base) else {
            debug_assert!(false, "call {seq} started after call {}", self.base);
            return;
        };
        let i = i as usize;
        while self.slots.len() <= i {
            self.slots.push_back(None);
        }
        if self.slots[i].replace(task).is_none() {
            self.count += 1;
        }
    }

    /// Call `seq` finished: its task, if it was running.
    pub(super) fn finish(&mut self, seq: u64) -> Option<T> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let task = self.slots.get_mut(i)?.take()?;
        self.count -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(task)
    }

    /// The running calls' tasks, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::RunningCalls;

    #[test]
    fn calls_finish_in_any_order_and_are_found_by_number() {
        let mut running = RunningCalls::new();
        for seq in [1, 2, 4, 5] {
            running.start(seq, seq * 10); // call 3's turn was skipped
        }
        assert_eq!(running.len(), 4);
        assert_eq!(running.finish(4), Some(40));
        assert_eq!(running.finish(4), None);
        assert_eq!(running.finish(3), None);
        assert_eq!(running.finish(1), Some(10));
        assert_eq!(running.iter().copied().collect::<Vec<_>>(), [20, 50]);
        running.start(6, 60);
        assert_eq!(running.finish(2), Some(20));
        assert_eq!(running.finish(0), None);
        assert_eq!(running.iter().copied().collect::<Vec<_>>(), [50, 60]);
        assert_eq!(running.len(), 2);
        assert_eq!(running.finish(5), Some(50));
        assert_eq!(running.finish(6), Some(60));
        assert_eq!(running.len(), 0);
        running.start(9, 90);
        assert_eq!(running.iter().copied().collect::<Vec<_>>(), [90]);
        assert_eq!(running.finish(9), Some(90));
    }
}
