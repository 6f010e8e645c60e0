//! A core written down as snapshot data, and rebuilt from it.

use super::{Batch, BatchId, CoreOptions, Queued, Recovery, RunCore, Table};
use crate::contract::{StepId, StepInput};
use crate::erased::ErasedEvent;
use crate::snapshot::{
    event_data, event_from, input_data, step_index, BatchData, ChildData, EventData, PendingInput,
    RecoveryData, Snapshot, SnapshotError,
};

/// What the core contributes to a [`Snapshot`].
pub(crate) struct CoreParts {
    pub(crate) inputs: Vec<PendingInput>,
    pub(crate) unclaimed: Vec<EventData>,
    pub(crate) pending_requests: usize,
    pub(crate) batches: Vec<BatchData>,
    pub(crate) recoveries: Vec<RecoveryData>,
}

/// A snapshot, decoded and checked against the workflow: what a resumed
/// run starts from.
pub(crate) struct Restored {
    inputs: Vec<(StepId, Queued)>,
    /// Open batches, none outstanding yet (a batch's id is its index).
    batches: Vec<Batch>,
    unclaimed: Vec<ErasedEvent>,
    pending_requests: usize,
    recovery: Option<Box<Recovery>>,
    /// `collect_events` buffers, per step; the driver puts them back.
    pub(crate) collected: Vec<(StepId, Vec<ErasedEvent>)>,
    /// The child runs of the steps in flight; the driver puts them back
    /// in the run's link, where the re-run steps look for them.
    pub(crate) children: Vec<ChildData>,
}

impl RunCore {
    /// What the core holds, as snapshot data: inputs in flight (they run
    /// again on resume) then queued, unclaimed events, open requests, batches.
    pub(crate) fn export(&self) -> Result<CoreParts, SnapshotError> {
        let live: Vec<BatchId> = self.batches.ids().collect();
        let batch_index = |id: Option<BatchId>| id.and_then(|id| live.iter().position(|&b| b == id));
        let mut inputs = Vec::new();
        for inv in self.invocations.values() {
            let step = self.info().steps[inv.step].name;
            let input = inv.input.as_ref().ok_or(SnapshotError::InputNotKept { step })?;
            let (collected, events) = input_data(input)?;
            let (attempt, batch, id) = (inv.attempt, batch_index(inv.batch), inv.id);
            let streamed = inv.streamed.max(inv.journaled);
            inputs.push(PendingInput {
                step: step.to_owned(),
                attempt,
                batch,
                collected,
                events,
                id,
                streamed,
            });
        }
        for (id, state) in self.steps.iter().enumerate() {
            for queued in state.queue.iter() {
                let (collected, events) = input_data(&queued.input)?;
                inputs.push(PendingInput {
                    step: self.info().steps[id].name.to_owned(),
                    attempt: queued.attempt,
                    batch: batch_index(queued.batch),
                    collected,
                    events,
                    id: queued.id,
                    streamed: queued.streamed,
                });
            }
        }
        let batches = live
            .iter()
            .map(|&b| {
                let batch = self.batches.get(b).expect("the batch is live");
                let collected = batch
                    .collected
                    .iter()
                    .map(|(step, e)| Ok((self.info().steps[*step].name.to_owned(), event_data(e)?)))
                    .collect::<Result<_, SnapshotError>>()?;
                let origin = batch.origin.map(|step| self.info().steps[step].name.to_owned());
                Ok(BatchData { origin, collected })
            })
            .collect::<Result<_, SnapshotError>>()?;
        let recoveries = self.recovery.as_ref().map_or_else(Vec::new, |r| {
            (0..self.steps.len())
                .filter(|&s| r.used[s] > 0 || r.attempts[s] > 0)
                .map(|s| RecoveryData {
                    step: self.info().steps[s].name.to_owned(),
                    recovered: r.used[s],
                    attempts: r.attempts[s],
                })
                .collect()
        });
        Ok(CoreParts {
            inputs,
            unclaimed: self.unclaimed.iter().map(event_data).collect::<Result<_, _>>()?,
            pending_requests: self.pending_requests,
            batches,
            recoveries,
        })
    }

