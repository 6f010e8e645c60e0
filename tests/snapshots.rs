//! Snapshots: a run written down and resumed, here or in another process,
//! and every way a snapshot can be bad.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use workflow_core::prelude::*;
use workflow_core::snapshot::{Snapshot, SnapshotError};

// ------------------------------------------------------------ a human in the loop, across processes

#[derive(Default, Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Ledger {
    asked: u32,
}

#[derive(Default)]
struct Refund;

#[workflow]
impl Refund {
    #[step]
    async fn ask(
        &self,
        ctx: &Context<Ledger>,
        ev: StartEvent<u32>,
    ) -> Result<InputRequired<u32>, ContextError> {
        ctx.update(|l| l.asked += 1);
        ctx.set("amount", ev.input)?;
        Ok(InputRequired::new(ev.input))
    }

    #[step]
    async fn decide(
        &self,
        ctx: &Context<Ledger>,
        ev: HumanResponse<bool>,
    ) -> Result<StopEvent<String>, ContextError> {
        let amount: u32 = ctx.get("amount")?;
        let asked = ctx.read(|l| l.asked);
        Ok(StopEvent::new(format!(
            "{} {amount} (asked {asked} time)",
            if ev.response { "refunded" } else { "kept" }
        )))
    }
}

/// The second half, run in a child process: resume the snapshot, answer, print.
#[tokio::test]
async fn resume_child() {
    let Some(path) = std::env::var_os("WORKFLOW_SNAPSHOT_CHILD") else { return };
    let snapshot = Snapshot::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut handler = Refund.resume(snapshot, RunOptions::new()).unwrap();
    handler.send_event(HumanResponse::new(true)).unwrap();
    let mut events = Vec::new();
    while let Some(event) = handler.events().next().await {
        events.push(format!("{event:?}"));
    }
    println!("RESULT {}", handler.await.unwrap());
    println!("EVENTS {}", events.join(" | "));
}

#[tokio::test]
async fn a_run_waiting_for_a_human_resumes_in_another_process() {
    let mut handler = Refund.start(120);
    match handler.events().next().await {
        Some(RunEvent::Event(RefundEvent::InputRequired(request))) => assert_eq!(request.request, 120),
        other => panic!("{other:?}"),
    }
    let snapshot = handler.snapshot().await.unwrap();
    drop(handler);
    assert_eq!(snapshot.pending_requests, 1);
    assert!(snapshot.inputs.is_empty(), "nothing queued or in flight: the run only waits");
    assert_eq!(snapshot.state, serde_json::json!({ "asked": 1 }));

    let path = std::env::temp_dir().join(format!("workflow-snapshot-{}.json", std::process::id()));
    std::fs::write(&path, snapshot.to_json()).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "resume_child", "--nocapture", "--test-threads=1"])
        .env("WORKFLOW_SNAPSHOT_CHILD", &path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("RESULT refunded 120 (asked 1 time)"), "{stdout}");
    // The resumed stream holds what happened after the resume: no second request.
    let events = stdout.lines().find(|l| l.starts_with("EVENTS ")).unwrap();
    assert_eq!(events, "EVENTS Finished(Stopped)", "{stdout}");
}

// ------------------------------------------------------------ a step waiting in place runs again

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Ticket(u32);

struct Approver {
    prefix_runs: Arc<AtomicUsize>,
}

#[workflow(external = [HumanResponse<u32>])]
impl Approver {
    #[step]
    async fn open(&self, ev: StartEvent<u32>) -> Ticket {
        Ticket(ev.input)
    }

    #[step(waits = [HumanResponse<u32>])]
    async fn review(&self, ctx: &Context<()>, ev: Ticket) -> Result<StopEvent<u32>, WaitError> {
        self.prefix_runs.fetch_add(1, Ordering::SeqCst);
        let answer = ctx.wait_for_event::<HumanResponse<u32>>().matching(move |r| r.response >= ev.0).await?;
        Ok(StopEvent::new(answer.response))
    }
}

