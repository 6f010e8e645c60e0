//! The small containers the core keeps its state in: a FIFO that holds
//! one item without allocating, a slab of reusable slots, a ring of the
//! last events routed, and a dispenser of copies of one event.

use std::collections::VecDeque;

/// A FIFO whose oldest item lives outside the deque, so that the common
/// case of one item at a time allocates nothing. The oldest item is always
/// in `next`: the queue is empty exactly when `next` is.
pub(super) struct Queue<T> {
    next: Option<T>,
    rest: VecDeque<T>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self { next: None, rest: VecDeque::new() }
    }
}

impl<T> Queue<T> {
    #[inline]
    pub(super) fn push(&mut self, item: T) {
        if self.next.is_none() {
            self.next = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }

    #[inline]
    pub(super) fn pop(&mut self) -> Option<T> {
        let item = self.next.take()?;
        self.next = self.rest.pop_front();
        Some(item)
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.next.is_some()) + self.rest.len()
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.next.is_none()
    }

    /// Oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.next.iter().chain(&self.rest)
    }
}

/// A vector with reusable slots, addressed by index.
pub(super) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self { slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    #[inline]
    pub(super) fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        // Grow one by one, since a waiting run holds few; asked only when
        // full, since the call is not free even when there is room.
        if self.free.is_empty() && self.slots.len() == self.slots.capacity() {
            self.slots.reserve_exact(1);
        }
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    #[inline]
    pub(super) fn remove(&mut self, i: usize) -> Option<T> {
        let value = self.slots.get_mut(i).and_then(Option::take);
        if value.is_some() {
            if self.free.len() == self.free.capacity() {
                self.free.reserve_exact(1);
            }
            self.free.push(i);
            self.len -= 1;
        }
        value
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The ids of the occupied slots, in slot order.
    pub(super) fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(|&i| self.slots[i].is_some())
    }

    /// The occupied slots' values, in slot order.
    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

/// The last `N` event types routed, as indices into `WorkflowInfo::events`.
pub(super) struct Recent<const N: usize> {
    ring: [u16; N],
    next: u8,
    count: u8,
}

impl<const N: usize> Default for Recent<N> {
    fn default() -> Self {
        Self { ring: [0; N], next: 0, count: 0 }
    }
}

impl<const N: usize> Recent<N> {
    #[inline]
    pub(super) fn note(&mut self, event: usize) {
        // Compared rather than taken modulo `N`: a division on every hop.
        let at = usize::from(self.next);
        self.ring[at] = event as u16;
        self.next = if at + 1 == N { 0 } else { at as u8 + 1 };
        if usize::from(self.count) < N {
            self.count += 1;
        }
    }

    /// Oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let (next, count) = (usize::from(self.next), usize::from(self.count));
        (0..count).map(move |back| usize::from(self.ring[(next + N - count + back) % N]))
    }
}

/// Hands out `n` copies of an event: clones for all but the last, which
/// gets the original, so that a single consumer costs no clone.
pub(super) struct Copies<E> {
    event: Option<E>,
    left: usize,
}

impl<E: Clone> Copies<E> {
    pub(super) fn new(event: E, n: usize) -> Self {
        Self { event: Some(event), left: n }
    }

    #[inline]
    pub(super) fn next(&mut self) -> E {
        self.left -= 1;
        if self.left == 0 {
            self.event.take().expect("no more copies than announced")
        } else {
            self.event.clone().expect("no more copies than announced")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_first_in_first_out_across_its_two_parts() {
        let mut queue = Queue::default();
        queue.push(1);
        queue.push(2);
        assert_eq!(queue.pop(), Some(1));
        queue.push(3);
        assert_eq!(queue.iter().copied().collect::<Vec<_>>(), [2, 3]);
        assert_eq!((queue.pop(), queue.pop(), queue.pop(), queue.len()), (Some(2), Some(3), None, 0));
    }

    #[test]
    fn a_slab_reuses_freed_slots() {
        let mut slab = Slab::default();
        let (a, b) = (slab.insert('a'), slab.insert('b'));
        assert_eq!(slab.remove(a), Some('a'));
        assert_eq!(slab.remove(a), None, "removed once");
        assert_eq!(slab.insert('c'), a);
        assert_eq!(slab.ids().collect::<Vec<_>>(), [a, b]);
        assert!(!slab.is_empty());
    }

    #[test]
    fn the_ring_keeps_the_last_n_oldest_first() {
        let mut recent = Recent::<3>::default();
        (1..=5).for_each(|e| recent.note(e));
        assert_eq!(recent.iter().collect::<Vec<_>>(), [3, 4, 5]);
    }
}
