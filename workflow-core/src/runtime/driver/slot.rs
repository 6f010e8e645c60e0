//! The run's slot among the runs of its workflow instance
//! (`num_concurrent_runs`): taken before the first step, given back while
//! the run only waits for outside input, taken again before it goes on.
//!
//! Decided so (issue 17): a run waiting for a person must not keep others
//! out, or N such runs would block every later one; the timeout of a run
//! starts when it first gets its slot, not while it waits in line; and a run
//! cancelled while it waits in line ends then, without ever starting.

use tokio::sync::OwnedSemaphorePermit;

use super::Driver;
use crate::link::Inbound;

/// The run's standing with its instance's semaphore; boxed in the driver,
/// and only for a workflow that limits its runs.
#[derive(Default)]
pub(super) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    /// Messages that came while the run waited for its first slot: handled
    /// after its start, as they would have been had it started at once.
    early: Vec<Inbound>,
}

impl Driver {
    /// Waits for a slot, if the workflow limits its runs and the run holds
    /// none; handles what comes in meanwhile, so that a cancel is heard.
    pub(super) async fn take_slot(&mut self, started: bool) {
        let Some(limit) = self.run.limit.clone() else { return };
        let slot = self.slot.get_or_insert_with(Box::default);
        if slot.permit.is_some() {
            return;
        }
        // Pinned once: dropping it would give up the run's place in line.
        let acquire = limit.acquire_owned();
        tokio::pin!(acquire);
        loop {
            tokio::select! {
                biased;
                permit = &mut acquire => {
                    self.slot.get_or_insert_with(Box::default).permit = permit.ok();
                    return;
                }
                Some(message) = self.run.link.inbox.recv() => {
                    let cancel = matches!(message, Inbound::Cancel);
                    if started || cancel {
                        self.receive(message);
                    } else {
                        self.slot.get_or_insert_with(Box::default).early.push(message);
                    }
                    if self.core.is_finished() {
                        return;
                    }
                }
            }
        }
    }

    /// Handles the messages that came before the first slot.
    pub(super) fn receive_early(&mut self) {
        let early = self.slot.as_mut().map(|slot| std::mem::take(&mut slot.early)).unwrap_or_default();
        for message in early {
            self.receive(message);
        }
    }

    /// Gives the slot back if the run only waits for outside input.
    pub(super) fn release_slot_if_waiting(&mut self) {
        if let Some(slot) = &mut self.slot {
            if slot.permit.is_some() && self.core.awaits_outside_input() {
                slot.permit = None;
            }
        }
    }

    /// Whether the run must take its slot again before going on.
    pub(super) fn needs_slot(&self) -> bool {
        self.run.limit.is_some()
            && self.slot.as_ref().is_none_or(|slot| slot.permit.is_none())
            && !self.commands.is_empty()
    }
}
