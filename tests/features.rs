//! Concurrency, streaming, outside input, retries, failure recovery,
//! cancellation and tracing: the behaviours LlamaIndex's own workflow tests
//! check, written for this API. Each test fails if its behaviour breaks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use workflow_core::prelude::*;

async fn drain<W: workflow_core::Workflow>(
    handler: &mut workflow_core::Handler<W>,
) -> Vec<RunEvent<W::Event>> {
    let mut events = Vec::new();
    while let Some(event) = handler.events().next().await {
        events.push(event);
    }
    events
}

// ------------------------------------------------------------ collect_events

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Weather(String);
#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct News(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Noise;

struct Briefing;

#[workflow]
impl Briefing {
    /// Sends the parts out of order, with an unrelated event among them.
    #[step(sends = [Weather, News, Noise])]
    async fn fetch(&self, ctx: &Context<()>, _ev: StartEvent<()>) -> Result<Option<Noise>, SendError> {
        ctx.send_event(News(1));
        ctx.send_event(Noise);
        ctx.send_event(News(2));
        ctx.send_event(Weather("sunny".into()));
        Ok(None)
    }

    #[step(num_workers = 1)]
    async fn combine(
        &self,
        ctx: &Context<()>,
        ev: OneOf<(Weather, News, Noise)>,
    ) -> Option<StopEvent<(String, u32, u32)>> {
        let (weather, first, second) = ctx.collect_events::<(Weather, News, News), _>(ev)?;
        Some(StopEvent::new((weather.0, first.0, second.0)))
    }
}

#[tokio::test]
async fn collect_events_returns_the_expected_multiset_in_its_order_ignoring_strays() {
    assert_eq!(Briefing.run(()).await.unwrap(), ("sunny".into(), 1, 2));
}

