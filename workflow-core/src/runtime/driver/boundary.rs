//! What the driver does between batches of work, when no inline step is
//! halfway through its completion: answer the snapshots asked for, and
//! write the journal. (A snapshot taken while a step's completion is being
//! handled would show the step in flight after its effects, such as what
//! it put in a `collect_events` buffer, and a resume would apply them twice.)

use serde_json::Value;

use super::{Command, Driver};
use crate::error::WorkflowError;
use crate::snapshot::{event_data, CollectData, Snapshot, SnapshotError, SNAPSHOT_FORMAT};
use crate::sync::lock;

impl Driver {
    /// Answers the snapshots asked for, and writes the journal if it is due;
    /// a journal that cannot be written ends the run.
    pub(super) fn at_boundary(&mut self) -> Result<(), WorkflowError> {
        for (state, reply) in std::mem::take(&mut self.snapshot_requests) {
            let _ = reply.send(self.snapshot(state, true));
        }
        self.write_journal()
    }

    /// Writes the run to its journal, if it has one and a step boundary
    /// passed; a store that fails ends the run, which would no longer be durable.
    fn write_journal(&mut self) -> Result<(), WorkflowError> {
        // The core counted these in the invocations it will write down:
        // they are saved with this journal, not the next. (Rare: only a
        // run that yielded with work left has commands queued here.)
        if self.journal_stream && self.commands.iter().any(|c| matches!(c, Command::Stream(_))) {
            let commands = std::mem::take(&mut self.commands);
            for command in commands {
                match command {
                    Command::Stream(event) => self.unjournaled.push(event),
                    command => self.commands.push_back(command),
                }
            }
        }
        let due = self.journal_due || !self.unjournaled.is_empty();
        if !due || self.core.is_finished() {
            return Ok(());
        }
        let Some(journal) = &self.run.journal else { return Ok(()) };
        let workflow = self.run.table.info().name;
        let saved = self
            // The children journal themselves, to the same store.
            .snapshot(|| self.run.steps.journal_state(), false)
            .map_err(|error| error.to_string())
            .and_then(|snapshot| journal.save(workflow, &snapshot, &self.unjournaled));
        self.journal_due = false;
        saved.map_err(|reason| WorkflowError::Journal { workflow, reason })?;
        self.forward_journaled();
        Ok(())
    }

    /// Sends what was saved with the journal on to the caller's stream.
    pub(super) fn forward_journaled(&mut self) {
        let stream = self.run.stream.as_ref();
        for event in self.unjournaled.drain(..) {
            if let Some(stream) = stream {
                let _ = stream.send(event);
            }
        }
    }

    /// The run as it is now, with the state `state` writes (and where its
    /// steps' child runs are, if `children`): the one place a snapshot is
    /// put together, for the caller's and the journal's alike.
    pub(super) fn snapshot(
        &self,
        state: impl FnOnce() -> Result<Value, SnapshotError>,
        children: bool,
    ) -> Result<Snapshot, SnapshotError> {
        let parts = self.core.export()?;
        let collected = self.collected()?;
        let info = self.run.table.info();
        Ok(Snapshot {
            format: SNAPSHOT_FORMAT,
            workflow: info.name.to_owned(),
            events: info.events.iter().map(|e| (*e).to_owned()).collect(),
            steps: info.steps.iter().map(|s| s.name.to_owned()).collect(),
            state: state()?,
            store: self.run.steps.store(),
            inputs: parts.inputs,
            unclaimed: parts.unclaimed,
            pending_requests: parts.pending_requests,
            batches: parts.batches,
            collected,
            recoveries: parts.recoveries,
            children: if children { self.run.link.child_records() } else { Vec::new() },
        })
    }

    /// The `collect_events` buffers as snapshot data.
    fn collected(&self) -> Result<Vec<CollectData>, SnapshotError> {
        let buffers = lock(&self.run.link.collected);
        buffers
            .iter()
            .enumerate()
            .filter(|(_, events)| !events.is_empty())
            .map(|(step, events)| {
                let events = events.iter().map(event_data).collect::<Result<_, _>>()?;
                Ok(CollectData { step: self.run.table.info().steps[step].name.to_owned(), events })
            })
            .collect()
    }
}
