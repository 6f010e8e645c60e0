//! A small unbounded queue with one receiver, for a run's inbox and its
//! event stream.
//!
//! tokio's unbounded channel allocates a block of 32 slots up front; a run
//! waiting for a human holds two of these queues for hours, so that block
//! would be most of what the waiting run costs. This queue allocates
//! nothing until something is sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

use super::lock;

pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    waker: AtomicWaker,
    /// How many items are queued, kept beside the lock: the driver asks
    /// after every step whether anything came in, and mostly nothing has.
    queued: AtomicUsize,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State { items: VecDeque::new(), closed: false }),
            waker: AtomicWaker::new(),
            queued: AtomicUsize::new(0),
        }
    }

    /// Queues `item`; gives it back if the mailbox is closed.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(item);
            }
            state.items.push_back(item);
            self.queued.fetch_add(1, Ordering::Release);
        }
        self.waker.wake();
        Ok(())
    }

    /// The next item, if one is queued.
    /// An item sent before this call (by this thread, or by one whose
    /// work this thread has joined) is seen.
    #[inline]
    pub(crate) fn try_recv(&self) -> Option<T> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.pop(&mut lock(&self.state))
    }

    /// Takes the oldest item, keeping the count.
    fn pop(&self, state: &mut State<T>) -> Option<T> {
        let item = state.items.pop_front()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(item)
    }

    /// The next item; `None` once the mailbox is closed and empty.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(ready) = self.ready() {
            return Poll::Ready(ready);
        }
        self.waker.register(cx.waker());
        // Checked again: an item sent between the first check and the
        // registration woke nobody.
        let mut state = lock(&self.state);
        match self.pop(&mut state) {
            Some(item) => Poll::Ready(Some(item)),
            None if state.closed => Poll::Ready(None),
            None => {
                // The receiver goes to sleep, maybe for hours (a run waiting
                // for a human): give the buffer back meanwhile.
                state.items = VecDeque::new();
                Poll::Pending
            }
        }
    }

    /// Waits for the next item.
    pub(crate) async fn recv(&self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Refuses further items; what is queued can still be received.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.waker.wake();
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    fn ready(&self) -> Option<Option<T>> {
        let mut state = lock(&self.state);
        match self.pop(&mut state) {
            Some(item) => Some(Some(item)),
            None if state.closed => Some(None),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_in_order_and_ends_after_close() {
        let mailbox = std::sync::Arc::new(Mailbox::new());
        let sender = std::sync::Arc::clone(&mailbox);
        let task = tokio::spawn(async move {
            for i in 0..100 {
                sender.send(i).unwrap();
                tokio::task::yield_now().await;
            }
            sender.close();
            assert_eq!(sender.send(100), Err(100), "a closed mailbox refuses items");
        });
        let mut got = Vec::new();
        while let Some(i) = mailbox.recv().await {
            got.push(i);
        }
        task.await.unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert!(mailbox.is_closed());
    }
}
