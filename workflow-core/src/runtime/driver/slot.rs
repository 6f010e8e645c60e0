//! The run's slot among the runs of its workflow instance
//! (`num_concurrent_runs`): taken before the first step, given back while
//! the run only waits for outside input, taken again before it goes on.
//!
//! Decided so (issue 17): a run waiting for a person must not keep others
//! out, or N such runs would block every later one; the timeout of a run
//! starts when it first gets its slot, not while it waits in line; and a run
//! cancelled while it waits in line ends then, without ever starting.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Driver;
use crate::link::Inbound;

/// The run's standing with its instance's semaphore; the driver has one
/// only for a workflow that limits its runs.
pub(super) struct Slot {
    limit: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    /// Messages that came while the run waited for its first slot: handled
    /// after its start, as they would have been had it started at once.
    early: Vec<Inbound>,
}

impl Slot {
    pub(super) fn new(limit: Arc<Semaphore>) -> Self {
        Self { limit, permit: None, early: Vec::new() }
    }
}

impl Driver {
    /// Waits for a slot, if the workflow limits its runs and the run holds
    /// none; handles what comes in meanwhile, so that a cancel is heard.
    pub(super) async fn take_slot(&mut self, started: bool) {
        let Some(slot) = &self.slot else { return };
        if slot.permit.is_some() {
            return;
        }
        // Pinned once: dropping it would give up the run's place in line.
        let acquire = Arc::clone(&slot.limit).acquire_owned();
        tokio::pin!(acquire);
        loop {
            tokio::select! {
                biased;
                permit = &mut acquire => {
                    if let Some(slot) = &mut self.slot {
                        slot.permit = permit.ok();
                    }
                    return;
                }
                Some(message) = self.run.link.inbox.recv() => {
                    match &mut self.slot {
                        Some(slot) if !started && !matches!(message, Inbound::Cancel) => slot.early.push(message),
                        _ => self.receive(message),
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
            if self.core.awaits_outside_input() {
                slot.permit = None;
            }
        }
    }

    /// Whether the run must take its slot again before going on.
    pub(super) fn needs_slot(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| slot.permit.is_none()) && !self.commands.is_empty()
    }
}
