//! The journal of one served run: where its driver saves the run and what
//! it streamed, in one transaction with the run's event log, and where
//! its child runs journal on their own.

use std::sync::{Arc, Weak};

use serde_json::Value;
use workflow_core::durable::{Journaled, RunStore};
use workflow_core::snapshot::Snapshot;
use workflow_core::{BoxError, RunEvent, RunOutcome};

use super::Run;
use crate::store::Store;

/// The store as one run's journal sees it.
pub(crate) struct RunJournal {
    pub(crate) store: Arc<Store>,
    /// The run whose log its stream goes to (weak: the run's driver holds
    /// this, and the run holds its driver).
    pub(crate) run: Weak<Run>,
}

impl RunJournal {
    fn run(&self) -> Result<Arc<Run>, BoxError> {
        self.run.upgrade().ok_or_else(|| "the handler was deleted".into())
    }
}

impl RunStore for RunJournal {
    fn save(&self, key: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError> {
        self.store.save(key, workflow, snapshot)
    }

    fn finish(&self, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        self.store.finish(key, outcome)
    }

    fn unfinished(&self, _workflow: &str) -> Result<Vec<(String, Snapshot)>, BoxError> {
        // The server resumes its runs itself, handler by handler.
        Ok(Vec::new())
    }

    fn load(&self, key: &str) -> Result<Option<Journaled>, BoxError> {
        self.store.load(key)
    }

    /// The run's own stream is its log; a child run's goes up to it.
    fn keeps_stream(&self, key: &str) -> bool {
        self.run.upgrade().is_some_and(|run| run.id == key)
    }

    fn save_streamed(
        &self,
        _key: &str,
        workflow: &str,
        snapshot: &Snapshot,
        streamed: &[RunEvent<Value>],
    ) -> Result<(), BoxError> {
        self.run()?.commit(streamed, Some((workflow, snapshot)), None)
    }

    fn finish_streamed(
        &self,
        _key: &str,
        outcome: Result<&Value, &str>,
        ended: &RunOutcome,
        streamed: &[RunEvent<Value>],
    ) -> Result<(), BoxError> {
        self.run()?.commit(streamed, None, Some((outcome, ended)))
    }
}
