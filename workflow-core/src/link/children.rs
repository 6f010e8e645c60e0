//! What a run's link keeps of the child runs its steps start
//! (`ctx.run_child`): how many each step input has started, where each of
//! those is (for the parent's snapshots), and the parent's durable store,
//! where the children journal too.
//!
//! A child is named by the step input that started it, the attempt, and
//! the order of its `run_child` call: a step that runs again (after a
//! resume) makes the same calls in the same order, so it finds its
//! children again instead of starting new ones.

use std::sync::Arc;

use crate::contract::InputId;
use crate::snapshot::{ChildData, Journaled};
use crate::store::{RunStore, CHILD_KEY};

/// The children of one run's steps in flight.
#[derive(Default)]
pub(crate) struct Children {
    /// The parent's durable journal, if it has one: its children journal
    /// to the same store, under keys made from the parent's.
    durable: Option<(Arc<dyn RunStore>, String)>,
    /// Per input and attempt, how many `run_child` calls it made.
    calls: Vec<(InputId, u32, u32)>,
    /// Where each child of a step in flight is, by its key.
    records: Vec<ChildData>,
}

/// The key of a child within its parent run: `{input}.{attempt}.{call}`.
pub(crate) fn child_key(input: InputId, attempt: u32, call: u32) -> String {
    format!("{input}.{attempt}.{call}")
}

impl Children {
    pub(crate) fn set_durable(&mut self, store: Arc<dyn RunStore>, key: String) {
        self.durable = Some((store, key));
    }

    /// The parent's store, and the key a child called `key` journals under there.
    pub(crate) fn durable(&self, key: &str) -> Option<(Arc<dyn RunStore>, String)> {
        self.durable.as_ref().map(|(store, parent)| (Arc::clone(store), format!("{parent}{CHILD_KEY}{key}")))
    }

    /// The number of the next `run_child` call of this input's attempt.
    pub(crate) fn next_call(&mut self, input: InputId, attempt: u32) -> u32 {
        match self.calls.iter_mut().find(|(i, a, _)| *i == input && *a == attempt) {
            Some((_, _, next)) => {
                *next += 1;
                *next - 1
            }
            None => {
                self.calls.push((input, attempt, 1));
                0
            }
        }
    }

    /// Where child `key` is, as the parent last heard.
    pub(crate) fn record(&self, key: &str) -> Option<&Journaled> {
        self.records.iter().find(|r| r.key == key).map(|r| &r.run)
    }

    /// Notes where child `key` (of workflow `workflow`) is now.
    pub(crate) fn note(&mut self, key: &str, workflow: &str, run: Journaled) {
        match self.records.iter_mut().find(|r| r.key == key) {
            Some(record) => record.run = run,
            None => self.records.push(ChildData { key: key.to_owned(), workflow: workflow.to_owned(), run }),
        }
    }

    /// Forgets the children of `input`: its step returned, so it will not
    /// run again to look for them.
    pub(crate) fn forget(&mut self, input: InputId) {
        let prefix = format!("{input}.");
        self.calls.retain(|(i, _, _)| *i != input);
        self.records.retain(|r| !r.key.starts_with(&prefix));
    }

    /// The children, for a snapshot of the parent.
    pub(crate) fn records(&self) -> Vec<ChildData> {
        self.records.clone()
    }

    /// Takes the children back from a snapshot the parent resumes from.
    pub(crate) fn restore(&mut self, records: Vec<ChildData>) {
        self.records = records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_per_input_and_attempt_and_forgotten_with_the_input() {
        let mut children = Children::default();
        assert_eq!((children.next_call(3, 1), children.next_call(3, 1)), (0, 1));
        assert_eq!(children.next_call(3, 2), 0, "a retry starts its own children");
        assert_eq!(children.next_call(30, 1), 0);
        children.note(&child_key(3, 1, 0), "Search", Journaled::Stopped(1.into()));
        children.note(&child_key(30, 1, 0), "Search", Journaled::Failed("down".into()));
        children.note(&child_key(3, 1, 0), "Search", Journaled::Stopped(2.into()));
        assert_eq!(children.record("3.1.0"), Some(&Journaled::Stopped(2.into())), "the latest word");
        children.forget(3);
        assert_eq!(children.record("3.1.0"), None);
        assert!(children.record("30.1.0").is_some(), "input 30 is not input 3");
        assert_eq!(children.next_call(3, 1), 0);
    }
}