    /// Decodes and checks everything of a snapshot the run needs (its
    /// inputs, batches, unclaimed events, `collect_events` buffers), so that
    /// a bad snapshot fails before the run starts, with the place it is bad.
    pub(crate) fn decode(table: &'static Table, snapshot: &Snapshot) -> Result<Restored, SnapshotError> {
        let info = table.info();
        let events = |list: &[EventData], at: &str| {
            list.iter()
                .enumerate()
                .map(|(j, e)| event_from(table.events, e, &format!("{at}[{j}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut batches = Vec::with_capacity(snapshot.batches.len());
        for (b, batch) in snapshot.batches.iter().enumerate() {
            let mut collected = Vec::with_capacity(batch.collected.len());
            for (i, (step, event)) in batch.collected.iter().enumerate() {
                let at = format!("batches[{b}].collected[{i}]");
                collected.push((step_index(info, step, &at)?, event_from(table.events, event, &at)?));
            }
            let origin = match &batch.origin {
                Some(step) => Some(step_index(info, step, &format!("batches[{b}].origin"))?),
                None => None,
            };
            batches.push(Batch { origin, outstanding: 0, collected });
        }
        let mut inputs = Vec::with_capacity(snapshot.inputs.len());
        for (i, pending) in snapshot.inputs.iter().enumerate() {
            let at = format!("inputs[{i}]");
            let step = step_index(info, &pending.step, &format!("{at}.step"))?;
            let mut decoded = events(&pending.events, &format!("{at}.events"))?;
            let input = match (pending.collected, decoded.len()) {
                (true, _) => StepInput::Collected(decoded),
                (false, 1) => StepInput::One(decoded.remove(0)),
                (false, n) => {
                    let message = format!("a step takes one event, not {n}");
                    return Err(SnapshotError::BadData {
                        name: pending.step.clone(),
                        at: format!("{at}.events"),
                        message,
                    });
                }
            };
            if pending.batch.is_some_and(|b| b >= batches.len()) {
                let message = format!("there are {} batches", batches.len());
                return Err(SnapshotError::BadData {
                    name: "batch".into(),
                    at: format!("{at}.batch"),
                    message,
                });
            }
            let queued = Queued {
                input,
                batch: pending.batch,
                attempt: pending.attempt.max(1),
                id: pending.id,
                streamed: pending.streamed,
            };
            inputs.push((step, queued));
        }
        let mut collected = Vec::with_capacity(snapshot.collected.len());
        for (i, buffer) in snapshot.collected.iter().enumerate() {
            let at = format!("collected[{i}]");
            let step = step_index(info, &buffer.step, &format!("{at}.step"))?;
            collected.push((step, events(&buffer.events, &format!("{at}.events"))?));
        }
        let mut per_step = Vec::with_capacity(snapshot.recoveries.len());
        for (i, data) in snapshot.recoveries.iter().enumerate() {
            let step = step_index(info, &data.step, &format!("recoveries[{i}].step"))?;
            per_step.push((step, data.recovered, data.attempts));
        }
        let recovery =
            (!per_step.is_empty()).then(|| Box::new(Recovery::restored(info.steps.len(), per_step)));
        Ok(Restored {
            inputs,
            batches,
            unclaimed: events(&snapshot.unclaimed, "unclaimed")?,
            pending_requests: snapshot.pending_requests,
            recovery,
            collected,
            children: snapshot.children.clone(),
        })
    }

    /// A core rebuilt from a decoded snapshot; [`Input::Resume`](super::Input::Resume)
    /// then starts its inputs.
    pub(crate) fn restored(table: &'static Table, options: CoreOptions, restored: Restored) -> Self {
        let mut core = Self::new(table, options);
        // In a fresh slab, the batches get the ids 0, 1, 2…: their indices in the snapshot.
        for batch in restored.batches {
            core.batches.insert(batch);
        }
        for (step, mut queued) in restored.inputs {
            if !options.stream_journaled {
                queued.streamed = 0; // nobody read what it streamed: stream it again
            }
            core.next_input = core.next_input.max(queued.id.wrapping_add(1));
            if let Some(open) = queued.batch.and_then(|b| core.batches.get_mut(b)) {
                open.outstanding += 1;
            }
            core.steps[step].queue.push(queued);
            core.mark(step);
        }
        core.unclaimed.extend(restored.unclaimed);
        core.pending_requests = restored.pending_requests;
        core.recovery = restored.recovery;
        core
    }
}
