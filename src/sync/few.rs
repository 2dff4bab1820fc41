//! [`Few`]: a list that most often holds one item, kept without an
//! allocation until a second arrives.

/// Items in the order pushed; the first inline, the rest in a `Vec` (not
/// allocated until needed). For what a lock hands out to start after it is
/// released: most often one task or one lane.
#[derive(Debug)]
pub(crate) struct Few<T> {
    first: Option<T>,
    more: Vec<T>,
}

impl<T> Default for Few<T> {
    fn default() -> Self {
        Few {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<T> Few<T> {
    pub(crate) fn push(&mut self, item: T) {
        match self.first {
            None => self.first = Some(item),
            Some(_) => self.more.push(item),
        }
    }
}

impl<T> IntoIterator for Few<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<std::option::IntoIter<T>, std::vec::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn items_come_out_in_the_order_pushed() {
        let mut few = Few::default();
        few.push(1);
        assert_eq!(few.more.capacity(), 0, "one item allocates nothing");
        few.push(2);
        few.push(3);
        assert_eq!(few.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(Few::<u8>::default().into_iter().count(), 0);
    }
}
