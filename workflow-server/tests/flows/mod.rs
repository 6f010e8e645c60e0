//! The workflows the protocol tests drive, in the shapes of the Python
//! client's own tests: a greeting, a crash, a question for a human, and a
//! slow one that times out. Shared by the Rust tests and the example
//! server the Python tests start.

use std::time::Duration;

use workflow_core::prelude::*;
use workflow_server::Server;

/// The greeting's start event: its own type, as LlamaIndex's `InputEvent(StartEvent)`.
#[event]
pub struct InputEvent {
    pub greeting: String,
    pub name: String,
}

#[event]
pub struct GreetEvent {
    pub greeting: String,
    pub exclamation_marks: u32,
}

/// The greeting's stop event.
#[event]
pub struct OutputEvent {
    pub greeting: String,
}

#[derive(Default)]
pub struct Greeting;

#[workflow(start = InputEvent, stop = OutputEvent)]
impl Greeting {
    #[step(streams = [GreetEvent])]
    async fn greet(&self, ctx: &Context<()>, ev: InputEvent) -> GreetEvent {
        let greet = GreetEvent { greeting: format!("{} {}", ev.greeting, ev.name), exclamation_marks: 2 };
        ctx.write_event_to_stream(greet.clone());
        greet
    }

    #[step]
    async fn shout(&self, ev: GreetEvent) -> OutputEvent {
        OutputEvent { greeting: format!("{}{}", ev.greeting, "!".repeat(ev.exclamation_marks as usize)) }
    }
}

#[derive(Default)]
pub struct Crashing;

#[workflow]
impl Crashing {
    #[step]
    async fn crash(&self, ev: StartEvent<()>) -> Result<StopEvent<String>, BoxError> {
        let _ = ev;
        Err("the disk is full".into())
    }
}

/// Asks the caller a question and answers with what it said.
#[event]
pub struct Asked {
    pub question: String,
}

#[event]
pub struct Answered {
    pub answer: String,
}

#[derive(Default)]
pub struct Hitl;

#[workflow(requests = [Asked], external = [Answered])]
impl Hitl {
    #[step]
    async fn ask(&self, ev: StartEvent<String>) -> Asked {
        Asked { question: format!("What do you think of {}?", ev.input) }
    }

    #[step]
    async fn answer(&self, ev: Answered) -> StopEvent<String> {
        StopEvent::new(format!("you said: {}", ev.answer))
    }
}

/// Writes a tick to its stream every 20 ms, `input` times, then stops.
#[event]
pub struct Tick {
    pub n: u32,
}

#[derive(Default)]
pub struct Ticker;

#[workflow]
impl Ticker {
    #[step(streams = [Tick])]
    async fn tick(&self, ctx: &Context<()>, ev: StartEvent<u32>) -> StopEvent<u32> {
        for n in 0..ev.input {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ctx.write_event_to_stream(Tick { n });
        }
        StopEvent::new(ev.input)
    }
}

/// Sleeps for `input` milliseconds.
#[derive(Default)]
pub struct Sleeper;

#[workflow]
impl Sleeper {
    #[step]
    async fn sleep(&self, ev: StartEvent<u64>) -> StopEvent<u64> {
        tokio::time::sleep(Duration::from_millis(ev.input)).await;
        StopEvent::new(ev.input)
    }
}

/// A step's progress, for the stream.
#[event]
pub struct Progress {
    pub step: String,
    pub n: u32,
}

#[event]
pub struct A {
    pub n: u32,
}

#[event]
pub struct B {
    pub n: u32,
}

/// Three steps, each writing one event to the stream: the load benchmark's.
#[derive(Default)]
pub struct Chain;

#[workflow]
impl Chain {
    #[step(streams = [Progress])]
    async fn first(&self, ctx: &Context<()>, ev: StartEvent<u32>) -> A {
        ctx.write_event_to_stream(Progress { step: "first".into(), n: ev.input });
        A { n: ev.input + 1 }
    }

