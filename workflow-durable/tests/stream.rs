//! A store that keeps each run's stream beside its journal (as a server's
//! event log does): the run hands it what it streams with each journal,
//! its own stream shows an event only once it is saved, and a step that
//! runs again after a resume does not stream again what it had streamed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::Notify;
use workflow_core::durable::{Journaled, RunStore};
use workflow_core::prelude::*;
use workflow_core::registry::{registration_of, StartError};
use workflow_core::snapshot::Snapshot;
use workflow_core::{BoxError, RunEvent, RunOutcome};

/// A journal and a stream log in memory, saved together.
#[derive(Default)]
struct KeepingStore {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    snapshot: Option<Snapshot>,
    log: Vec<Value>,
    ended: Option<(Result<Value, String>, RunOutcome)>,
}

impl KeepingStore {
    fn log(&self) -> Vec<Value> {
        self.inner.lock().unwrap().log.clone()
    }
    fn snapshot(&self) -> Snapshot {
        self.inner.lock().unwrap().snapshot.clone().expect("a journal")
    }
}

fn event_of(item: &RunEvent<Value>) -> Value {
    match item {
        RunEvent::Event(tagged) => tagged.clone(),
        other => json!(format!("{other:?}")),
    }
}

impl RunStore for KeepingStore {
    fn save(&self, _: &str, _: &str, _: &Snapshot) -> Result<(), BoxError> {
        Err("a store that keeps the stream is saved with `save_streamed`".into())
    }
    fn finish(&self, _: &str, _: Result<&Value, &str>) -> Result<(), BoxError> {
        Err("a store that keeps the stream is finished with `finish_streamed`".into())
    }
    fn unfinished(&self, _: &str) -> Result<Vec<(String, Snapshot)>, BoxError> {
        Ok(Vec::new())
    }
    fn load(&self, _: &str) -> Result<Option<Journaled>, BoxError> {
        Ok(None)
    }
    fn keeps_stream(&self, _: &str) -> bool {
        true
    }
    fn save_streamed(
        &self,
        _: &str,
        _: &str,
        snapshot: &Snapshot,
        streamed: &[RunEvent<Value>],
    ) -> Result<(), BoxError> {
        let mut kept = self.inner.lock().unwrap();
        kept.snapshot = Some(snapshot.clone());
        kept.log.extend(streamed.iter().map(event_of));
        Ok(())
    }
    fn finish_streamed(
        &self,
        _: &str,
        outcome: Result<&Value, &str>,
        ended: &RunOutcome,
        streamed: &[RunEvent<Value>],
    ) -> Result<(), BoxError> {
        let mut kept = self.inner.lock().unwrap();
        kept.log.extend(streamed.iter().map(event_of));
        kept.ended = Some((outcome.cloned().map_err(str::to_owned), ended.clone()));
        Ok(())
    }
}

#[event]
#[derive(PartialEq)]
struct Progress(u32);

/// Streams `Progress(1)`, `Progress(2)`, waits at the gate, streams
/// `Progress(3)` and ends.
#[derive(Clone, Default)]
struct Gated {
    gate: Arc<Notify>,
}

#[workflow]
impl Gated {
    #[step(streams = [Progress])]
    async fn work(&self, ctx: &Context, ev: StartEvent<u32>) -> StopEvent<u32> {
        ctx.write_event_to_stream(Progress(1));
        ctx.write_event_to_stream(Progress(2));
        self.gate.notified().await;
        ctx.write_event_to_stream(Progress(3));
        StopEvent::new(ev.input)
    }
}

fn progress(n: u32) -> Value {
    json!({ "event": "Progress", "data": n })
}

#[tokio::test]
async fn a_step_run_again_after_a_resume_does_not_stream_again_what_was_kept() {
    let store = Arc::new(KeepingStore::default());
    let gated = Gated::default();
    let options = RunOptions::new().durable(Arc::clone(&store) as Arc<dyn RunStore>, "run-1");
    let mut handler = gated.clone().start_with(7, options);
    // What the caller's stream shows was saved first.
    for n in [1, 2] {
        let Some(RunEvent::Event(GatedEvent::Progress(p))) = handler.events().next().await else { panic!() };
        assert_eq!(p, Progress(n));
        assert!(store.log().contains(&progress(n)), "shown before it was kept");
    }
    let journal = store.snapshot();
    assert_eq!(journal.inputs[0].streamed, 2, "{journal:?}");
    // The process dies here: the run is dropped mid-step.
    handler.cancel();
    drop(handler);

    let again = Gated::default();
    again.gate.notify_one(); // this time the step gets through
    let options = RunOptions::new().durable(Arc::clone(&store) as Arc<dyn RunStore>, "run-1");
    let resumed = again.resume(journal, options).unwrap();
    assert_eq!(resumed.await.unwrap(), 7);
    assert_eq!(store.log(), vec![progress(1), progress(2), progress(3)]);
    let (result, ended) = store.inner.lock().unwrap().ended.clone().unwrap();
    assert_eq!((result, ended), (Ok(json!(7)), RunOutcome::Stopped));
}

#[tokio::test]
async fn without_a_kept_stream_a_resumed_step_streams_everything_again() {
    let gated = Gated::default();
    let handler = gated.clone().start(1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let snapshot = handler.snapshot().await.unwrap();
    handler.cancel();
    let again = Gated::default();
    again.gate.notify_one();
    let mut resumed = again.resume(snapshot, RunOptions::new()).unwrap();
    let mut seen = Vec::new();
    while let Some(item) = resumed.events().next().await {
        if let RunEvent::Event(GatedEvent::Progress(Progress(n))) = item {
            seen.push(n);
        }
    }
    assert_eq!(seen, [1, 2, 3]);
}

/// A state that cannot be journaled.
#[derive(Default)]
struct Opaque(#[allow(dead_code)] std::cell::Cell<u8>);

#[derive(Default)]
struct Unjournaled;

#[workflow]
impl Unjournaled {
    #[step]
    async fn only(&self, _ctx: &Context<Opaque>, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input)
    }
}

#[tokio::test]
async fn a_run_from_json_is_durable_when_its_state_can_be_journaled() {
    let store = Arc::new(KeepingStore::default());
    let durable = || RunOptions::new().durable(Arc::clone(&store) as Arc<dyn RunStore>, "json");
    let gated = registration_of::<Gated>().unwrap();
    let run = gated.start_json(json!(3), durable()).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Its store has a journal of it, held at the gate.
    assert_eq!(store.snapshot().inputs[0].streamed, 2);
    run.cancel();

    let opaque = registration_of::<Unjournaled>().unwrap();
    let err = opaque.start_json(json!(3), durable()).unwrap_err();
    assert!(matches!(err, StartError::NotDurable { workflow: "Unjournaled" }), "{err}");
    assert!(err.to_string().contains("Serialize"), "{err}");
    // Not durable, it runs.
    let run = opaque.start_json(json!(3), RunOptions::new()).unwrap();
    assert_eq!(run.finish().await.unwrap(), json!(3));
}
