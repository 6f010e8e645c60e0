//! The steps waiting in `ctx.wait_for_event`: their filters (code, which
//! the core does not hold) and where their answers go.

use tokio::sync::oneshot;

use crate::contract::WaiterId;
use crate::erased::ErasedEvent;
use crate::link::Matcher;

struct Waiter<E> {
    id: WaiterId,
    /// `None` once an event has been chosen for it: it takes no other.
    matches: Option<Matcher<E>>,
    reply: oneshot::Sender<E>,
}

/// The open waits of one run, in the order they began.
pub(super) struct Waiters<E = ErasedEvent> {
    open: Vec<Waiter<E>>,
}

impl<E> Default for Waiters<E> {
    fn default() -> Self {
        Self { open: Vec::new() }
    }
}

impl<E> Waiters<E> {
    /// Registers a wait; returns the position among `unclaimed` of the
    /// first event it accepts, which answers it at once.
    pub(super) fn begin<'e>(
        &mut self,
        id: WaiterId,
        mut matches: Matcher<E>,
        reply: oneshot::Sender<E>,
        unclaimed: impl Iterator<Item = &'e E>,
    ) -> Option<usize>
    where
        E: 'e,
    {
        let claim = unclaimed.into_iter().position(&mut matches);
        let matches = claim.is_none().then_some(matches);
        self.open.push(Waiter { id, matches, reply });
        claim
    }

    /// The first open wait that accepts `event`; it takes no other event.
    pub(super) fn choose(&mut self, event: &E) -> Option<WaiterId> {
        let at = self.open.iter_mut().position(|w| w.matches.as_mut().is_some_and(|m| m(event)))?;
        self.open[at].matches = None;
        Some(self.open[at].id)
    }

    /// Hands `event` to waiter `id`; gives it back if the wait is gone
    /// (withdrawn, or its step dropped), so that it is not lost.
    pub(super) fn wake(&mut self, id: WaiterId, event: E) -> Result<(), E> {
        match self.open.iter().position(|w| w.id == id) {
            Some(at) => self.open.swap_remove(at).reply.send(event),
            None => Err(event),
        }
    }

    /// Forgets a wait that ended without an answer; true if no event had
    /// been chosen for it yet (else its wake is on its way).
    pub(super) fn withdraw(&mut self, id: WaiterId) -> bool {
        let Some(at) = self.open.iter().position(|w| w.id == id) else { return false };
        self.open.remove(at).matches.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn even() -> Matcher<u32> {
        Box::new(|n: &u32| n % 2 == 0)
    }

    #[test]
    fn a_wait_claims_the_first_unclaimed_event_it_accepts() {
        let mut waiters = Waiters::default();
        let (reply, answer) = oneshot::channel();
        assert_eq!(waiters.begin(1, even(), reply, [3, 4, 6].iter()), Some(1));
        assert_eq!(waiters.choose(&8), None, "a wait answered at once takes nothing else");
        waiters.wake(1, 4).unwrap();
        assert_eq!(answer.blocking_recv(), Ok(4));
    }

    #[test]
    fn an_event_goes_to_the_first_accepting_wait_once() {
        let mut waiters = Waiters::default();
        let (first, _a) = oneshot::channel();
        let (second, _b) = oneshot::channel();
        assert_eq!(waiters.begin(1, even(), first, [].iter()), None);
        assert_eq!(waiters.begin(2, even(), second, [].iter()), None);
        assert_eq!(waiters.choose(&3), None);
        assert_eq!(waiters.choose(&2), Some(1));
        assert_eq!(waiters.choose(&4), Some(2), "the first is spoken for");
    }

    #[test]
    fn an_event_for_a_withdrawn_or_dropped_wait_is_given_back() {
        let mut waiters = Waiters::default();
        let (reply, answer) = oneshot::channel();
        waiters.begin(1, even(), reply, [].iter());
        assert!(waiters.withdraw(1), "withdrawn unanswered");
        assert_eq!(waiters.wake(1, 2), Err(2));
        drop(answer);
        let (reply, answer) = oneshot::channel::<u32>();
        waiters.begin(2, even(), reply, [].iter());
        drop(answer);
        assert_eq!(waiters.wake(2, 4), Err(4));
    }
}