    #[step(streams = [Progress])]
    async fn second(&self, ctx: &Context<()>, ev: A) -> B {
        ctx.write_event_to_stream(Progress { step: "second".into(), n: ev.n });
        B { n: ev.n + 1 }
    }

    #[step(streams = [Progress])]
    async fn third(&self, ctx: &Context<()>, ev: B) -> StopEvent<u32> {
        ctx.write_event_to_stream(Progress { step: "third".into(), n: ev.n });
        StopEvent::new(ev.n + 1)
    }
}

/// A lap of a relay.
#[event]
pub struct Lap {
    pub n: u32,
    pub of: u32,
}

/// Halfway marks of a lap, for the stream.
#[event]
pub struct Mark {
    pub lap: u32,
    pub half: u32,
}

/// `input` laps of 60 ms, one after another, each streaming two marks
/// (one as it starts, one halfway): the restart tests kill the server
/// between and within laps. Its result is 1 + 2 + … + `input`.
#[derive(Default)]
pub struct Relay;

#[workflow]
impl Relay {
    #[step]
    async fn begin(&self, ev: StartEvent<u32>) -> Lap {
        Lap { n: 1, of: ev.input.max(1) }
    }

    #[step(streams = [Mark], num_workers = 1)]
    async fn lap(&self, ctx: &Context<()>, ev: Lap) -> Emit<(Lap, StopEvent<u32>)> {
        ctx.write_event_to_stream(Mark { lap: ev.n, half: 0 });
        tokio::time::sleep(Duration::from_millis(30)).await;
        ctx.write_event_to_stream(Mark { lap: ev.n, half: 1 });
        tokio::time::sleep(Duration::from_millis(30)).await;
        if ev.n >= ev.of {
            Emit::new(StopEvent::new((1..=ev.of).sum()))
        } else {
            Emit::new(Lap { n: ev.n + 1, of: ev.of })
        }
    }
}

/// Waits in its step for the caller's answer (`wait_for_event`), which
/// keeps it in memory while it waits.
#[derive(Default)]
pub struct Patient;

#[workflow]
impl Patient {
    #[step(streams = [Asked], waits = [Answered])]
    async fn ask(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Result<StopEvent<String>, WaitError> {
        let answer = ctx
            .wait_for_event::<Answered>()
            .request(Asked { question: format!("And {}?", ev.input) })
            .await?;
        Ok(StopEvent::new(format!("you said: {}", answer.answer)))
    }
}

/// A state the journal cannot write: its runs live in memory only.
#[derive(Default)]
pub struct Scratch(pub std::cell::Cell<u32>);

/// Sleeps for `input` milliseconds with a state that cannot be journaled.
#[derive(Default)]
pub struct Forgetful;

#[workflow]
impl Forgetful {
    #[step]
    async fn sleep(&self, ctx: &Context<Scratch>, ev: StartEvent<u64>) -> StopEvent<u64> {
        ctx.update(|s| s.0.set(s.0.get() + 1));
        tokio::time::sleep(Duration::from_millis(ev.input)).await;
        StopEvent::new(ev.input)
    }
}

/// Why a refund is asked for.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub enum Reason {
    Damaged,
    Late,
    Unwanted,
}

/// One line of an order.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Line {
    pub sku: String,
    pub quantity: u32,
}

/// A refund request: the approval's start event, with nested objects, an
/// enum, an array and optional fields, for the viewer's generated form.
#[event]
pub struct RefundRequest {
    pub order: String,
    pub amount_cents: u32,
    pub reason: Reason,
    pub lines: Vec<Line>,
    pub note: Option<String>,
}

/// What the reviewer is asked.
#[event]
pub struct Proposal {
    pub order: String,
    pub text: String,
}

#[event]
pub struct Decision {
    pub order: String,
    pub approved: bool,
    pub refunded_cents: u32,
}