#[tokio::test]
async fn a_step_in_flight_runs_again_from_the_top_on_resume() {
    let prefix_runs = Arc::new(AtomicUsize::new(0));
    let handler = Approver { prefix_runs: Arc::clone(&prefix_runs) }.start(5);
    while prefix_runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let snapshot = handler.snapshot().await.unwrap();
    drop(handler);
    assert_eq!(snapshot.inputs.len(), 1);
    assert_eq!(snapshot.inputs[0].step, "review");
    assert_eq!(snapshot.inputs[0].events[0].data, serde_json::json!(5));

    let resumed =
        Approver { prefix_runs: Arc::clone(&prefix_runs) }.resume(snapshot, RunOptions::new()).unwrap();
    resumed.send_event(HumanResponse::new(3u32)).unwrap(); // does not match: kept
    resumed.send_event(HumanResponse::new(9u32)).unwrap();
    assert_eq!(resumed.await.unwrap(), 9);
    assert_eq!(prefix_runs.load(Ordering::SeqCst), 2, "at least once: the step in flight ran again");
}

// ------------------------------------------------------------ a generic workflow

trait Pricer: Send + Sync + 'static {
    fn price(&self, ticket: u32) -> u32;
}

struct Double;
impl Pricer for Double {
    fn price(&self, ticket: u32) -> u32 {
        ticket * 2
    }
}

struct Priced<P: Pricer> {
    pricer: P,
}

#[workflow]
impl<P: Pricer> Priced<P> {
    #[step]
    async fn open(&self, ev: StartEvent<u32>) -> Ticket {
        Ticket(self.pricer.price(ev.input))
    }

    #[step(waits = [HumanResponse<u32>])]
    async fn review(&self, ctx: &Context<()>, ev: Ticket) -> Result<StopEvent<u32>, WaitError> {
        let answer = ctx.wait_for_event::<HumanResponse<u32>>().await?;
        Ok(StopEvent::new(ev.0 + answer.response))
    }
}

