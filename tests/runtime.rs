//! Runtime semantics: routing, branching, loops, fan-out, state, worker
//! limits, stop, and every error path a run can end with.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use workflow_core::prelude::*;

// ---------------------------------------------------------------- chain

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Doubled(u64);

struct Chain;

#[workflow]
impl Chain {
    #[step]
    async fn double(&self, ev: StartEvent<u64>) -> Doubled {
        Doubled(ev.input * 2)
    }

    #[step]
    async fn finish(&self, ev: Doubled) -> StopEvent<u64> {
        StopEvent::new(ev.0 + 1)
    }
}

#[tokio::test]
async fn a_chain_runs_from_typed_input_to_typed_output() {
    assert_eq!(Chain.run(20).await.unwrap(), 41);
}

#[tokio::test]
async fn one_shared_instance_serves_many_concurrent_runs() {
    let flow = Arc::new(Chain);
    let runs: Vec<_> = (0..50u64).map(|i| Arc::clone(&flow).start(i)).collect();
    for (i, run) in runs.into_iter().enumerate() {
        assert_eq!(run.await.unwrap(), i as u64 * 2 + 1);
    }
}

// ---------------------------------------------------------------- branch

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Simple(String);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Complex(String);

struct Router;

#[workflow]
impl Router {
    #[step]
    async fn route(&self, ev: StartEvent<String>) -> Emit<(Simple, Complex)> {
        if ev.input.split_whitespace().count() <= 3 {
            Emit::new(Simple(ev.input.clone()))
        } else {
            Emit::new(Complex(ev.input.clone()))
        }
    }

    #[step]
    async fn simple(&self, ev: Simple) -> StopEvent<String> {
        StopEvent::new(format!("simple: {}", ev.0))
    }

    #[step]
    async fn complex(&self, ev: Complex) -> StopEvent<String> {
        StopEvent::new(format!("complex: {}", ev.0))
    }
}

#[tokio::test]
async fn a_branch_takes_the_path_its_step_chose() {
    assert_eq!(Router.run("hi there".into()).await.unwrap(), "simple: hi there");
    assert_eq!(Router.run("a much longer question".into()).await.unwrap(), "complex: a much longer question");
}

// ---------------------------------------------------------------- self-loop and state

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Tick(u32);

struct Countdown;

#[workflow]
impl Countdown {
    #[step]
    async fn begin(&self, ev: StartEvent<u32>) -> Tick {
        Tick(ev.input)
    }

    /// A self-loop with a counter guard.
    #[step]
    async fn tick(&self, ctx: &Context<Vec<u32>>, ev: Tick) -> Emit<(Tick, StopEvent<Vec<u32>>)> {
        ctx.update(|seen| seen.push(ev.0));
        if ev.0 == 0 {
            Emit::new(StopEvent::new(ctx.state()))
        } else {
            Emit::new(Tick(ev.0 - 1))
        }
    }
}

#[tokio::test]
async fn a_self_loop_runs_until_its_guard_stops_it() {
    assert_eq!(Countdown.run(3).await.unwrap(), vec![3, 2, 1, 0]);
}

#[tokio::test]
async fn state_carries_over_sequential_runs_on_one_context() {
    let ctx = Context::<Vec<u32>>::new();
    Countdown.run_with(1, RunOptions::new().context(ctx.clone())).await.unwrap();
    let second = Countdown.run_with(1, RunOptions::new().context(ctx.clone())).await.unwrap();
    assert_eq!(second, vec![1, 0, 1, 0]);
    assert_eq!(ctx.state(), vec![1, 0, 1, 0]);
    assert!(!ctx.in_use());
}