/// A refund request, received.
#[event]
pub struct Received {
    pub request: RefundRequest,
}

/// Asks a person to approve a refund. Each of its first two steps waits at
/// a gate the browser tests hold (the files `$WORKFLOW_UI_GATE.1` and
/// `.2`, if the variable is set), so that they can see each running: a
/// page that starts reading a run's events once it has started sees
/// `review` start.
#[derive(Default)]
pub struct Approval;

/// Waits until gate `n` is open.
async fn gate(n: u32) {
    if let Some(gate) = std::env::var_os("WORKFLOW_UI_GATE") {
        let mut file = gate;
        file.push(format!(".{n}"));
        while !std::path::Path::new(&file).exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[workflow(start = RefundRequest)]
impl Approval {
    #[step]
    async fn receive(&self, ev: RefundRequest) -> Received {
        gate(1).await;
        Received { request: ev }
    }

    #[step]
    async fn review(&self, ctx: &Context<Pending>, ev: Received) -> InputRequired<Proposal> {
        gate(2).await;
        let ev = ev.request;
        ctx.update(|p| *p = Pending { order: ev.order.clone(), amount_cents: ev.amount_cents });
        let text = format!("Refund {} cents on {} ({:?})?", ev.amount_cents, ev.order, ev.reason);
        InputRequired::new(Proposal { order: ev.order, text })
    }

    #[step]
    async fn decide(&self, ctx: &Context<Pending>, ev: HumanResponse<String>) -> StopEvent<Decision> {
        let approved = matches!(ev.response.trim().to_lowercase().as_str(), "y" | "yes");
        let Pending { order, amount_cents } = ctx.read(Clone::clone);
        StopEvent::new(Decision { order, approved, refunded_cents: if approved { amount_cents } else { 0 } })
    }
}

/// The refund the approval waits on.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub order: String,
    pub amount_cents: u32,
}

/// The flows the browser tests drive (`scripts/check-ui`).
#[allow(dead_code)] // the example's `ui` mode
pub fn ui_server() -> Server {
    Server::new()
        .workflow_as("approval", Approval, None)
        .and_then(|s| s.workflow_as("greeting", Greeting, None))
        .expect("the test workflows are registered and named once")
}

/// Only the flows that end at once, whatever their input: what a fuzzer
/// may start as often as it likes without a run that waits.
#[allow(dead_code)] // the example's `quick` mode; the test binaries share this file
pub fn quick_server() -> Server {
    Server::new()
        .workflow_as("greeting", Greeting, None)
        .and_then(|s| s.workflow_as("crashing", Crashing, None))
        .expect("the test workflows are registered and named once")
}

/// The server the tests drive: the flows above, `slow` a sleeper that
/// times out after half a second.
#[allow(dead_code)] // not the restart tests'
pub fn server() -> Server {
    Server::new()
        .workflow_as("greeting", Greeting, None)
        .and_then(|s| s.workflow_as("crashing", Crashing, None))
        .and_then(|s| s.workflow_as("hitl", Hitl, None))
        .and_then(|s| s.workflow_as("ticker", Ticker, None))
        .and_then(|s| s.workflow_as("sleeper", Sleeper, None))
        .and_then(|s| s.workflow_as("slow", Sleeper, Some(Duration::from_millis(500))))
        .and_then(|s| s.workflow_as("chain", Chain, None))
        .expect("the test workflows are registered and named once")
}

/// The flows the restart tests drive: a relay of laps, a step that waits
/// in place, and a run whose state cannot be journaled.
#[allow(dead_code)] // the example's `restart` mode and the restart tests
pub fn restart_server() -> Server {
    Server::new()
        .workflow_as("relay", Relay, None)
        .and_then(|s| s.workflow_as("hitl", Hitl, None))
        .and_then(|s| s.workflow_as("patient", Patient, None))
        .and_then(|s| s.workflow_as("forgetful", Forgetful, None))
        .expect("the test workflows are registered and named once")
}