#[tokio::test]
async fn an_instantiation_of_a_generic_workflow_snapshots_and_resumes() {
    let handler = Priced { pricer: Double }.start(5);
    let snapshot = loop {
        let snapshot = handler.snapshot().await.unwrap();
        if snapshot.inputs.iter().any(|i| i.step == "review") {
            break snapshot;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    drop(handler);
    let text = snapshot.to_json();
    let resumed =
        Priced { pricer: Double }.resume(Snapshot::from_json(&text).unwrap(), RunOptions::new()).unwrap();
    resumed.send_event(HumanResponse::new(1u32)).unwrap();
    assert_eq!(resumed.await.unwrap(), 11);
}

// ------------------------------------------------------------ a fan-out half done

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Job(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Done(u32);

struct Slow {
    pause: Duration,
}

#[workflow]
impl Slow {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Job> {
        (1..=ev.input).map(Job).collect()
    }

    #[step(num_workers = 2)]
    async fn work(&self, ev: Job) -> Done {
        tokio::time::sleep(self.pause * ev.0).await;
        Done(ev.0 * 10)
    }

    #[step]
    async fn gather(&self, ev: Collected<Done>) -> StopEvent<Vec<u32>> {
        let mut all: Vec<u32> = ev.into_iter().map(|d| d.0).collect();
        all.sort_unstable();
        StopEvent::new(all)
    }
}

#[tokio::test(start_paused = true)]
async fn a_half_done_fan_out_resumes_without_losing_or_repeating_results() {
    let handler = Slow { pause: Duration::from_millis(10) }.start(6);
    tokio::time::sleep(Duration::from_millis(35)).await; // jobs 1..3 done, 4 and 5 in flight, 6 queued
    let snapshot = handler.snapshot().await.unwrap();
    drop(handler);
    assert_eq!(snapshot.batches.len(), 1);
    assert!(!snapshot.batches[0].collected.is_empty(), "some results were gathered: {snapshot:?}");
    assert!(!snapshot.inputs.is_empty());
    let resumed = Slow { pause: Duration::from_millis(10) }.resume(snapshot, RunOptions::new()).unwrap();
    assert_eq!(resumed.await.unwrap(), vec![10, 20, 30, 40, 50, 60]);
}

/// Like `Slow`, but no job yields a result.
struct Fruitless;

#[workflow]
impl Fruitless {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Job> {
        (1..=ev.input).map(Job).collect()
    }

    #[step(num_workers = 1)]
    async fn work(&self, ev: Job) -> Option<Done> {
        tokio::time::sleep(Duration::from_millis(10 * u64::from(ev.0))).await;
        None
    }

    #[step]
    async fn gather(&self, ev: Collected<Done>) -> StopEvent<usize> {
        StopEvent::new(ev.len())
    }
}

#[tokio::test(start_paused = true)]
async fn a_resumed_fan_out_that_found_nothing_still_reaches_its_fan_in() {
    let handler = Fruitless.start(3);
    tokio::time::sleep(Duration::from_millis(15)).await; // job 1 done with nothing, job 2 in flight
    let snapshot = handler.snapshot().await.unwrap();
    drop(handler);
    assert_eq!(snapshot.batches.len(), 1, "{snapshot:?}");
    assert_eq!(snapshot.batches[0].origin.as_deref(), Some("split"));
    assert!(snapshot.batches[0].collected.is_empty());
    let resumed = Fruitless.resume(snapshot, RunOptions::new()).unwrap();
    assert_eq!(resumed.await.unwrap(), 0);
}

// ------------------------------------------------------------ cancelled, then resumed

#[tokio::test]
async fn a_cancelled_run_can_be_written_down_and_resumed() {
    let mut handler = Refund.start(7);
    let _asked = handler.events().next().await;
    handler.cancel();
    // Asked while the cancel is on its way: answered with what it leaves.
    let early = handler.snapshot().await.expect("asked while the cancel is under way");
    let mut last = None;
    while let Some(event) = handler.events().next().await {
        last = Some(event);
    }
    assert!(matches!(last, Some(RunEvent::Finished(RunOutcome::Cancelled))), "{last:?}");
    // After the end: the run as it was when it was cancelled.
    let snapshot = handler.snapshot().await.expect("a cancelled run leaves a snapshot");
    assert_eq!(snapshot.pending_requests, 1, "{snapshot:?}");
    assert_eq!(snapshot.state, serde_json::json!({ "asked": 1 }));
    assert_eq!(early, snapshot);
    assert!(matches!(handler.await, Err(WorkflowError::Cancelled { .. })));
    let resumed = Refund.resume(snapshot, RunOptions::new()).unwrap();
    resumed.send_event(HumanResponse::new(true)).unwrap();
    assert_eq!(resumed.await.unwrap(), "refunded 7 (asked 1 time)");
}

#[tokio::test]
async fn a_snapshot_of_a_run_that_ended_otherwise_is_an_error() {
    let handler = Refund.start(7);
    handler.send_event(HumanResponse::new(false)).unwrap();
    let mut handler = handler;
    while handler.events().next().await.is_some() {}
    let err = handler.snapshot().await.unwrap_err();
    assert!(matches!(err, SnapshotError::RunEnded), "{err:?}");
}

// ------------------------------------------------------------ recoveries

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Try(u32);

#[derive(Debug, thiserror::Error)]
#[error("still down")]
struct Down;

/// `call` always fails; `retry_later` recovers twice at most, asking the
/// caller before each new try.
struct Persistent;

#[workflow]
impl Persistent {
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> Try {
        Try(0)
    }

    #[step]
    async fn call(&self, _ev: Try) -> Result<StopEvent<u32>, Down> {
        Err(Down)
    }

    #[step(max_recoveries = 2)]
    async fn retry_later(&self, ev: StepFailed) -> InputRequired<u32> {
        InputRequired::new(ev.attempts)
    }

    #[step]
    async fn answered(&self, ev: HumanResponse<bool>) -> Try {
        Try(u32::from(ev.response))
    }
}

#[tokio::test]
async fn a_resumed_run_keeps_the_recoveries_it_made() {
    let mut handler = Persistent.start(());
    let _asked = handler.events().next().await; // after the first recovery
    let snapshot = handler.snapshot().await.unwrap();
    drop(handler);
    let recoveries: Vec<_> =
        snapshot.recoveries.iter().map(|r| (r.step.as_str(), r.recovered, r.attempts)).collect();
    assert_eq!(recoveries, [("call", 0, 1), ("retry_later", 1, 0)], "{snapshot:?}");
    let text = snapshot.to_json();
    let mut resumed = Persistent.resume(Snapshot::from_json(&text).unwrap(), RunOptions::new()).unwrap();
    resumed.send_event(HumanResponse::new(true)).unwrap();
    let _asked_again = resumed.events().next().await; // the second and last recovery
    resumed.send_event(HumanResponse::new(true)).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), resumed).await;
    let err = ended.expect("the run ends: its recoveries are used up").unwrap_err();
    // Without the snapshot's recoveries, the resumed run would have had two
    // more, and `call` would have started again from its first attempt.
    let WorkflowError::StepFailed { step: "call", attempts: 3, .. } = &err else { panic!("{err:?}") };
}

// ------------------------------------------------------------ bad snapshots

async fn waiting_refund_snapshot() -> Snapshot {
    let mut handler = Refund.start(7);
    let _ = handler.events().next().await;
    handler.snapshot().await.unwrap()
}

fn resume_error(snapshot: Snapshot) -> SnapshotError {
    Refund.resume(snapshot, RunOptions::new()).map(|_| ()).unwrap_err()
}

#[tokio::test]
async fn truncated_or_mistyped_snapshots_say_where() {
    let text = waiting_refund_snapshot().await.to_json();
    let err = Snapshot::from_json(&text[..text.len() / 2]).unwrap_err();
    assert!(matches!(err, SnapshotError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("EOF while parsing"), "{err}");

    let err = Snapshot::from_json(&text.replace("\"pending_requests\": 1", "\"pending_requests\": \"one\""))
        .unwrap_err();
    assert!(matches!(&err, SnapshotError::Malformed { path, .. } if path == "pending_requests"), "{err:?}");
}

#[tokio::test]
async fn wrong_version_workflow_steps_events_and_state_are_each_reported() {
    let good = waiting_refund_snapshot().await;

    let err = resume_error(Snapshot { format: 99, ..good.clone() });
    assert!(matches!(err, SnapshotError::Version { found: 99, supported: 1 }), "{err:?}");

    let err = resume_error(Snapshot { workflow: "Other".into(), ..good.clone() });
    assert_eq!(err.to_string(), "the snapshot is of workflow `Other`, not `Refund`");

    let mut steps = good.steps.clone();
    steps.push("audit".into());
    let err = resume_error(Snapshot { steps, ..good.clone() });
    assert!(matches!(err, SnapshotError::Changed { what: "steps", .. }), "{err:?}");

    let mut unclaimed = good.clone();
    unclaimed
        .unclaimed
        .push(workflow_core::snapshot::EventData { event: "Refunded".into(), data: serde_json::json!(1) });
    let err = resume_error(unclaimed);
    assert_eq!(err.to_string(), "`Refunded` at `unclaimed[0]` is not a event of workflow `Refund`");

    let mut bad_event = good.clone();
    bad_event.unclaimed.push(workflow_core::snapshot::EventData {
        event: "HumanResponse<bool>".into(),
        data: serde_json::json!({ "response": 3 }),
    });
    let err = resume_error(bad_event);
    assert!(matches!(&err, SnapshotError::BadData { at, .. } if at == "unclaimed[0].data"), "{err:?}");

    let err = resume_error(Snapshot { state: serde_json::json!({ "asked": "twice" }), ..good.clone() });
    assert!(matches!(&err, SnapshotError::BadData { at, .. } if at == "state.asked"), "{err:?}");

    let mut unknown_step = good;
    unknown_step.inputs.push(workflow_core::snapshot::PendingInput {
        step: "audit".into(),
        attempt: 1,
        batch: None,
        collected: false,
        events: vec![],
        id: 0,
        streamed: 0,
    });
    let err = resume_error(unknown_step);
    assert!(
        matches!(&err, SnapshotError::Unknown { what: "step", at, .. } if at == "inputs[0].step"),
        "{err:?}"
    );
}

// ------------------------------------------------------------ values that cannot be written

#[derive(Default)]
struct Keyed {
    by_pair: HashMap<(u8, u8), u8>,
}

impl Serialize for Keyed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Keyed", 1)?;
        s.serialize_field("by_pair", &self.by_pair)?;
        s.end()
    }
}

