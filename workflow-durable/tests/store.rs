//! The SQLite store, and the errors of durable runs.

use std::sync::Arc;

use serde_json::{json, Value};
use workflow_core::durable::{RecoverError, RunStore};
use workflow_core::prelude::*;
use workflow_core::snapshot::Snapshot;
use workflow_core::BoxError;
use workflow_durable::{Outcome, SqliteStore};

#[derive(Default)]
struct Echo;

#[workflow]
impl Echo {
    #[step]
    async fn echo(&self, ev: StartEvent<u32>) -> InputRequired<u32> {
        InputRequired::new(ev.input)
    }

    #[step]
    async fn done(&self, ev: HumanResponse<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.response)
    }
}

#[tokio::test]
async fn a_durable_run_is_journaled_then_recorded_with_its_result() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let handler = Echo.start_with(5, RunOptions::new().durable(store.clone(), "a"));
    while store.unfinished("Echo").unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let (key, journal) = store.unfinished("Echo").unwrap().remove(0);
    assert_eq!(key, "a");
    assert_eq!(journal.pending_requests, 1, "the journal shows the run waiting for its answer");
    handler.send_event(HumanResponse::new(9u32)).unwrap();
    assert_eq!(handler.await.unwrap(), 9);
    assert_eq!(store.outcome("a").unwrap(), Some(Outcome::Stopped(json!(9))));
    assert!(store.unfinished("Echo").unwrap().is_empty());
}

#[tokio::test]
async fn a_waiting_durable_run_is_recovered_by_a_new_store_handle() {
    let path = std::env::temp_dir().join(format!("workflow-store-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let handler = Echo.start_with(3, RunOptions::new().durable(store.clone(), "b"));
        while store.unfinished("Echo").unwrap().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(handler); // the process "dies" while the run waits
    }
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let mut recovered = Echo.recover(store).unwrap();
    assert_eq!(recovered.len(), 1);
    let (key, handler) = recovered.remove(0);
    assert_eq!(key, "b");
    handler.send_event(HumanResponse::new(4u32)).unwrap();
    assert_eq!(handler.await.unwrap(), 4);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_corrupted_journal_is_reported_with_its_key() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let handler = Echo.start_with(1, RunOptions::new().durable(store.clone(), "c"));
    while store.unfinished("Echo").unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    drop(handler);
    let (_, mut journal) = store.unfinished("Echo").unwrap().remove(0);
    journal.state = json!({ "unexpected": true });
    journal.format = 7;
    store.save("c", "Echo", &journal).unwrap();
    let err = Echo.recover(store.clone() as Arc<dyn RunStore>).unwrap_err();
    assert!(matches!(&err, RecoverError::Snapshot { key, .. } if key == "c"), "{err:?}");
    assert!(err.to_string().contains("format 7"), "{err}");
}

/// A store whose disk is full.
struct Full;

impl RunStore for Full {
    fn save(&self, _: &str, _: &str, _: &Snapshot) -> Result<(), BoxError> {
        Err("disk full".into())
    }
    fn finish(&self, _: &str, _: Result<&Value, &str>) -> Result<(), BoxError> {
        Ok(())
    }
    fn unfinished(&self, _: &str) -> Result<Vec<(String, Snapshot)>, BoxError> {
        Err("disk unreadable".into())
    }
    fn load(&self, _: &str) -> Result<Option<workflow_core::durable::Journaled>, BoxError> {
        Err("disk unreadable".into())
    }
}

#[tokio::test]
async fn a_store_that_fails_ends_the_run_instead_of_losing_durability() {
    let err = Echo.start_with(1, RunOptions::new().durable(Arc::new(Full), "d")).await.unwrap_err();
    assert!(matches!(err, WorkflowError::Journal { workflow: "Echo", .. }), "{err:?}");
    assert!(err.to_string().contains("disk full"), "{err}");

    let err = Echo.recover(Arc::new(Full)).unwrap_err();
    assert_eq!(err.to_string(), "the run store failed: disk unreadable");
}

#[derive(Default)]
struct Double;

#[workflow]
impl Double {
    #[step]
    async fn double(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input * 2)
    }
}

#[tokio::test]
async fn run_with_a_durable_option_records_the_result_too() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let total = Double.run_with(21, RunOptions::new().durable(store.clone(), "inline")).await.unwrap();
    assert_eq!(total, 42);
    assert_eq!(store.outcome("inline").unwrap(), Some(Outcome::Stopped(json!(42))));
    assert!(Double.recover(store).unwrap().is_empty(), "nothing left to recover");
}
