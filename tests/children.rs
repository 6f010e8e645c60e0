//! Child workflows: a step runs another workflow with `ctx.run_child`, gets
//! its typed output or its error, and the child is part of the parent's
//! cancellation, stream and snapshots.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use workflow_core::child::{ChildError, ChildOptions};
use workflow_core::prelude::*;

/// Bounds every run: a hang fails the test instead of stalling the suite.
async fn bounded<T>(run: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("the run ends")
}

/// What the steps did, in order, shared by parent and children.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| *l == line).count()
    }

    async fn until(&self, line: &str) {
        while self.count(line) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Sets its flag when dropped: a step future that was cancelled.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// ------------------------------------------------------------------ the child

#[event]
struct Found {
    topic: String,
    hits: u32,
}

#[event]
struct Progress(String);

/// Looks a topic up in two steps. `rank` waits for the gate if there is
/// one, so that a test can catch the child mid-way.
#[derive(Clone, Default)]
struct Search {
    log: Log,
    gate: Option<Arc<Notify>>,
    dropped: Arc<AtomicBool>,
}

#[workflow]
impl Search {
    #[step]
    async fn look(&self, ev: StartEvent<String>) -> Result<Found, BoxError> {
        self.log.push(format!("look {}", ev.input));
        if ev.input == "fail" {
            return Err("no index for `fail`".into());
        }
        Ok(Found { hits: ev.input.len() as u32, topic: ev.input })
    }

    #[step(streams = [Progress])]
    async fn rank(&self, ctx: &Context<()>, ev: Found) -> StopEvent<String> {
        self.log.push(format!("rank {}", ev.topic));
        ctx.write_event_to_stream(Progress(format!("ranking {}", ev.topic)));
        if let Some(gate) = &self.gate {
            let _guard = Dropped(Arc::clone(&self.dropped));
            gate.notified().await;
        }
        StopEvent::new(format!("{}: {} hits", ev.topic, ev.hits))
    }
}

// ----------------------------------------------------------------- the parent

#[event]
struct Question(String);

#[event]
struct Answer(String);

/// Splits its topics into questions, runs a `Search` child per question
/// (four at once), and merges the answers.
#[derive(Clone, Default)]
struct Research {
    search: Search,
    stream_children: bool,
}

#[workflow]
impl Research {
    #[step]
    async fn split(&self, ev: StartEvent<Vec<String>>) -> Vec<Question> {
        ev.input.into_iter().map(Question).collect()
    }

    #[step(children = [Search], num_workers = 4)]
    async fn ask(&self, ctx: &Context<()>, ev: Question) -> Result<Answer, BoxError> {
        self.search.log.push(format!("ask {}", ev.0));
        let options = ChildOptions::new().stream_events(self.stream_children);
        let text = ctx.run_child_with(self.search.clone(), ev.0, options).await?;
        Ok(Answer(text))
    }

    #[step]
    async fn merge(&self, ev: Collected<Answer>) -> StopEvent<Vec<String>> {
        let mut answers: Vec<String> = ev.into_iter().map(|a| a.0).collect();
        answers.sort();
        StopEvent::new(answers)
    }
}

fn topics(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

#[tokio::test]
async fn children_run_in_parallel_and_give_their_typed_output() {
    let research = Research::default();
    let log = research.search.log.clone();
    let answers = bounded(research.run(topics(&["rust", "go", "zig"]))).await.unwrap();
    assert_eq!(answers, ["go: 2 hits", "rust: 4 hits", "zig: 3 hits"]);
    for topic in ["rust", "go", "zig"] {
        assert_eq!(log.count(&format!("look {topic}")), 1);
        assert_eq!(log.count(&format!("rank {topic}")), 1);
    }
}

#[tokio::test]
async fn a_childs_error_is_the_steps_error() {
    let error = bounded(Research::default().run(topics(&["fail"]))).await.unwrap_err();
    assert_eq!(error.step(), Some("ask"));
    let WorkflowError::StepFailed { source, .. } = &error else { panic!("a step failure: {error:?}") };
    let child = source.downcast_ref::<ChildError>().expect("the child's error");
    let ChildError::Failed { workflow: "Search", source: inner } = child else { panic!("{child:?}") };
    assert_eq!(inner.step(), Some("look"), "the child says which of its steps failed");
    assert!(error.to_string().contains("child workflow `Search` failed"), "{error}");
    assert!(error.to_string().contains("no index for `fail`"), "{error}");
}

#[tokio::test]
async fn cancelling_or_timing_out_the_parent_cancels_its_children() {
    let gated = || Research {
        search: Search { gate: Some(Arc::new(Notify::new())), ..Search::default() },
        ..Research::default()
    };

    let research = gated();
    let (log, dropped) = (research.search.log.clone(), Arc::clone(&research.search.dropped));
    let handler = research.start(topics(&["rust"]));
    bounded(log.until("rank rust")).await;
    handler.cancel();
    let error = bounded(handler).await.unwrap_err();
    assert_eq!(error.kind(), "Cancelled");
    assert!(dropped.load(Ordering::SeqCst), "the child's waiting step was dropped with the parent");

    let research = gated();
    let dropped = Arc::clone(&research.search.dropped);
    let options = RunOptions::new().timeout(Duration::from_millis(50));
    let error = bounded(research.run_with(topics(&["go"]), options)).await.unwrap_err();
    assert_eq!(error.kind(), "Timeout");
    assert!(dropped.load(Ordering::SeqCst), "the child's waiting step was dropped at the timeout");
}

#[tokio::test]
async fn a_child_has_a_timeout_of_its_own() {
    let search = Search { gate: Some(Arc::new(Notify::new())), ..Search::default() };
    let dropped = Arc::clone(&search.dropped);
    let error = bounded(Impatient { search }.run("slow".into())).await.unwrap_err();
    let WorkflowError::StepFailed { source, .. } = &error else { panic!("{error:?}") };
    match source.downcast_ref::<ChildError>() {
        Some(ChildError::Failed { source: WorkflowError::Timeout { .. }, .. }) => {}
        other => panic!("the child timed out: {other:?}"),
    }
    assert!(dropped.load(Ordering::SeqCst));
}

struct Impatient {
    search: Search,
}

#[workflow]
impl Impatient {
    #[step(children = [Search])]
    async fn only(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Result<StopEvent<String>, BoxError> {
        let options = ChildOptions::new().timeout(Duration::from_millis(20));
        Ok(StopEvent::new(ctx.run_child_with(self.search.clone(), ev.input, options).await?))
    }
}

// ------------------------------------------------- a failing child's tasks

#[event]
struct Leg(u8);

#[event]
struct LegDone(u8);

/// Two legs at once: the first fails at once, the second would wait for
/// ten seconds.
#[derive(Clone, Default)]
struct Pair {
    dropped: Arc<AtomicBool>,
}

#[workflow]
impl Pair {
    #[step]
    async fn fork(&self, ev: StartEvent<()>) -> Vec<Leg> {
        let _ = ev;
        vec![Leg(1), Leg(2)]
    }

    #[step(num_workers = 2)]
    async fn leg(&self, ev: Leg) -> Result<LegDone, BoxError> {
        if ev.0 == 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return Err("leg 1 broke".into());
        }
        let _guard = Dropped(Arc::clone(&self.dropped));
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok(LegDone(ev.0))
    }

    #[step]
    async fn join(&self, ev: Collected<LegDone>) -> StopEvent<usize> {
        StopEvent::new(ev.len())
    }
}

struct Boss {
    pair: Pair,
}

#[workflow]
impl Boss {
    #[step(children = [Pair])]
    async fn only(&self, ctx: &Context<()>, ev: StartEvent<()>) -> Result<StopEvent<usize>, BoxError> {
        let _ = ev;
        let legs = ctx.run_child(self.pair.clone(), ()).await?;
        Ok(StopEvent::new(legs))
    }
}

#[tokio::test]
async fn a_failing_child_leaves_no_task_behind() {
    let pair = Pair::default();
    let dropped = Arc::clone(&pair.dropped);
    let error = bounded(Boss { pair }.run(())).await.unwrap_err();
    assert!(error.to_string().contains("leg 1 broke"), "{error}");
    assert!(dropped.load(Ordering::SeqCst), "the child's other leg was stopped when it failed");
}

// ---------------------------------------------------------------- streaming

#[tokio::test]
async fn the_parents_stream_carries_its_childrens_items_when_asked() {
    let research = Research { stream_children: true, ..Research::default() };
    let mut handler = research.start(topics(&["rust"]));
    let parent_run = handler.run_id();
    let mut children = Vec::new();
    while let Some(item) = bounded(handler.events().next()).await {
        if let RunEvent::Child(child) = item {
            children.push(*child);
        }
    }
    bounded(handler).await.unwrap();
    let progress: Vec<_> = children.iter().filter(|c| matches!(c.event, RunEvent::Event(_))).collect();
    assert_eq!(progress.len(), 1, "{children:?}");
    let child = progress[0];
    assert_eq!((child.workflow, child.step), ("Search", "ask"));
    assert_ne!(child.run_id, parent_run, "the child's own run id");
    let RunEvent::Event(json) = &child.event else { unreachable!() };
    assert_eq!(json["data"], "ranking rust", "{json}");
    assert!(
        children.iter().any(|c| matches!(c.event, RunEvent::Finished(RunOutcome::Stopped))),
        "the child's end is passed on too"
    );

    let mut handler = Research::default().start(topics(&["go"]));
    while let Some(item) = bounded(handler.events().next()).await {
        assert!(!matches!(item, RunEvent::Child(_)), "not asked for: {item:?}");
    }
}

// ---------------------------------------------------------------- snapshots

#[tokio::test]
async fn a_resumed_parent_takes_its_child_up_where_it_was() {
    let gate = Arc::new(Notify::new());
    let research = Research {
        search: Search { gate: Some(Arc::clone(&gate)), ..Search::default() },
        ..Research::default()
    };
    let log = research.search.log.clone();
    let handler = research.clone().start(topics(&["rust"]));
    bounded(log.until("rank rust")).await;
    let snapshot = bounded(handler.snapshot()).await.unwrap();
    assert_eq!(snapshot.children.len(), 1, "the child of the step in flight is written down");
    assert_eq!(snapshot.children[0].workflow, "Search");
    drop(handler);

    let json = snapshot.to_json();
    let snapshot = workflow_core::snapshot::Snapshot::from_json(&json).unwrap();
    let resumed = research.resume(snapshot, RunOptions::new()).unwrap();
    bounded(async {
        while log.count("rank rust") < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    gate.notify_one();
    assert_eq!(bounded(resumed).await.unwrap(), ["rust: 4 hits"]);
    assert_eq!(log.count("ask rust"), 2, "the parent's step in flight ran again");
    assert_eq!(log.count("look rust"), 1, "the child's finished step did not");
    assert_eq!(log.count("rank rust"), 2, "the child's step in flight did");
}

/// Runs two children one after the other in one step.
#[derive(Clone)]
struct TwoInARow {
    first: Search,
    second: Search,
}

#[workflow]
impl TwoInARow {
    #[step(children = [Search])]
    async fn both(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Result<StopEvent<String>, BoxError> {
        let a = ctx.run_child(self.first.clone(), format!("{}-1", ev.input)).await?;
        let b = ctx.run_child(self.second.clone(), format!("{}-2", ev.input)).await?;
        Ok(StopEvent::new(format!("{a} / {b}")))
    }
}

#[tokio::test]
async fn a_finished_child_gives_its_output_again_to_the_resumed_step() {
    let log = Log::default();
    let gate = Arc::new(Notify::new());
    let flow = TwoInARow {
        first: Search { log: log.clone(), ..Search::default() },
        second: Search { log: log.clone(), gate: Some(Arc::clone(&gate)), ..Search::default() },
    };
    let handler = flow.clone().start("x".into());
    bounded(log.until("rank x-2")).await;
    let snapshot = bounded(handler.snapshot()).await.unwrap();
    assert_eq!(snapshot.children.len(), 2, "the finished child and the running one");
    drop(handler);

    let resumed = flow.resume(snapshot, RunOptions::new()).unwrap();
    bounded(async {
        while log.count("rank x-2") < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    gate.notify_one();
    assert_eq!(bounded(resumed).await.unwrap(), "x-1: 3 hits / x-2: 3 hits");
    assert_eq!((log.count("look x-1"), log.count("rank x-1")), (1, 1), "the finished child ran once");
    assert_eq!(log.count("look x-2"), 1, "the second child's finished step ran once");
}

#[tokio::test]
async fn a_child_that_failed_or_left_an_unreadable_result_before_the_resume_says_so() {
    let gate = Arc::new(Notify::new());
    let research =
        Research { search: Search { gate: Some(gate), ..Search::default() }, ..Research::default() };
    let handler = research.clone().start(topics(&["rust"]));
    bounded(research.search.log.until("rank rust")).await;
    let snapshot = bounded(handler.snapshot()).await.unwrap();
    drop(handler);
    let with_child = |run: serde_json::Value| {
        let mut json: serde_json::Value = serde_json::from_str(&snapshot.to_json()).unwrap();
        json["children"][0]["run"] = run;
        workflow_core::snapshot::Snapshot::from_json(&json.to_string()).unwrap()
    };

    let failed = with_child(serde_json::json!({ "failed": "the index was gone" }));
    let error = bounded(research.clone().resume(failed, RunOptions::new()).unwrap()).await.unwrap_err();
    let WorkflowError::StepFailed { source, .. } = &error else { panic!("{error:?}") };
    match source.downcast_ref::<ChildError>() {
        Some(ChildError::FailedBefore { workflow: "Search", message }) => {
            assert_eq!(message, "the index was gone")
        }
        other => panic!("{other:?}"),
    }

    let unreadable = with_child(serde_json::json!({ "stopped": 42 }));
    let error = bounded(research.resume(unreadable, RunOptions::new()).unwrap()).await.unwrap_err();
    let WorkflowError::StepFailed { source, .. } = &error else { panic!("{error:?}") };
    match source.downcast_ref::<ChildError>() {
        Some(ChildError::Journal { workflow: "Search", reason }) => {
            assert!(reason.contains("its result"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