struct Pairs;

#[workflow(external = [HumanResponse<u8>])]
impl Pairs {
    #[step]
    async fn fill(&self, ctx: &Context<Keyed>, _ev: StartEvent<()>) -> InputRequired<u8> {
        ctx.update(|k| k.by_pair.insert((1, 2), 3));
        InputRequired::new(0)
    }

    #[step]
    async fn done(&self, _ev: HumanResponse<u8>) -> StopEvent<()> {
        StopEvent::new(())
    }
}

#[tokio::test]
async fn state_that_json_cannot_carry_fails_when_the_snapshot_is_taken() {
    let mut handler = Pairs.start(());
    let _ = handler.events().next().await;
    let err = handler.snapshot().await.unwrap_err();
    assert!(matches!(&err, SnapshotError::Unserializable { path, .. } if path == "by_pair"), "{err:?}");
    assert!(err.to_string().contains("key must be a string"), "{err}");
}

// ------------------------------------------------------------ the loader never panics

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

    /// Random edits of a valid snapshot are read and resumed without a
    /// panic: each gives a run or a `SnapshotError`.
    #[test]
    fn mutated_snapshots_never_panic(cut in 0usize..4000, byte in 0u8..128, at in 0usize..4000) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let text = FIXTURE.get_or_init(|| runtime.block_on(waiting_refund_snapshot()).to_json());
        runtime.block_on(async {
            let mut bytes = text.clone().into_bytes();
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = byte;
                bytes.truncate(cut.max(at + 1).min(bytes.len()));
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(snapshot) = Snapshot::from_json(&text) {
                if let Ok(handler) = Refund.resume(snapshot, RunOptions::new()) {
                    handler.cancel();
                    let _ = handler.await;
                }
            }
        });
    }
}

static FIXTURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

// ------------------------------------------------------------ collect_events buffers

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Part(u32);

struct Pair;

#[workflow(external = [Part])]
impl Pair {
    /// Asks for two parts.
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> Vec<InputRequired<u8>> {
        vec![InputRequired::new(1), InputRequired::new(2)]
    }

    #[step(num_workers = 1)]
    async fn join(&self, ctx: &Context<()>, ev: Part) -> Option<StopEvent<u32>> {
        let (a, b) = ctx.collect_events::<(Part, Part), _>(ev)?;
        Some(StopEvent::new(a.0 * 10 + b.0))
    }
}

async fn half_collected() -> Snapshot {
    let handler = Pair.start(());
    handler.send_event(Part(4)).unwrap();
    let snapshot = handler.snapshot().await.unwrap();
    assert_eq!(snapshot.collected.len(), 1, "the first part waits in join's buffer: {snapshot:?}");
    snapshot
}

#[tokio::test]
async fn a_half_filled_collect_buffer_survives_a_resume() {
    let snapshot = half_collected().await;
    let resumed = Pair.resume(snapshot, RunOptions::new()).unwrap();
    resumed.send_event(Part(2)).unwrap();
    assert_eq!(resumed.await.unwrap(), 42);
}

#[tokio::test]
async fn a_bad_collect_buffer_is_reported_not_dropped() {
    let mut snapshot = half_collected().await;
    snapshot.collected[0].events[0].data = serde_json::json!("four");
    let err = Pair.resume(snapshot, RunOptions::new()).map(|_| ()).unwrap_err();
    assert!(
        matches!(&err, SnapshotError::BadData { at, .. } if at == "collected[0].events[0].data"),
        "{err:?}"
    );
}
