//! The core, driven by hand: each test feeds inputs and reads the commands.

use std::time::Duration;

use super::*;
use crate::erased::ErasedEvent;
use crate::prelude::*;
use crate::runtime::typed::{output, table};
use crate::workflow::Workflow;

#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Job(u8);
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Done(u8);
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Approval(bool);

/// Start → `split` → Job×n → `work` (1 worker) and `audit` (broadcast,
/// 2 workers) → Done → `gather` (collects a fan-out) → stop.
struct Flow;

#[workflow(external = [Approval])]
impl Flow {
    #[step]
    async fn split(&self, ev: StartEvent<u8>) -> Vec<Job> {
        (0..ev.input).map(Job).collect()
    }

    #[step(num_workers = 1)]
    async fn work(&self, ev: Job) -> Option<Done> {
        Some(Done(ev.0))
    }

    #[step(num_workers = 2)]
    async fn audit(&self, ev: Job) -> Vec<Emit<(Job, StopEvent<u8>)>> {
        vec![Emit::new(ev)]
    }

    #[step]
    async fn gather(&self, ev: Collected<Done>) -> Emit<(InputRequired<u8>, StopEvent<u8>)> {
        Emit::new(StopEvent::new(ev.len() as u8))
    }

    #[step]
    async fn approve(&self, ev: Approval) -> StopEvent<u8> {
        StopEvent::new(u8::from(ev.0))
    }
}

const SPLIT: StepId = 0;
const WORK: StepId = 1;
const AUDIT: StepId = 2;
const GATHER: StepId = 3;

type Cmds = std::collections::VecDeque<Command>;

/// A core of workflow `W`.
fn core<W: Workflow>(options: CoreOptions) -> RunCore {
    RunCore::new(table::<W>(), options)
}

fn erase(event: FlowEvent) -> ErasedEvent {
    ErasedEvent::new(event)
}

/// An erased event of `Flow` as its enum.
fn typed(event: &ErasedEvent) -> FlowEvent {
    // SAFETY: the tests erase only `FlowEvent`s into `Flow`'s cores.
    unsafe { event.as_typed::<FlowEvent>() }.clone()
}

fn erase_emitted(emitted: Emitted<FlowEvent>) -> Emitted<ErasedEvent> {
    match emitted {
        Emitted::Nothing => Emitted::Nothing,
        Emitted::One(event) => Emitted::One(erase(event)),
        Emitted::Many(events) => Emitted::Many(events.into_iter().map(erase).collect()),
    }
}

/// The invocations among `commands` (which are drained), as (id, step, input).
fn invoked(commands: &mut Cmds) -> Vec<(InvocationId, StepId, String)> {
    commands
        .drain(..)
        .filter_map(|c| match c {
            Command::Invoke { invocation, step, input, .. } => Some((invocation, step, format!("{input:?}"))),
            Command::Finish(outcome) => panic!("unexpected finish: {:?}", outcome.map(|_| ())),
            _ => None,
        })
        .collect()
}

fn finished(commands: &mut Cmds) -> Result<u8, WorkflowError> {
    match commands.pop_back() {
        Some(Command::Finish(outcome)) => outcome.map(output::<Flow>),
        other => panic!("expected a finish, got {other:?}"),
    }
}

/// A core that has started with `input`, and the invocation of `split`.
fn started(input: u8) -> (RunCore, Cmds, InvocationId) {
    let (mut core, mut commands) = (core::<Flow>(CoreOptions::default()), Cmds::new());
    core.handle(Input::Start(erase(Flow::start_event(input))), &mut commands);
    let calls = invoked(&mut commands);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, SPLIT);
    (core, commands, calls[0].0)
}

/// A core started with `input` whose `split` fanned out `jobs` jobs, and
/// the invocations that gave.
fn fanned_out(input: u8, jobs: u8) -> (RunCore, Cmds, Vec<(InvocationId, StepId, String)>) {
    let (mut core, mut commands, split) = started(input);
    returns(&mut core, split, self::jobs(0..jobs), &mut commands);
    let calls = invoked(&mut commands);
    (core, commands, calls)
}