// ---------------------------------------------------------------- fan-out, fan-in, broadcast, Option

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Job(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct JobDone(u32);

struct FanOut {
    audited: AtomicUsize,
}

#[workflow]
impl FanOut {
    #[step]
    async fn split(&self, ctx: &Context<()>, ev: StartEvent<u32>) -> Vec<Job> {
        ctx.set("expected", ev.input).unwrap();
        (1..=ev.input).map(Job).collect()
    }

    #[step(num_workers = 3)]
    async fn work(&self, ev: Job) -> JobDone {
        JobDone(ev.0 * 10)
    }

    /// A second consumer of `JobDone`: every event is broadcast to both.
    #[step]
    async fn audit(&self, ev: JobDone) -> Option<StopEvent<u32>> {
        let _ = ev;
        self.audited.fetch_add(1, Ordering::SeqCst);
        None
    }

    #[step(num_workers = 1)]
    async fn gather(&self, ctx: &Context<()>, ev: JobDone) -> Result<Option<StopEvent<u32>>, ContextError> {
        let sum = ctx.update_value("sum", 0u32, |s| *s += ev.0)?;
        let seen = ctx.update_value("seen", 0u32, |n| *n += 1)?;
        let expected: u32 = ctx.get("expected")?;
        Ok((seen == expected).then(|| StopEvent::new(sum)))
    }
}

#[tokio::test]
async fn fan_out_broadcast_and_fan_in_deliver_every_event() {
    let flow = Arc::new(FanOut { audited: AtomicUsize::new(0) });
    let sum = Arc::clone(&flow).run(20).await.unwrap();
    assert_eq!(sum, (1..=20).map(|i| i * 10).sum::<u32>());
    // `audit` saw the broadcast copies it had time to see before the stop;
    // it can never see more than were emitted.
    assert!(flow.audited.load(Ordering::SeqCst) <= 20);
}

// ---------------------------------------------------------------- worker limits

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Slot(u32);

#[derive(Default)]
struct Limited {
    running: AtomicUsize,
    peak: AtomicUsize,
}

#[workflow]
impl Limited {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Slot> {
        (0..ev.input).map(Slot).collect()
    }

    #[step(num_workers = 2)]
    async fn hold(&self, ctx: &Context<u32>, ev: Slot) -> Option<StopEvent<usize>> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let _ = ev;
        let done = ctx.update(|n| {
            *n += 1;
            *n
        });
        (done == 6).then(|| StopEvent::new(self.peak.load(Ordering::SeqCst)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn num_workers_bounds_concurrent_invocations_of_a_step() {
    let peak = Limited::default().run(6).await.unwrap();
    assert_eq!(peak, 2, "six slow events with num_workers = 2 run two at a time");
}

// ---------------------------------------------------------------- first stop cancels the rest

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Fast;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Slow;

struct Race {
    slow_finished: Arc<AtomicBool>,
    slow_dropped: Arc<AtomicBool>,
}

struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[workflow]
impl Race {
    #[step]
    async fn split(&self, ev: StartEvent<()>) -> Vec<Emit<(Fast, Slow)>> {
        let _ = ev;
        vec![Emit::new(Slow), Emit::new(Fast)]
    }

    #[step]
    async fn fast(&self, ev: Fast) -> StopEvent<String> {
        let _ = ev;
        StopEvent::new("fast".into())
    }

    #[step]
    async fn slow(&self, ev: Slow) -> StopEvent<String> {
        let _ = ev;
        let _guard = SetOnDrop(Arc::clone(&self.slow_dropped));
        tokio::time::sleep(Duration::from_secs(30)).await;
        self.slow_finished.store(true, Ordering::SeqCst);
        StopEvent::new("slow".into())
    }
}

fn race() -> (Race, Arc<AtomicBool>, Arc<AtomicBool>) {
    let finished = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let flow = Race { slow_finished: Arc::clone(&finished), slow_dropped: Arc::clone(&dropped) };
    (flow, finished, dropped)
}

async fn wait_for(flag: &AtomicBool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !flag.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("flag was never set");
}

#[tokio::test]
async fn the_first_stop_ends_the_run_and_cancels_steps_in_flight() {
    let (flow, finished, dropped) = race();
    assert_eq!(flow.run(()).await.unwrap(), "fast");
    wait_for(&dropped).await;
    assert!(!finished.load(Ordering::SeqCst), "the slow step must be dropped, not finished");
}

/// One step that never ends on its own, and says when it starts and when
/// its future is dropped.
struct Hang {
    started: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
}

#[workflow]
impl Hang {
    #[step]
    async fn hang(&self, _ev: StartEvent<()>) -> StopEvent<()> {
        let _guard = SetOnDrop(Arc::clone(&self.dropped));
        self.started.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await;
        StopEvent::new(())
    }
}

#[tokio::test]
async fn dropping_the_handler_cancels_the_run_and_its_steps() {
    let (started, dropped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let handler = Hang { started: Arc::clone(&started), dropped: Arc::clone(&dropped) }.start(());
    wait_for(&started).await;
    assert!(!dropped.load(Ordering::SeqCst));
    drop(handler);
    wait_for(&dropped).await; // times out, and fails, if the step goes on
}

// ---------------------------------------------------------------- step errors and panics

#[derive(Debug, thiserror::Error)]
#[error("the index is offline")]
struct IndexOffline;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Query(String);

struct Faulty;

#[workflow]
impl Faulty {
    #[step]
    async fn parse(&self, ev: StartEvent<String>) -> Query {
        Query(ev.input.clone())
    }

    #[step]
    async fn search(&self, ev: Query) -> Result<StopEvent<usize>, IndexOffline> {
        match ev.0.as_str() {
            "fail" => Err(IndexOffline),
            "panic" => panic!("search index corrupted"),
            other => Ok(StopEvent::new(other.len())),
        }
    }
}

#[tokio::test]
async fn a_step_error_ends_the_run_naming_the_step_and_keeping_the_source() {
    let err = Faulty.run("fail".into()).await.unwrap_err();
    let WorkflowError::StepFailed { workflow, step, attempts, source } = &err else {
        panic!("expected StepFailed, got {err:?}");
    };
    assert_eq!((*workflow, *step, *attempts), ("Faulty", "search", 1));
    assert!(source.downcast_ref::<IndexOffline>().is_some());
    assert_eq!(
        err.to_string(),
        "step `search` of workflow `Faulty` failed after 1 attempt(s): the index is offline"
    );
    assert_eq!(Faulty.run("ok".into()).await.unwrap(), 2, "a fallible step's Ok path emits its event");
}

#[tokio::test]
async fn a_panicking_step_fails_only_its_own_run() {
    let err = Faulty.run("panic".into()).await.unwrap_err();
    assert!(
        matches!(&err, WorkflowError::StepPanicked { step: "search", message, .. } if message == "search index corrupted"),
        "{err:?}"
    );
    assert_eq!(Faulty.run("still alive".into()).await.unwrap(), 11);
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct NeedsKey;

struct ReadsMissingKey;

#[workflow]
impl ReadsMissingKey {
    #[step]
    async fn begin(&self, ev: StartEvent<()>) -> NeedsKey {
        let _ = ev;
        NeedsKey
    }

    #[step]
    async fn read(&self, ctx: &Context<()>, ev: NeedsKey) -> Result<StopEvent<u32>, ContextError> {
        let _ = ev;
        Ok(StopEvent::new(ctx.get("budget")?))
    }
}

#[tokio::test]
async fn a_missing_context_key_fails_the_step_with_a_typed_error() {
    let err = ReadsMissingKey.run(()).await.unwrap_err();
    let WorkflowError::StepFailed { step: "read", source, .. } = &err else { panic!("{err:?}") };
    let source = source.downcast_ref::<ContextError>().expect("a ContextError");
    assert!(matches!(source, ContextError::MissingKey { key } if key == "budget"));
}

// ---------------------------------------------------------------- timeout, stall, busy context

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Wait;

struct Sleeper;

#[workflow]
impl Sleeper {
    #[step]
    async fn begin(&self, ev: StartEvent<u64>) -> Wait {
        let _ = ev;
        Wait
    }

    #[step]
    async fn sleep(&self, ctx: &Context<u64>, ev: Wait) -> StopEvent<()> {
        let _ = ev;
        let secs = ctx.read(|s| *s);
        tokio::time::sleep(Duration::from_secs(secs)).await;
        StopEvent::new(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_ends_the_run_naming_the_steps_still_active() {
    let options = RunOptions::new().timeout(Duration::from_secs(5)).context(Context::with_state(3600));
    let err = Sleeper.run_with(0, options).await.unwrap_err();
    assert!(
        matches!(&err, WorkflowError::Timeout { workflow: "Sleeper", after, active_steps }
            if *after == Duration::from_secs(5) && active_steps == &["sleep"]),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_context_cannot_serve_two_runs_at_once() {
    let ctx = Context::with_state(60);
    let first = Sleeper.start_with(0, RunOptions::new().context(ctx.clone()));
    assert!(ctx.in_use(), "the context is claimed when the run starts, not when its task first runs");
    let err = Sleeper.run_with(0, RunOptions::new().context(ctx.clone())).await.unwrap_err();
    assert!(matches!(err, WorkflowError::ContextBusy { workflow: "Sleeper" }), "{err:?}");
    first.await.unwrap();
    assert!(!ctx.in_use(), "the first run released the context");
    Sleeper.run_with(0, RunOptions::new().context(ctx)).await.unwrap();
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Maybe(bool);

struct Stalls;

#[workflow]
impl Stalls {
    #[step]
    async fn begin(&self, ev: StartEvent<bool>) -> Maybe {
        Maybe(ev.input)
    }

    #[step]
    async fn decide(&self, ev: Maybe) -> Option<StopEvent<()>> {
        ev.0.then(|| StopEvent::new(()))
    }
}

#[tokio::test]
async fn a_run_that_can_make_no_progress_stalls_at_once_instead_of_hanging() {
    assert!(Stalls.run(true).await.is_ok());
    let started = std::time::Instant::now();
    let err = Stalls.run(false).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(&err, WorkflowError::Stalled { workflow: "Stalls", last_events }
            if last_events == &["StartEvent<bool>", "Maybe"]),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- user-marked start and stop

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Order {
    items: u32,
}
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Priced(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Invoice {
    total: u32,
}

struct Billing;

#[workflow(start = Order, stop = Invoice)]
impl Billing {
    #[step]
    async fn price(&self, ev: Order) -> Priced {
        Priced(ev.items * 3)
    }

    #[step]
    async fn invoice(&self, ev: Priced) -> Invoice {
        Invoice { total: ev.0 }
    }
}

#[tokio::test]
async fn user_types_can_be_the_start_and_stop_events() {
    assert_eq!(Billing.run(Order { items: 4 }).await.unwrap(), Invoice { total: 12 });
}

// ---------------------------------------------------------------- a run whose driver is torn down

#[test]
fn a_run_whose_runtime_shuts_down_ends_with_aborted() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let handler = {
        let _entered = runtime.enter();
        Sleeper.start_with(0, RunOptions::new().context(Context::with_state(3600)))
    };
    runtime.shutdown_background();
    let err = futures::executor::block_on(handler).unwrap_err();
    assert!(matches!(err, WorkflowError::Aborted { workflow: "Sleeper", .. }), "{err:?}");
}