// ------------------------------------------------------------ typed fan-out and fan-in

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Source(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Found(u32);

struct Search;

#[workflow]
impl Search {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Source> {
        (1..=ev.input).map(Source).collect()
    }

    /// Source 2 finds nothing: the fan-in must not wait for it.
    #[step(num_workers = 3)]
    async fn search(&self, ev: Source) -> Option<Found> {
        tokio::time::sleep(Duration::from_millis(u64::from(5 * (4 - ev.0.min(4))))).await;
        (ev.0 != 2).then_some(Found(ev.0 * 10))
    }

    #[step]
    async fn merge(&self, ev: Collected<Found>) -> StopEvent<Vec<u32>> {
        let mut all: Vec<u32> = ev.into_iter().map(|f| f.0).collect();
        all.sort_unstable();
        StopEvent::new(all)
    }
}

#[tokio::test]
async fn a_collected_step_gets_every_result_of_a_fan_out_once_without_counting() {
    assert_eq!(Search.run(4).await.unwrap(), vec![10, 30, 40]);
    assert_eq!(Search.run(1).await.unwrap(), vec![10]);
}

/// A search that finds nothing, from `sources` sources.
struct Barren;

#[workflow]
impl Barren {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Source> {
        (1..=ev.input).map(Source).collect()
    }

    #[step]
    async fn search(&self, _ev: Source) -> Option<Found> {
        None
    }

    #[step]
    async fn merge(&self, ev: Collected<Found>) -> StopEvent<usize> {
        StopEvent::new(ev.len())
    }
}

#[tokio::test]
async fn a_fan_in_runs_with_an_empty_list_when_nothing_reached_it() {
    assert_eq!(Barren.run(3).await.unwrap(), 0, "every branch returned None");
    assert_eq!(Barren.run(0).await.unwrap(), 0, "the fan-out was empty");
    assert_eq!(Search.run(0).await.unwrap(), Vec::<u32>::new());
}

// ------------------------------------------------------------ sends

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Task(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Other;

struct Targeted {
    seen_by_a: AtomicUsize,
    seen_by_b: AtomicUsize,
}

#[workflow]
impl Targeted {
    #[step(sends = [Task, Other])]
    async fn begin(&self, ctx: &Context<()>, ev: StartEvent<u8>) -> Result<Option<Task>, SendError> {
        match ev.input {
            0 => ctx.send_event_to(TargetedStep::B, Task(1)),
            1 => ctx.send_event_to(TargetedStep::B, Other),
            _ => ctx.send_event(Task(2)),
        }
        Ok(None)
    }

    #[step]
    async fn a(&self, _ev: Task) -> Option<StopEvent<u32>> {
        self.seen_by_a.fetch_add(1, Ordering::SeqCst);
        None
    }

    #[step(num_workers = 1)]
    async fn b(&self, ev: Task) -> Option<StopEvent<u32>> {
        let seen = self.seen_by_b.fetch_add(1, Ordering::SeqCst) + 1;
        (seen == 1).then(|| StopEvent::new(ev.0))
    }

    #[step]
    async fn other(&self, _ev: Other) -> StopEvent<u32> {
        StopEvent::new(0)
    }
}

fn targeted() -> Arc<Targeted> {
    Arc::new(Targeted { seen_by_a: AtomicUsize::new(0), seen_by_b: AtomicUsize::new(0) })
}

#[tokio::test]
async fn a_targeted_send_reaches_only_the_named_step() {
    let flow = targeted();
    assert_eq!(Arc::clone(&flow).run(0).await.unwrap(), 1);
    assert_eq!(flow.seen_by_a.load(Ordering::SeqCst), 0, "`a` also takes Task but was not named");
}

#[tokio::test]
async fn a_broadcast_send_reaches_every_consumer() {
    let flow = targeted();
    assert_eq!(Arc::clone(&flow).run(2).await.unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(flow.seen_by_b.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn sending_to_a_step_that_does_not_take_the_event_is_a_clear_error() {
    let err = targeted().run(1).await.unwrap_err();
    let WorkflowError::StepFailed { step: "begin", source, .. } = &err else { panic!("{err:?}") };
    let send = source.downcast_ref::<SendError>().expect("a SendError");
    assert_eq!(*send, SendError::NotAccepted { target: "b", event: "Other" });
    assert!(send.to_string().contains("step `b` does not consume `Other`"), "{send}");
}

#[tokio::test]
async fn sending_an_undeclared_event_is_a_clear_error() {
    let err = Sneak.run(()).await.unwrap_err();
    let WorkflowError::StepFailed { step: "sneak", source, .. } = &err else { panic!("{err:?}") };
    assert_eq!(
        *source.downcast_ref::<SendError>().unwrap(),
        SendError::Undeclared { step: "sneak", event: "Task" }
    );
}

struct Sneak;

#[workflow]
impl Sneak {
    /// `Task` is declared for the caller's stream only, not as a send.
    #[step(streams = [Task])]
    async fn sneak(&self, ctx: &Context<()>, _ev: StartEvent<()>) -> Result<StopEvent<()>, SendError> {
        // Through a variable, the macro cannot see the type: the runtime
        // fails the step instead.
        let task = Task(1);
        ctx.send_event(task);
        Ok(StopEvent::new(()))
    }
}

// ------------------------------------------------------------ streaming, stop, cancel

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Progress(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Slow;

struct Reporter;

#[workflow]
impl Reporter {
    #[step(streams = [Progress])]
    async fn work(
        &self,
        ctx: &Context<()>,
        ev: StartEvent<u32>,
    ) -> Result<Emit<(Slow, StopEvent<u32>)>, SendError> {
        for i in 1..=ev.input {
            ctx.write_event_to_stream(Progress(i));
        }
        if ev.input == 0 {
            return Ok(Emit::new(Slow));
        }
        Ok(Emit::new(StopEvent::new(ev.input)))
    }

    /// Only reached with input 0: streams after a long sleep.
    #[step(streams = [Progress])]
    async fn slow(&self, ctx: &Context<()>, _ev: Slow) -> Result<StopEvent<u32>, SendError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        ctx.write_event_to_stream(Progress(999));
        Ok(StopEvent::new(0))
    }
}

#[tokio::test]
async fn the_stream_carries_step_events_in_order_and_ends_with_the_outcome() {
    let mut handler = Reporter.start(3);
    let events = drain(&mut handler).await;
    let progress: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Event(ReporterEvent::Progress(p)) => Some(p.0),
            _ => None,
        })
        .collect();
    assert_eq!(progress, [1, 2, 3]);
    assert!(matches!(events.last(), Some(RunEvent::Finished(RunOutcome::Stopped))), "{events:?}");
    assert_eq!(handler.await.unwrap(), 3);
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Late;

struct StopsFirst;

#[workflow]
impl StopsFirst {
    #[step]
    async fn split(&self, _ev: StartEvent<()>) -> Vec<Emit<(Late, StopEvent<()>)>> {
        vec![Emit::new(Late), Emit::new(StopEvent::new(()))]
    }

    #[step(streams = [Progress])]
    async fn late(&self, ctx: &Context<()>, _ev: Late) -> Result<Option<StopEvent<()>>, SendError> {
        tokio::time::sleep(Duration::from_millis(30)).await;
        ctx.write_event_to_stream(Progress(1));
        Ok(None)
    }
}

#[tokio::test]
async fn an_event_written_after_the_stop_never_reaches_the_stream() {
    let mut handler = StopsFirst.start(());
    let events = drain(&mut handler).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(events.iter().all(|e| !matches!(e, RunEvent::Event(_))), "{events:?}");
    assert!(matches!(events.last(), Some(RunEvent::Finished(RunOutcome::Stopped))));
    handler.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancel_ends_the_run_with_cancelled_and_a_final_stream_event() {
    let mut handler = Reporter.start(0);
    tokio::time::sleep(Duration::from_millis(10)).await;
    handler.cancel();
    let events = drain(&mut handler).await;
    assert!(matches!(events.last(), Some(RunEvent::Finished(RunOutcome::Cancelled))), "{events:?}");
    assert!(events.iter().all(|e| !matches!(e, RunEvent::Event(ReporterEvent::Progress(Progress(999))))));
    let err = handler.await.unwrap_err();
    assert!(matches!(err, WorkflowError::Cancelled { workflow: "Reporter" }), "{err:?}");
    assert!(err.to_string().contains("cancelled"));
}

// ------------------------------------------------------------ worker limits via internal events

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Unit(u32);

struct Pool;

#[workflow]
impl Pool {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Unit> {
        (0..ev.input).map(Unit).collect()
    }

    #[step(num_workers = 3)]
    async fn work(&self, ev: Unit) -> Unit2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Unit2(ev.0)
    }

    #[step]
    async fn done(&self, ev: Collected<Unit2>) -> StopEvent<usize> {
        StopEvent::new(ev.len())
    }
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Unit2(u32);

#[tokio::test(start_paused = true)]
async fn internal_events_show_at_most_num_workers_invocations_each_on_its_own_slot() {
    let mut handler = Pool.start_with(10, RunOptions::new().internal_events(true));
    let events = drain(&mut handler).await;
    assert_eq!(handler.await.unwrap(), 10);
    let mut busy: Vec<usize> = Vec::new();
    let mut peak = 0;
    let mut starts = 0;
    for event in &events {
        match event {
            RunEvent::StepStarted { step: "work", worker, .. } => {
                assert!(*worker < 3, "worker slot {worker} of 3");
                assert!(!busy.contains(worker), "slot {worker} given out twice");
                busy.push(*worker);
                peak = peak.max(busy.len());
                starts += 1;
            }
            RunEvent::StepFinished { step: "work", worker, succeeded, .. } => {
                assert!(*succeeded);
                busy.retain(|w| w != worker);
            }
            _ => {}
        }
    }
    assert_eq!(starts, 10);
    assert_eq!(peak, 3);
}

#[tokio::test(start_paused = true)]
async fn internal_events_name_inputs_and_outputs_and_say_when_an_input_waits_for_a_worker() {
    let mut handler = Pool.start_with(5, RunOptions::new().internal_events(true));
    let events = drain(&mut handler).await;
    assert_eq!(handler.await.unwrap(), 5);
    let queued: Vec<_> = events.iter().filter(|e| matches!(e, RunEvent::StepQueued { .. })).collect();
    // Three workers for five inputs: the fourth and fifth wait for one.
    assert_eq!(queued.len(), 2, "{events:?}");
    assert!(queued.iter().all(|e| matches!(e, RunEvent::StepQueued { step: "work", input: "Unit" })));
    assert!(events.iter().any(|e| matches!(e, RunEvent::StepStarted { step: "work", input: "Unit", .. })));
    assert!(events.iter().any(|e| matches!(e, RunEvent::StepStarted { step: "done", input: "Unit2", .. })));
    let split_output = events.iter().find_map(|e| match e {
        RunEvent::StepFinished { step: "split", output, .. } => Some(output.clone()),
        _ => None,
    });
    assert_eq!(split_output, Some(vec!["Unit"; 5]));
    assert!(events.iter().all(|e| !matches!(e, RunEvent::Idle)), "a run that never waits is never idle");
}

// ------------------------------------------------------------ outside input

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Question(String);

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Approval {
    ticket: u32,
    approved: bool,
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Ticket(u32);

struct Approvals {
    before_wait: AtomicUsize,
}

#[workflow(external = [Approval])]
impl Approvals {
    #[step]
    async fn open(&self, ev: StartEvent<Vec<u32>>) -> Vec<Ticket> {
        ev.input.iter().copied().map(Ticket).collect()
    }

    /// Waits in place, matched by ticket number: two waiters at once.
    #[step(num_workers = 2, streams = [InputRequired<Question>], waits = [Approval])]
    async fn review(&self, ctx: &Context<()>, ev: Ticket) -> Result<Approved, WaitError> {
        self.before_wait.fetch_add(1, Ordering::SeqCst);
        let ticket = ev.0;
        let approval = ctx
            .wait_for_event::<Approval>()
            .matching(move |a| a.ticket == ticket)
            .request(InputRequired::new(Question(format!("approve ticket {ticket}?"))))
            .timeout(Duration::from_secs(60))
            .await?;
        Ok(Approved(approval.ticket, approval.approved))
    }

    #[step]
    async fn tally(&self, ev: Collected<Approved>) -> StopEvent<Vec<(u32, bool)>> {
        let mut all: Vec<_> = ev.into_iter().map(|a| (a.0, a.1)).collect();
        all.sort_unstable();
        StopEvent::new(all)
    }
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Approved(u32, bool);

#[tokio::test]
async fn two_waiters_are_told_apart_by_a_field_and_code_before_the_wait_runs_once() {
    let flow = Arc::new(Approvals { before_wait: AtomicUsize::new(0) });
    let mut handler = Arc::clone(&flow).start(vec![7, 8]);
    let mut asked = Vec::new();
    while asked.len() < 2 {
        match handler.events().next().await {
            Some(RunEvent::Event(ApprovalsEvent::InputRequired(request))) => asked.push(request.request.0),
            other => panic!("expected two requests, got {other:?}"),
        }
    }
    asked.sort();
    assert_eq!(asked, ["approve ticket 7?", "approve ticket 8?"]);
    // Answer in the opposite order: each answer must reach its own waiter.
    handler.send_event(Approval { ticket: 8, approved: false }).unwrap();
    handler.send_event(Approval { ticket: 7, approved: true }).unwrap();
    assert_eq!(handler.await.unwrap(), vec![(7, true), (8, false)]);
    assert_eq!(flow.before_wait.load(Ordering::SeqCst), 2, "no replay: each step ran its prefix once");
}

#[tokio::test]
async fn an_answer_sent_before_the_wait_begins_is_kept_not_lost() {
    let flow = Arc::new(Approvals { before_wait: AtomicUsize::new(0) });
    let handler = Arc::clone(&flow).start(vec![5]);
    handler.send_event(Approval { ticket: 5, approved: true }).unwrap();
    assert_eq!(handler.await.unwrap(), vec![(5, true)]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_times_out_with_a_clear_error() {
    let handler = Approvals { before_wait: AtomicUsize::new(0) }.start(vec![1]);
    let err = handler.await.unwrap_err();
    let WorkflowError::StepFailed { step: "review", source, .. } = &err else { panic!("{err:?}") };
    let wait = source.downcast_ref::<WaitError>().expect("a WaitError");
    assert!(
        matches!(wait, WaitError::TimedOut { after, .. } if *after == Duration::from_secs(60)),
        "{wait:?}"
    );
    assert!(wait.to_string().contains("handler.send_event"), "{wait}");
}

struct Interview;

#[workflow]
impl Interview {
    /// Returns a request instead of waiting in place: the run then waits for
    /// the caller rather than stalling.
    #[step]
    async fn ask(&self, ev: StartEvent<String>) -> InputRequired<String> {
        InputRequired::new(format!("{}?", ev.input))
    }

    #[step]
    async fn answer(&self, ev: HumanResponse<String>) -> StopEvent<String> {
        StopEvent::new(ev.response)
    }
}

#[tokio::test]
async fn a_returned_request_pauses_the_run_until_the_caller_answers() {
    let mut handler = Interview.start("name".into());
    match handler.events().next().await {
        Some(RunEvent::Event(InterviewEvent::InputRequired(request))) => assert_eq!(request.request, "name?"),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!handler.is_finished(), "waiting for the caller is not a stall");
    handler.send_event(HumanResponse::new("Ada".to_string())).unwrap();
    assert_eq!(handler.await.unwrap(), "Ada");
}

/// The internal events of `handler`'s run up to its first `Idle` (or its end).
async fn until_idle<W: workflow_core::Workflow>(
    handler: &mut workflow_core::Handler<W>,
) -> Vec<RunEvent<W::Event>>
where
    W::Event: std::fmt::Debug,
{
    let mut seen = Vec::new();
    let read = async {
        while let Some(event) = handler.events().next().await {
            let idle = matches!(event, RunEvent::Idle);
            seen.push(event);
            if idle {
                break;
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), read).await.is_err() {
        panic!("neither idle nor over within 10 s; seen {seen:?}");
    }
    seen
}

#[tokio::test]
async fn a_run_waiting_for_a_returned_request_goes_idle_once_and_not_at_its_end() {
    let mut handler = Interview.start_with("name".into(), RunOptions::new().internal_events(true));
    let seen = until_idle(&mut handler).await;
    assert!(matches!(seen.last(), Some(RunEvent::Idle)), "{seen:?}");
    assert!(
        seen.iter().any(|e| matches!(e, RunEvent::StepFinished { step: "ask", output, .. } if output == &["InputRequired<String>"])),
        "{seen:?}"
    );
    handler.send_event(HumanResponse::new("Ada".to_string())).unwrap();
    let rest = drain(&mut handler).await;
    assert!(rest.iter().all(|e| !matches!(e, RunEvent::Idle)), "not idle as it ends: {rest:?}");
    assert!(matches!(rest.last(), Some(RunEvent::Finished(RunOutcome::Stopped))), "{rest:?}");
    assert_eq!(handler.await.unwrap(), "Ada");
}

#[tokio::test]
async fn a_run_whose_steps_all_wait_in_place_goes_idle_when_the_last_begins_waiting() {
    let flow = Arc::new(Approvals { before_wait: AtomicUsize::new(0) });
    let mut handler = Arc::clone(&flow).start_with(vec![7, 8], RunOptions::new().internal_events(true));
    let seen = until_idle(&mut handler).await;
    let requests =
        seen.iter().filter(|e| matches!(e, RunEvent::Event(ApprovalsEvent::InputRequired(_)))).count();
    assert_eq!(requests, 2, "both reviews wait before the run is idle: {seen:?}");
    assert_eq!(flow.before_wait.load(Ordering::SeqCst), 2);
    // One answer: one review goes on and finishes, the other still waits,
    // so the run is idle again.
    handler.send_event(Approval { ticket: 7, approved: true }).unwrap();
    let again = until_idle(&mut handler).await;
    assert!(matches!(again.last(), Some(RunEvent::Idle)), "{again:?}");
    assert!(again.iter().any(|e| matches!(e, RunEvent::StepFinished { step: "review", .. })), "{again:?}");
    handler.send_event(Approval { ticket: 8, approved: false }).unwrap();
    let rest = drain(&mut handler).await;
    assert!(rest.iter().all(|e| !matches!(e, RunEvent::Idle)), "{rest:?}");
    assert_eq!(handler.await.unwrap(), vec![(7, true), (8, false)]);
}

/// Waits a second in place, then asks again by returning a request.
struct Patient;

#[workflow]
impl Patient {
    #[step(waits = [HumanResponse<u8>])]
    async fn ask(&self, ctx: &Context<()>, _ev: StartEvent<()>) -> Result<StopEvent<u8>, WaitError> {
        let answer = ctx.wait_for_event::<HumanResponse<u8>>().timeout(Duration::from_secs(1)).await?;
        Ok(StopEvent::new(answer.response))
    }

    #[step]
    async fn ask_again(&self, _ev: StepFailed) -> InputRequired<u8> {
        InputRequired::new(0)
    }

    #[step]
    async fn answered(&self, ev: HumanResponse<u8>) -> StopEvent<u8> {
        StopEvent::new(ev.response + 100)
    }
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_times_out_is_no_longer_counted_and_the_run_goes_idle_again() {
    let mut handler = Patient.start_with((), RunOptions::new().internal_events(true));
    let first = until_idle(&mut handler).await;
    assert!(matches!(first.last(), Some(RunEvent::Idle)), "idle while `ask` waits: {first:?}");
    let second = until_idle(&mut handler).await;
    assert!(
        second.iter().any(|e| matches!(e, RunEvent::StepStarted { step: "ask_again", .. })),
        "{second:?}"
    );
    assert!(matches!(second.last(), Some(RunEvent::Idle)), "idle again on the returned request: {second:?}");
    handler.send_event(HumanResponse::new(5u8)).unwrap();
    assert_eq!(handler.await.unwrap(), 105);
}

#[tokio::test]
async fn sending_into_a_finished_run_is_an_error() {
    let mut handler = Interview.start("x".into());
    let _ = handler.events().next().await;
    handler.cancel();
    let _ = drain(&mut handler).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let err = handler.send_event(HumanResponse::new("late".to_string())).unwrap_err();
    assert!(matches!(err, SendError::RunEnded { .. }), "{err:?}");
}

/// Waits for a type it did not declare, where the macro cannot see it (the
/// type is inferred, not written in a turbofish).
struct Undeclared;

#[workflow(external = [HumanResponse<u8>])]
impl Undeclared {
    #[step]
    async fn ask(&self, ctx: &Context<()>, _ev: StartEvent<()>) -> Result<StopEvent<u8>, WaitError> {
        let answer: HumanResponse<u8> = ctx.wait_for_event().await?;
        Ok(StopEvent::new(answer.response))
    }
}

#[tokio::test]
async fn the_runtime_refuses_a_wait_its_step_did_not_declare() {
    let err = Undeclared.run(()).await.unwrap_err();
    let WorkflowError::StepFailed { step: "ask", source, .. } = &err else { panic!("{err:?}") };
    assert!(
        matches!(
            source.downcast_ref::<WaitError>(),
            Some(WaitError::Undeclared { step: "ask", event: "HumanResponse<u8>" })
        ),
        "{source:?}"
    );
    assert!(err.to_string().contains("add `waits = [HumanResponse<u8>]`"), "{err}");
}

// ------------------------------------------------------------ retries

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Flaky(&'static str);

struct Retried {
    attempts: Mutex<Vec<(u32, tokio::time::Instant)>>,
    fail_times: u32,
}

#[workflow]
impl Retried {
    #[step(retry = Backoff::exponential(4).base_delay(Duration::from_millis(100)).jitter(false)
        .retry_if(|e| e.to_string() != "permanent"))]
    async fn call(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Result<StopEvent<u32>, Flaky> {
        self.attempts.lock().unwrap().push((ctx.attempt(), tokio::time::Instant::now()));
        if ctx.attempt() <= self.fail_times {
            return Err(Flaky(if ev.input == "permanent" { "permanent" } else { "flaky" }));
        }
        Ok(StopEvent::new(ctx.attempt()))
    }
}

fn retried(fail_times: u32) -> Arc<Retried> {
    Arc::new(Retried { attempts: Mutex::new(Vec::new()), fail_times })
}

#[tokio::test(start_paused = true)]
async fn a_retried_step_sees_its_attempt_number_and_backs_off_exponentially() {
    let flow = retried(2);
    assert_eq!(Arc::clone(&flow).run("flaky".into()).await.unwrap(), 3);
    let attempts = flow.attempts.lock().unwrap().clone();
    let numbers: Vec<u32> = attempts.iter().map(|a| a.0).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let gaps: Vec<u128> = attempts.windows(2).map(|w| (w[1].1 - w[0].1).as_millis()).collect();
    assert_eq!(gaps, [100, 200]);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_the_maximum_attempts_and_the_error_counts_them() {
    let err = retried(10).run("flaky".into()).await.unwrap_err();
    assert!(matches!(err, WorkflowError::StepFailed { step: "call", attempts: 4, .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn errors_the_predicate_rejects_are_not_retried() {
    let flow = retried(10);
    let err = Arc::clone(&flow).run("permanent".into()).await.unwrap_err();
    assert!(matches!(err, WorkflowError::StepFailed { attempts: 1, .. }), "{err:?}");
    assert_eq!(flow.attempts.lock().unwrap().len(), 1);
}

/// Always fails, every 200 ms, for at most 500 ms.
struct Deadline {
    attempts: Mutex<Vec<tokio::time::Instant>>,
}

#[workflow]
impl Deadline {
    #[step(retry = Backoff::fixed(10, Duration::from_millis(200)).max_elapsed(Duration::from_millis(500)))]
    async fn call(&self, _ev: StartEvent<()>) -> Result<StopEvent<()>, Flaky> {
        self.attempts.lock().unwrap().push(tokio::time::Instant::now());
        Err(Flaky("down"))
    }
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_after_max_elapsed() {
    let flow = Arc::new(Deadline { attempts: Mutex::new(Vec::new()) });
    let begun = tokio::time::Instant::now();
    let err = Arc::clone(&flow).run(()).await.unwrap_err();
    assert!(matches!(err, WorkflowError::StepFailed { step: "call", attempts: 3, .. }), "{err:?}");
    let starts: Vec<u128> =
        flow.attempts.lock().unwrap().iter().map(|at| (*at - begun).as_millis()).collect();
    // A fourth attempt would start at 600 ms, past the 500 ms limit.
    assert_eq!(starts, [0, 200, 400]);
}

/// Retries a "busy" answer after the seconds it names, twice at most; any
/// other error is final.
struct BusyFor;

impl RetryPolicy for BusyFor {
    fn next_delay(&self, failed: &workflow_core::retry::FailedAttempt<'_>) -> Option<Duration> {
        let seconds: u64 = failed.error.to_string().strip_prefix("busy for ")?.parse().ok()?;
        Some(Duration::from_secs(seconds))
    }
}

/// Fails with "busy for N" on its first two attempts, and records what
/// `ctx.retry_info()` told each attempt.
struct Polite {
    seen: Mutex<Vec<(u32, Option<String>, tokio::time::Instant)>>,
}

#[workflow]
impl Polite {
    #[step(retry = BusyFor.max_attempts(3))]
    async fn call(
        &self,
        ctx: &Context<()>,
        _ev: StartEvent<()>,
    ) -> Result<StopEvent<u32>, workflow_core::BoxError> {
        let info = ctx.retry_info();
        let now = tokio::time::Instant::now();
        self.seen.lock().unwrap().push((
            info.attempt,
            info.previous_error.as_deref().map(str::to_owned),
            now,
        ));
        match info.attempt {
            1 => Err("busy for 2".into()),
            2 => Err("busy for 5".into()),
            n => Err(format!("busy for {n}").into()),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_hand_written_policy_reads_the_error_and_a_retry_reads_the_previous_one() {
    let flow = Arc::new(Polite { seen: Mutex::new(Vec::new()) });
    let err = Arc::clone(&flow).run(()).await.unwrap_err();
    // `max_attempts(3)` stops it after the third, whatever the policy says.
    assert!(matches!(err, WorkflowError::StepFailed { step: "call", attempts: 3, .. }), "{err:?}");
    let seen = flow.seen.lock().unwrap();
    let infos: Vec<_> = seen.iter().map(|(a, e, _)| (*a, e.as_deref())).collect();
    assert_eq!(infos, [(1, None), (2, Some("busy for 2")), (3, Some("busy for 5"))]);
    // The delays the errors named, to the millisecond (paused time).
    assert_eq!(seen[1].2 - seen[0].2, Duration::from_secs(2));
    assert_eq!(seen[2].2 - seen[1].2, Duration::from_secs(5));
}

// ------------------------------------------------------------ recovering from a failure

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Fetch {
    url: String,
}

struct Recovering;

#[workflow]
impl Recovering {
    #[step]
    async fn begin(&self, ev: StartEvent<String>) -> Fetch {
        Fetch { url: ev.input.clone() }
    }

    #[step(retry = Backoff::fixed(2, Duration::from_millis(1)))]
    async fn fetch(&self, ev: Fetch) -> Result<StopEvent<String>, Flaky> {
        if ev.url.starts_with("bad") {
            return Err(Flaky("connection refused"));
        }
        Ok(StopEvent::new(ev.url))
    }

    /// Receives the failure report and recovers the run.
    #[step]
    async fn recover(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(format!("{}|{}|{}|{}|{}", ev.step, ev.event, ev.input, ev.error, ev.attempts))
    }
}

#[tokio::test]
async fn a_failure_handler_gets_the_step_input_error_and_attempts_and_recovers() {
    assert_eq!(Recovering.run("ok".into()).await.unwrap(), "ok");
    let report = Recovering.run("bad.example".into()).await.unwrap();
    assert_eq!(report, r#"fetch|Fetch|{"url":"bad.example"}|connection refused|2"#);
}

/// A failure handler that fails too.
struct FailingHandler;

#[workflow]
impl FailingHandler {
    #[step]
    async fn begin(&self, _ev: StartEvent<u8>) -> Result<StopEvent<u8>, Flaky> {
        Err(Flaky("first failure"))
    }

    #[step]
    async fn recover(&self, _ev: StepFailed) -> Result<StopEvent<u8>, Flaky> {
        Err(Flaky("the handler fails too"))
    }
}

#[tokio::test]
async fn a_failing_failure_handler_ends_the_run_instead_of_being_sent_its_own_failure() {
    let err = tokio::time::timeout(Duration::from_secs(5), FailingHandler.run(0))
        .await
        .expect("the run ends rather than looping on its own failure")
        .unwrap_err();
    let WorkflowError::StepFailed { step: "recover", attempts: 1, source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(source.to_string().contains("the handler fails too"), "{source}");
}

// ------------------------------------------------------------ scoped failure handlers

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Page(String);

/// `fetch` retries once, then `on_fetch` tries a mirror (twice at most);
/// `parse`'s failures go to the catch-all `on_any`.
struct Scoped;

#[workflow]
impl Scoped {
    #[step]
    async fn begin(&self, ev: StartEvent<String>) -> Fetch {
        Fetch { url: ev.input.clone() }
    }

    #[step(retry = Backoff::fixed(2, Duration::from_millis(1)))]
    async fn fetch(&self, ev: Fetch) -> Result<Page, Flaky> {
        if ev.url.starts_with("down") {
            return Err(Flaky("unreachable"));
        }
        Ok(Page(ev.url))
    }

    #[step]
    async fn parse(&self, ev: Page) -> Result<StopEvent<String>, Flaky> {
        if ev.0.contains("garbled") {
            return Err(Flaky("not html"));
        }
        Ok(StopEvent::new(ev.0))
    }

    /// Tries a mirror: one that works for a flaky source, none for one
    /// that is down for good. The URL records the attempts reported.
    #[step(for_steps = [fetch], max_recoveries = 2)]
    async fn on_fetch(&self, ev: StepFailed) -> Fetch {
        let url: String = serde_json::from_value(ev.input["url"].clone()).unwrap();
        let mirror = if url.contains("flaky") { "mirror" } else { url.as_str() };
        Fetch { url: format!("{mirror}:{}", ev.attempts) }
    }

    #[step]
    async fn on_any(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(format!("caught {}: {}", ev.step, ev.error))
    }
}

#[tokio::test]
async fn a_scoped_handler_takes_its_steps_failures_after_their_retries() {
    // Two attempts of `fetch` (its retry), then `on_fetch`, not `on_any`.
    assert_eq!(Scoped.run("down-flaky".into()).await.unwrap(), "mirror:2");
}

#[tokio::test]
async fn a_step_no_scoped_handler_names_goes_to_the_catch_all() {
    assert_eq!(Scoped.run("garbled".into()).await.unwrap(), "caught parse: not html");
}

#[tokio::test]
async fn recoveries_used_up_fail_the_run_with_the_steps_own_error_and_attempts_go_on_counting() {
    let err = Scoped.run("down-for-good".into()).await.unwrap_err();
    // Attempts 1 and 2 (the retry), recovery 1; attempt 3 (no retry left:
    // the count goes on), recovery 2; attempt 4 fails with no recovery left.
    let WorkflowError::StepFailed { step: "fetch", attempts: 4, source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(source.to_string(), "unreachable");
}

/// Only `risky`'s failures are handled.
struct OnlyRisky;

#[workflow]
impl OnlyRisky {
    #[step]
    async fn begin(&self, ev: StartEvent<u8>) -> Result<Fetch, Flaky> {
        match ev.input {
            0 => Ok(Fetch { url: "risky".into() }),
            _ => Err(Flaky("begin broke")),
        }
    }

    #[step]
    async fn risky(&self, _ev: Fetch) -> Result<StopEvent<String>, Flaky> {
        Err(Flaky("risky broke"))
    }

    #[step(for_steps = [risky])]
    async fn recover(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(format!("recovered {}", ev.step))
    }
}

#[tokio::test]
async fn a_failure_no_handler_covers_ends_the_run() {
    assert_eq!(OnlyRisky.run(0).await.unwrap(), "recovered risky");
    let err = OnlyRisky.run(1).await.unwrap_err();
    let WorkflowError::StepFailed { step: "begin", attempts: 1, source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(source.to_string(), "begin broke");
}

/// A step that never finishes, beside a handler that would recover anything.
struct Stuck {
    handled: AtomicUsize,
}

#[workflow]
impl Stuck {
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> StopEvent<String> {
        std::future::pending::<()>().await;
        StopEvent::new("never".into())
    }

    #[step]
    async fn recover(&self, _ev: StepFailed) -> StopEvent<String> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        StopEvent::new("recovered".into())
    }
}

#[tokio::test]
async fn a_timeout_never_reaches_a_failure_handler() {
    let flow = Arc::new(Stuck { handled: AtomicUsize::new(0) });
    let options = RunOptions::new().timeout(Duration::from_millis(50));
    let err = Arc::clone(&flow).run_with((), options).await.unwrap_err();
    assert!(matches!(err, WorkflowError::Timeout { .. }), "{err:?}");
    assert_eq!(flow.handled.load(Ordering::SeqCst), 0, "the handler was not called");
}

// ------------------------------------------------------------ the typed end of the stream

/// The last item of a handler's stream.
async fn last_item<W: workflow_core::Workflow>(mut handler: workflow_core::Handler<W>) -> RunOutcome {
    let mut last = None;
    while let Some(event) = handler.events().next().await {
        last = Some(event);
    }
    let _ = handler.await;
    match last {
        Some(RunEvent::Finished(outcome)) => outcome,
        other => panic!("the stream ends with its outcome, not {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_ends_its_stream_with_the_step_attempts_time_and_error() {
    let flow = retried(10);
    let outcome = last_item(flow.start("x".into())).await;
    let RunOutcome::Failed(failure) = &outcome else { panic!("{outcome:?}") };
    assert_eq!((failure.step, failure.attempts, failure.kind), (Some("call"), 4, "StepFailed"));
    assert_eq!(failure.message, "flaky");
    // Three back-offs of 100, 200 and 400 ms (paused time: exact).
    assert_eq!(failure.elapsed, Duration::from_millis(700), "{failure}");
}

#[tokio::test]
async fn a_timed_out_run_ends_its_stream_with_the_limit_and_the_active_steps() {
    let flow = Arc::new(Stuck { handled: AtomicUsize::new(0) });
    let options = RunOptions::new().timeout(Duration::from_millis(30));
    let outcome = last_item(flow.start_with((), options)).await;
    assert_eq!(
        outcome,
        RunOutcome::TimedOut { after: Duration::from_millis(30), active_steps: vec!["begin"] }
    );
}

#[tokio::test]
async fn a_stalled_run_ends_its_stream_with_no_step_to_blame() {
    let outcome = last_item(Stalling.start(())).await;
    let RunOutcome::Failed(failure) = &outcome else { panic!("{outcome:?}") };
    assert_eq!((failure.step, failure.attempts, failure.kind), (None, 0, "Stalled"));
    assert!(failure.message.contains("stalled"), "{failure}");
}

/// Returns nothing where the run needed an event.
struct Stalling;

#[workflow]
impl Stalling {
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> Option<Fetch> {
        None
    }

    #[step]
    async fn fetch(&self, ev: Fetch) -> StopEvent<String> {
        StopEvent::new(ev.url)
    }
}

// ------------------------------------------------------------ targeted sends from the caller

#[derive(Event, Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
struct Note(String);

/// Two steps take `Note`; the caller picks one.
struct Desk;

#[workflow(external = [Note])]
impl Desk {
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> InputRequired<String> {
        InputRequired::new("a note?".into())
    }

    #[step]
    async fn first(&self, ev: Note) -> StopEvent<String> {
        StopEvent::new(format!("first got {}", ev.0))
    }

    #[step]
    async fn second(&self, ev: Note) -> StopEvent<String> {
        StopEvent::new(format!("second got {}", ev.0))
    }
}

#[tokio::test]
async fn the_caller_sends_an_event_to_one_step_only() {
    let broadcast = Desk.start(());
    broadcast.send_event(Note("hi".into())).unwrap();
    assert_eq!(
        broadcast.await.unwrap(),
        "first got hi",
        "untargeted, both take it and the first stops the run"
    );

    let targeted = Desk.start(());
    targeted.send_event_to(DeskStep::Second, Note("hi".into())).unwrap();
    assert_eq!(targeted.await.unwrap(), "second got hi");
}

#[tokio::test]
async fn a_targeted_send_the_step_does_not_take_or_after_the_end_is_refused() {
    let mut handler = Desk.start(());
    let err = handler.send_event_to(DeskStep::Begin, Note("hi".into())).unwrap_err();
    assert!(matches!(err, SendError::NotAccepted { target: "begin", event: "Note" }), "{err:?}");
    handler.send_event_to(DeskStep::First, Note("hi".into())).unwrap();
    while handler.events().next().await.is_some() {}
    let err = handler.send_event_to(DeskStep::First, Note("late".into())).unwrap_err();
    assert!(matches!(err, SendError::RunEnded { event: "Note" }), "{err:?}");
    assert_eq!(handler.await.unwrap(), "first got hi");
}

// ------------------------------------------------------------ runs at once (num_concurrent_runs)

/// Logs when each run's step starts and ends; two runs of an instance at once.
struct Ticketed {
    log: Mutex<Vec<(u32, &'static str)>>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

#[workflow(num_concurrent_runs = 2)]
impl Ticketed {
    #[step]
    async fn serve(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.log.lock().unwrap().push((ev.input, "start"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.log.lock().unwrap().push((ev.input, "end"));
        self.running.fetch_sub(1, Ordering::SeqCst);
        StopEvent::new(ev.input)
    }
}

fn ticketed() -> Arc<Ticketed> {
    Arc::new(Ticketed {
        log: Mutex::new(Vec::new()),
        running: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    })
}

#[tokio::test(start_paused = true)]
async fn a_hundred_runs_two_at_a_time_all_finish_in_the_order_they_were_started() {
    let flow = ticketed();
    let handlers: Vec<_> = (0..100).map(|i| Arc::clone(&flow).start(i)).collect();
    for (i, handler) in handlers.into_iter().enumerate() {
        assert_eq!(handler.await.unwrap(), i as u32);
    }
    assert_eq!(flow.peak.load(Ordering::SeqCst), 2, "two at once, never more");
    let log = flow.log.lock().unwrap();
    let started: Vec<u32> = log.iter().filter(|(_, what)| *what == "start").map(|(i, _)| *i).collect();
    let ended: Vec<u32> = log.iter().filter(|(_, what)| *what == "end").map(|(i, _)| *i).collect();
    assert_eq!(started, (0..100).collect::<Vec<_>>(), "each waited its turn, in order");
    assert_eq!(ended, (0..100).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn another_instance_has_slots_of_its_own() {
    let (one, other) = (ticketed(), ticketed());
    let runs: Vec<_> =
        (0..2).flat_map(|i| [Arc::clone(&one).start(i), Arc::clone(&other).start(i)]).collect();
    let started = tokio::time::Instant::now();
    for run in runs {
        run.await.unwrap();
    }
    assert_eq!(started.elapsed(), Duration::from_millis(10), "all four at once: two per instance");
}

/// One run at a time: asks for approval, or computes for a while.
struct Desk1 {
    worked: AtomicUsize,
}

#[workflow(num_concurrent_runs = 1)]
impl Desk1 {
    #[step]
    async fn begin(&self, ev: StartEvent<u32>) -> Emit<(InputRequired<u32>, StopEvent<u32>)> {
        if ev.input == 0 {
            return Emit::new(InputRequired::new(0));
        }
        tokio::time::sleep(Duration::from_millis(u64::from(ev.input))).await;
        self.worked.fetch_add(1, Ordering::SeqCst);
        Emit::new(StopEvent::new(ev.input))
    }

    #[step]
    async fn answered(&self, ev: HumanResponse<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.response)
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_waiting_for_an_answer_gives_its_slot_to_the_next_and_takes_it_back() {
    let flow = Arc::new(Desk1 { worked: AtomicUsize::new(0) });
    let mut waiting = Arc::clone(&flow).start(0);
    let _asked = waiting.events().next().await;
    // The only slot is free while the first run waits: the second runs.
    let second = Arc::clone(&flow).start(30);
    let second = tokio::time::timeout(Duration::from_secs(60), second).await;
    assert_eq!(second.expect("the waiting run let it through").unwrap(), 30);
    waiting.send_event(HumanResponse::new(7u32)).unwrap();
    assert_eq!(waiting.await.unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_queued_runs_timeout_starts_when_it_gets_its_slot() {
    let flow = Arc::new(Desk1 { worked: AtomicUsize::new(0) });
    let first = Arc::clone(&flow).start(100);
    // Waits 100 ms in line, then runs 20 ms: within its 50 ms.
    let options = RunOptions::new().timeout(Duration::from_millis(50));
    let second = Arc::clone(&flow).start_with(20, options);
    assert_eq!(first.await.unwrap(), 100);
    assert_eq!(second.await.unwrap(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_run_cancelled_in_line_ends_without_starting() {
    let flow = Arc::new(Desk1 { worked: AtomicUsize::new(0) });
    let first = Arc::clone(&flow).start(1000);
    let mut queued = Arc::clone(&flow).start(5);
    tokio::time::sleep(Duration::from_millis(10)).await;
    queued.cancel();
    let ended = tokio::time::Instant::now();
    let mut last = None;
    while let Some(event) = queued.events().next().await {
        last = Some(event);
    }
    assert!(matches!(last, Some(RunEvent::Finished(RunOutcome::Cancelled))), "{last:?}");
    assert_eq!(ended.elapsed(), Duration::ZERO, "it did not wait for its turn to end");
    let err = queued.snapshot().await.unwrap_err();
    assert!(matches!(err, workflow_core::snapshot::SnapshotError::RunEnded), "nothing to resume: {err:?}");
    assert!(matches!(queued.await, Err(WorkflowError::Cancelled { .. })));
    assert_eq!(first.await.unwrap(), 1000);
    assert_eq!(flow.worked.load(Ordering::SeqCst), 1, "only the first run's step ran");
}

// ------------------------------------------------------------ tracing and verbose

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `run` traces at debug level, on a current-thread runtime.
fn traced<F: std::future::Future>(run: impl FnOnce() -> F) -> String {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(run());
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    log
}

#[test]
fn every_run_and_step_invocation_has_a_tracing_span() {
    let log = traced(|| async { Search.run(2).await.unwrap() });
    assert!(log.contains(r#"workflow_run{workflow="Search" run_id="#), "{log}");
    assert!(log.contains(r#"workflow_step{workflow="Search" run_id="#), "{log}");
    assert!(log.contains(r#" step="search" worker=0 attempt=1"#), "{log}");
    assert!(log.contains("step finished succeeded=true"), "{log}");
}

#[test]
fn a_verbose_run_still_traces_to_the_callers_subscriber() {
    let log = traced(|| async { Search.run_with(2, RunOptions::new().verbose(true)).await.unwrap() });
    // `split` runs inline, polled inside the verbose run's subscriber,
    // which must hand its spans and events on.
    assert!(log.contains(r#" step="split" worker=0 attempt=1"#), "{log}");
    assert!(log.contains("step finished succeeded=true"), "{log}");
    assert!(log.contains(r#"workflow_run{workflow="Search" run_id="#), "{log}");
}

/// Runs in a child process (see the next test): a verbose run of `Search`.
#[test]
fn verbose_child() {
    if std::env::var_os("WORKFLOW_VERBOSE_CHILD").is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { Search.run_with(1, RunOptions::new().verbose(true)).await.unwrap() });
}

#[test]
fn verbose_mode_prints_each_step_and_what_it_emitted() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "verbose_child", "--nocapture", "--test-threads=1"])
        .env("WORKFLOW_VERBOSE_CHILD", "1")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    for line in [
        "[Search] running step split (worker 0, attempt 1)",
        "  -> emitted Source",
        "[Search] running step search (worker 0, attempt 1)",
        "  -> emitted Found",
        "[Search] running step merge (worker 0, attempt 1)",
        "  -> emitted StopEvent<Vec<u32>>",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
}

// ------------------------------------------------------------ ordering at the edges of a run

struct AwaitsThenStreams;

#[workflow]
impl AwaitsThenStreams {
    /// Awaits first, so it runs on a task of its own, then streams and stops.
    #[step(streams = [Progress])]
    async fn work(&self, ctx: &Context<()>, _ev: StartEvent<()>) -> Result<StopEvent<u32>, SendError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        for i in 0..20 {
            ctx.write_event_to_stream(Progress(i));
        }
        Ok(StopEvent::new(20))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_step_streams_everything_before_its_stop_is_handled() {
    for _ in 0..50 {
        let mut handler = AwaitsThenStreams.start(());
        let events = drain(&mut handler).await;
        let progress = events.iter().filter(|e| matches!(e, RunEvent::Event(_))).count();
        assert_eq!(progress, 20, "{events:?}");
        assert_eq!(handler.await.unwrap(), 20);
    }
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spread(u32);

struct StopsMidBatch {
    late: AtomicUsize,
}

#[workflow]
impl StopsMidBatch {
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> Spread {
        Spread(0)
    }

    /// Spread(0) runs alone (so the step is known to be light), then fans
    /// out three at once; the first of those stops the run.
    #[step(num_workers = 4)]
    async fn spread(&self, ev: Spread) -> Vec<Emit<(Spread, StopEvent<u32>)>> {
        match ev.0 {
            0 => vec![Emit::new(Spread(10)), Emit::new(Spread(11)), Emit::new(Spread(12))],
            10 => vec![Emit::new(StopEvent::new(10))],
            _ => {
                self.late.fetch_add(1, Ordering::SeqCst);
                vec![]
            }
        }
    }
}

#[tokio::test]
async fn no_step_runs_after_the_stop_event_ended_the_run() {
    let flow = Arc::new(StopsMidBatch { late: AtomicUsize::new(0) });
    assert_eq!(Arc::clone(&flow).run(()).await.unwrap(), 10);
    assert_eq!(flow.late.load(Ordering::SeqCst), 0, "Spread(11) and Spread(12) ran after the stop");
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Forever(u32);

struct Runaway;

#[workflow]
impl Runaway {
    #[step]
    async fn begin(&self, _ev: StartEvent<()>) -> Vec<Emit<(Forever, StopEvent<()>)>> {
        (0..1000).map(|i| Emit::new(Forever(i))).collect()
    }

    /// Light, and never stops: only the timeout can end the run.
    #[step(num_workers = 1000, skip = [dead_end])]
    async fn forever(&self, ev: Forever) -> Forever {
        ev
    }
}

#[tokio::test]
async fn a_run_of_light_steps_that_never_stops_still_times_out() {
    let started = std::time::Instant::now();
    let err = Runaway.run_with((), RunOptions::new().timeout(Duration::from_millis(100))).await.unwrap_err();
    assert!(
        matches!(err, WorkflowError::Timeout { ref active_steps, .. } if active_steps == &["forever"]),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

// ------------------------------------------------------------ writes after the end

/// Hands a clone of its context to a task that writes after the run ended.
struct Lingering {
    wrote: Arc<tokio::sync::Notify>,
}

#[workflow]
impl Lingering {
    #[step(sends = [Task], streams = [Progress])]
    async fn first(&self, ctx: &Context, _ev: StartEvent<()>) -> StopEvent<()> {
        let (ctx, wrote) = (ctx.clone(), Arc::clone(&self.wrote));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ctx.write_event_to_stream(Progress(1));
            ctx.send_event(Task(1));
            wrote.notify_one();
        });
        StopEvent::new(())
    }

    #[step]
    async fn task(&self, _ev: Task) -> Option<StopEvent<()>> {
        None
    }
}

#[test]
fn a_write_or_send_after_the_run_ended_is_dropped_and_traced_never_a_panic() {
    let log = traced(|| async {
        let flow = Arc::new(Lingering { wrote: Arc::new(tokio::sync::Notify::new()) });
        let mut handler = Arc::clone(&flow).start(());
        let events = drain(&mut handler).await;
        assert!(matches!(events.last(), Some(RunEvent::Finished(RunOutcome::Stopped))), "{events:?}");
        handler.await.unwrap();
        // The task wrote after the end (and did not panic: it got here).
        tokio::time::timeout(Duration::from_secs(5), flow.wrote.notified()).await.unwrap();
    });
    assert_eq!(log.matches("dropped: the run has ended").count(), 2, "{log}");
}