/// The invocation of `step` among `calls`.
fn of(calls: &[(InvocationId, StepId, String)], step: StepId) -> InvocationId {
    calls.iter().find(|c| c.1 == step).expect("the step was invoked").0
}

/// Invocation `invocation` returns `emitted`.
fn returns(core: &mut RunCore, invocation: InvocationId, emitted: Emitted<FlowEvent>, commands: &mut Cmds) {
    core.handle(Input::StepFinished { invocation, result: Ok(erase_emitted(emitted)) }, commands);
}

/// The caller sends `event` and no waiter takes it.
fn caller_sends(core: &mut RunCore, event: FlowEvent, commands: &mut Cmds) {
    core.handle(Input::External { event: erase(event), waiter: None }, commands);
}

fn jobs(range: std::ops::Range<u8>) -> Emitted<FlowEvent> {
    Emitted::Many(range.map(|i| FlowEvent::Job(Job(i))).collect())
}

#[test]
fn start_invokes_the_start_consumer() {
    let (mut core, mut commands) = (core::<Flow>(CoreOptions::default()), Cmds::new());
    core.handle(Input::Start(erase(Flow::start_event(3))), &mut commands);
    let calls = invoked(&mut commands);
    assert_eq!(calls[0].2, r#"One(StartEvent<u8>({"input":3}))"#);
}

#[test]
fn events_are_broadcast_and_held_back_beyond_num_workers() {
    let (mut core, mut commands, calls) = fanned_out(3, 3);
    // `work` has one worker, `audit` two: three jobs give 1 + 2 invocations now.
    assert_eq!(calls.iter().filter(|c| c.1 == WORK).count(), 1);
    assert_eq!(calls.iter().filter(|c| c.1 == AUDIT).count(), 2);
    assert_eq!(core.active_steps(), ["work", "audit"]);

    // `work` finishes without an event: the next queued job goes to it, in order.
    let work = of(&calls, WORK);
    returns(&mut core, work, Emitted::Nothing, &mut commands);
    assert_eq!(invoked(&mut commands)[0].2, "One(Job(1))");
}

#[test]
fn a_collector_runs_once_when_its_fan_out_has_settled() {
    let (mut core, mut commands, mut pending) = fanned_out(3, 3);
    let mut gathered = None;
    // Drive every invocation: `work` turns each job into `Done` (but job 1
    // into nothing), `audit` emits nothing, until `gather` is invoked.
    while let Some((id, step, input)) = pending.pop() {
        let result = match step {
            WORK if input.contains("Job(1)") => Emitted::Nothing,
            WORK => Emitted::One(FlowEvent::Done(Done(9))),
            AUDIT => Emitted::Nothing,
            GATHER => {
                gathered = Some(input);
                continue;
            }
            other => panic!("unexpected step {other}"),
        };
        returns(&mut core, id, result, &mut commands);
        pending.extend(invoked(&mut commands));
    }
    assert_eq!(gathered.as_deref(), Some("Collected([Done(9), Done(9)])"));
}

#[test]
fn an_empty_fan_out_still_runs_its_collector_once_with_nothing() {
    let (_, _, calls) = fanned_out(0, 0);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!((calls[0].1, calls[0].2.as_str()), (GATHER, "Collected([])"));
}

#[test]
fn a_fan_out_whose_branches_emit_nothing_still_runs_its_collector() {
    let (mut core, mut commands, mut pending) = fanned_out(2, 2);
    let mut gathered = Vec::new();
    while let Some((id, step, input)) = pending.pop() {
        if step == GATHER {
            gathered.push(input);
            continue;
        }
        returns(&mut core, id, Emitted::Nothing, &mut commands);
        pending.extend(invoked(&mut commands));
    }
    assert_eq!(gathered, ["Collected([])"], "once, when the last branch ended");
}

#[test]
fn the_stop_event_finishes_at_once_and_later_completions_are_ignored() {
    let (mut core, mut commands, calls) = fanned_out(1, 2);
    let audit = of(&calls, AUDIT);
    let emitted = Emitted::Many(vec![
        FlowEvent::StopEvent(StopEvent::new(7)),
        FlowEvent::Job(Job(9)), // after the stop: never routed
    ]);
    returns(&mut core, audit, emitted, &mut commands);
    assert_eq!(finished(&mut commands).unwrap(), 7);
    assert!(commands.is_empty(), "a finish is the only command");
    let work = of(&calls, WORK);
    returns(&mut core, work, Emitted::Nothing, &mut commands);
    assert!(commands.is_empty(), "nothing happens after the finish");
}

#[test]
fn no_work_left_and_no_stop_is_a_stall_naming_recent_events() {
    let (mut core, mut commands, split) = started(0);
    returns(&mut core, split, Emitted::Nothing, &mut commands);
    let err = finished(&mut commands).unwrap_err();
    assert!(
        matches!(&err, WorkflowError::Stalled { last_events, .. } if last_events == &["StartEvent<u8>"]),
        "{err:?}"
    );
}

#[test]
fn a_request_for_input_keeps_the_run_waiting_until_the_caller_answers() {
    let (mut core, mut commands) = (core::<Flow>(CoreOptions::default()), Cmds::new());
    core.handle(Input::Start(erase(Flow::start_event(0))), &mut commands);
    let split = invoked(&mut commands)[0].0;
    // Pretend `split` asked for input: the request is streamed, the run waits.
    let request = FlowEvent::InputRequired(InputRequired::new(1));
    returns(&mut core, split, Emitted::One(request), &mut commands);
    assert!(
        matches!(commands.make_contiguous(), [Command::Stream(RunEvent::Event(e))] if matches!(typed(e), FlowEvent::InputRequired(_)))
    );
    commands.clear();
    assert!(!core.is_finished(), "waiting for input is not a stall");
    caller_sends(&mut core, FlowEvent::Approval(Approval(true)), &mut commands);
    let approve = invoked(&mut commands)[0].0;
    core.handle(
        Input::StepFinished {
            invocation: approve,
            result: Ok(Emitted::One(erase(FlowEvent::StopEvent(StopEvent::new(1))))),
        },
        &mut commands,
    );
    assert_eq!(finished(&mut commands).unwrap(), 1);
}

#[test]
fn a_waiter_gets_the_matching_external_event_and_others_are_kept() {
    let (mut core, mut commands, _split) = started(1);
    caller_sends(&mut core, FlowEvent::InputRequired(InputRequired::new(5)), &mut commands);
    assert!(commands.is_empty(), "an event nobody takes is kept, not lost");
    // The driver found it among the unclaimed events with the wait's filter.
    assert_eq!(core.unclaimed().count(), 1);
    core.handle(Input::Wait { waiter: 42, from: 0, claim: Some(0), request: None }, &mut commands);
    assert!(matches!(
        commands.make_contiguous(),
        [Command::Wake { waiter: 42, event }] if matches!(typed(event), FlowEvent::InputRequired(r) if r.request == 5)
    ));
    assert_eq!(core.unclaimed().count(), 0, "a claimed event is taken once");
}

#[test]
fn answering_a_waiting_step_leaves_a_returned_request_open() {
    let (mut core, mut commands, calls) = fanned_out(1, 1);
    let work = of(&calls, WORK);
    let audit = of(&calls, AUDIT);
    // `work` waits in place for an approval; `audit` returns a request.
    core.handle(Input::Wait { waiter: 7, from: 0, claim: None, request: None }, &mut commands);
    let request = FlowEvent::InputRequired(InputRequired::new(3));
    returns(&mut core, audit, Emitted::One(request), &mut commands);
    commands.clear();

    // The caller answers the waiting step: that answers no returned request.
    let answer = FlowEvent::Approval(Approval(false));
    core.handle(Input::External { event: erase(answer), waiter: Some(7) }, &mut commands);
    assert!(matches!(commands.make_contiguous(), [Command::Wake { waiter: 7, .. }]));
    commands.clear();
    returns(&mut core, work, Emitted::Nothing, &mut commands);
    assert!(!core.is_finished(), "the returned request is still open: {commands:?}");

    // The answer to the request reaches `approve`, which stops the run.
    caller_sends(&mut core, FlowEvent::Approval(Approval(true)), &mut commands);
    let approve = invoked(&mut commands)[0].0;
    let stop = Emitted::One(FlowEvent::StopEvent(StopEvent::new(1)));
    returns(&mut core, approve, stop, &mut commands);
    assert_eq!(finished(&mut commands).unwrap(), 1);
}

#[test]
fn a_failure_finishes_the_run_naming_the_step() {
    let (mut core, mut commands, split) = started(1);
    core.handle(
        Input::StepFinished { invocation: split, result: Err(StepFailure::Panic("boom".into())) },
        &mut commands,
    );
    let err = finished(&mut commands).unwrap_err();
    assert!(matches!(err, WorkflowError::StepPanicked { step: "split", .. }), "{err:?}");
}

#[test]
fn cancel_and_timeout_finish_with_their_own_errors() {
    let (mut core, mut commands, _) = started(1);
    core.handle(Input::TimedOut { after: Duration::from_secs(1) }, &mut commands);
    let err = finished(&mut commands).unwrap_err();
    assert!(matches!(&err, WorkflowError::Timeout { active_steps, .. } if active_steps == &["split"]));

    let (mut core, mut commands, _) = started(1);
    core.handle(Input::Cancel, &mut commands);
    assert!(matches!(finished(&mut commands).unwrap_err(), WorkflowError::Cancelled { workflow: "Flow" }));
}

#[test]
fn a_stall_reports_the_last_five_events_oldest_first() {
    let (mut core, mut commands, split) = started(7);
    // `work` and `audit` both take each job; finish them all with nothing.
    returns(&mut core, split, jobs(0..7), &mut commands);
    let mut pending = invoked(&mut commands);
    while let Some((id, _, _)) = pending.pop() {
        returns(&mut core, id, Emitted::Nothing, &mut commands);
        if core.is_finished() {
            break;
        }
        pending.extend(invoked(&mut commands));
    }
    let err = finished(&mut commands).unwrap_err();
    let WorkflowError::Stalled { last_events, .. } = err else { panic!("{err:?}") };
    assert_eq!(last_events, ["Job", "Job", "Job", "Job", "Job"], "StartEvent<u8> has left the ring");
}

#[test]
fn internal_events_report_worker_slots() {
    let mut core = core::<Flow>(CoreOptions {
        internal_events: true,
        trace: false,
        snapshots: false,
        stream_journaled: false,
    });
    let mut commands = Cmds::new();
    core.handle(Input::Start(erase(Flow::start_event(1))), &mut commands);
    assert!(matches!(
        commands.front(),
        Some(Command::Stream(RunEvent::StepStarted {
            step: "split",
            worker: 0,
            attempt: 1,
            input: "StartEvent<u8>"
        }))
    ));
}

/// A run recorded through the driver, replayed on a fresh core.
mod replay {
    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use super::*;
    use crate::runtime::verbose::RECORD;
    use crate::BoxError;

    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    struct Part(u8);
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    struct Done(u8);
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    struct Ask(u8);
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    struct Answer(u8);

    /// A fan-out whose second branch fails once and is retried, then a
    /// merge that waits for the caller's answer and asks again; the caller
    /// cancels the run instead of answering twice.
    struct Recorded;

    #[workflow]
    impl Recorded {
        #[step]
        async fn split(&self, ev: StartEvent<u8>) -> Vec<Part> {
            let parts = 0..ev.input;
            parts.map(Part).collect()
        }

        #[step(retry = Backoff::exponential(3).base_delay(Duration::from_millis(2)))]
        async fn work(&self, ctx: &Context, ev: Part) -> Result<Done, BoxError> {
            if ev.0 == 1 && ctx.attempt() == 1 {
                return Err("flaky".into());
            }
            Ok(Done(ev.0))
        }

        #[step(streams = [Ask], waits = [Answer])]
        async fn merge(&self, ctx: &Context, ev: Collected<Done>) -> Result<InputRequired<u8>, WaitError> {
            let answer = ctx.wait_for_event::<Answer>().request(Ask(ev.len() as u8)).await?;
            Ok(InputRequired::new(answer.0))
        }

        #[step]
        async fn finish(&self, ev: HumanResponse<u8>) -> StopEvent<u8> {
            StopEvent::new(ev.response)
        }
    }

    /// Keeps the JSON of every `core input` record.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<(Value, Value)>>>);

    #[derive(Default)]
    struct Fields {
        input: String,
        commands: String,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "input" => self.input = format!("{value:?}"),
                "commands" => self.commands = format!("{value:?}"),
                _ => {}
            }
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == RECORD
        }
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            if fields.input.is_empty() {
                return; // "core created"
            }
            let parse = |text: &str| serde_json::from_str::<Value>(text).expect("recorded as JSON");
            self.0.lock().unwrap().push((parse(&fields.input), parse(&fields.commands)));
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Runs `Recorded` on a current-thread runtime under the recorder:
    /// answers the first request, cancels at the second. Returns the record.
    fn record() -> Vec<(Value, Value)> {
        let recorder = Recorder::default();
        let _guard = tracing::subscriber::set_default(recorder.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut handler = Recorded.start(3);
            while let Some(event) = handler.events().next().await {
                match event {
                    RunEvent::Event(RecordedEvent::Ask(_)) => handler.send_event(Answer(7)).unwrap(),
                    RunEvent::Event(RecordedEvent::InputRequired(_)) => handler.cancel(),
                    _ => {}
                }
            }
            let outcome = handler.await;
            assert!(matches!(outcome, Err(WorkflowError::Cancelled { .. })), "{outcome:?}");
        });
        let record = recorder.0.lock().unwrap().clone();
        record
    }

    #[test]
    fn a_recorded_run_replays_to_the_same_commands_on_a_fresh_core() {
        let record = record();
        let kinds: Vec<String> = record
            .iter()
            .map(|(input, _)| match input {
                Value::String(word) => word.clone(),
                other => other.as_object().unwrap().keys().next().unwrap().clone(),
            })
            .collect();
        for kind in ["start", "step_finished", "wait", "external", "cancel"] {
            assert!(kinds.iter().any(|k| k == kind), "no `{kind}` input in {kinds:?}");
        }
        let retried = record.iter().flat_map(|(_, commands)| commands.as_array().unwrap()).any(|c| {
            c.pointer("/invoke/attempt") == Some(&Value::from(2))
                && c.pointer("/invoke/delay_ns") != Some(&0.into())
        });
        assert!(retried, "the flaky branch was invoked again after a delay");
        let fan_out = record.iter().any(|(input, _)| {
            input
                .pointer("/step_finished/result/emitted")
                .is_some_and(|e| e.as_array().is_some_and(|a| a.len() == 3))
        });
        assert!(fan_out, "split fanned out three parts");

        // As the driver set it up for a run started with `start`.
        let options =
            CoreOptions { internal_events: false, trace: false, snapshots: true, stream_journaled: false };
        let mut core = core::<Recorded>(options);
        for (i, (input, commands)) in record.iter().enumerate() {
            let decoded = Input::from_json(input, table::<Recorded>().events).unwrap();
            let mut out = Cmds::new();
            core.handle(decoded, &mut out);
            let replayed: Vec<Value> = out.iter().map(|c| c.to_json(Recorded::INFO).unwrap()).collect();
            assert_eq!(&Value::Array(replayed), commands, "input {i}: {input}");
        }
        assert!(core.is_finished(), "the replayed run ends as the recorded one did");
    }
}
