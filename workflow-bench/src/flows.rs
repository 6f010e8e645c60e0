//! The scenarios on the workflow runtime.

use std::sync::Arc;

use futures::StreamExt;
use workflow_core::prelude::*;

macro_rules! events {
    ($($name:ident),*) => {$(
        #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
        pub struct $name(pub u64);
    )*};
}

events!(E1, E2, E3, E4, E5, E6, E7, E8, E9, Tick, Job, Done, Item, Hop);

#[derive(Default)]
pub struct Chain;

#[workflow]
impl Chain {
    #[step]
    async fn s0(&self, ev: StartEvent<u64>) -> E1 {
        E1(ev.input)
    }
    #[step]
    async fn s1(&self, ev: E1) -> E2 {
        E2(ev.0 + 1)
    }
    #[step]
    async fn s2(&self, ev: E2) -> E3 {
        E3(ev.0 + 1)
    }
    #[step]
    async fn s3(&self, ev: E3) -> E4 {
        E4(ev.0 + 1)
    }
    #[step]
    async fn s4(&self, ev: E4) -> E5 {
        E5(ev.0 + 1)
    }
    #[step]
    async fn s5(&self, ev: E5) -> E6 {
        E6(ev.0 + 1)
    }
    #[step]
    async fn s6(&self, ev: E6) -> E7 {
        E7(ev.0 + 1)
    }
    #[step]
    async fn s7(&self, ev: E7) -> E8 {
        E8(ev.0 + 1)
    }
    #[step]
    async fn s8(&self, ev: E8) -> E9 {
        E9(ev.0 + 1)
    }
    #[step]
    async fn s9(&self, ev: E9) -> StopEvent<u64> {
        StopEvent::new(ev.0 + 1)
    }
}

/// Events per run of the chain: the start event, E1..E9, the stop event.
pub const CHAIN_EVENTS: u64 = 11;

pub async fn chain(n: u64) -> u64 {
    let flow = Arc::new(Chain);
    for i in 0..n {
        let out = Arc::clone(&flow).run(i).await.expect("the chain runs");
        debug_assert_eq!(out, i + 9);
    }
    n * CHAIN_EVENTS
}

pub async fn concurrent(n: u64) -> u64 {
    let flow = Arc::new(Chain);
    let runs: Vec<_> = (0..n).map(|i| Arc::clone(&flow).start(i)).collect();
    for run in runs {
        run.await.expect("the chain runs");
    }
    n * CHAIN_EVENTS
}

#[derive(Default)]
pub struct Spin;

#[workflow]
impl Spin {
    #[step]
    async fn begin(&self, ev: StartEvent<u64>) -> Tick {
        Tick(ev.input)
    }

    #[step]
    async fn spin(&self, ev: Tick) -> Emit<(Tick, StopEvent<u64>)> {
        if ev.0 == 0 {
            Emit::new(StopEvent::new(0))
        } else {
            Emit::new(Tick(ev.0 - 1))
        }
    }
}

pub async fn spin(n: u64) -> u64 {
    Spin.run(n).await.expect("the loop runs");
    n + 3 // start, n+1 ticks (n..=0), stop
}

#[derive(Default)]
pub struct Fanout;

#[workflow]
impl Fanout {
    #[step]
    async fn split(&self, ev: StartEvent<u64>) -> Vec<Job> {
        (0..ev.input).map(Job).collect()
    }

    #[step(num_workers = 8)]
    async fn work(&self, ev: Job) -> Done {
        Done(ev.0)
    }

    #[step]
    async fn gather(&self, ev: Collected<Done>) -> StopEvent<u64> {
        StopEvent::new(ev.len() as u64)
    }
}

pub async fn fanout(n: u64) -> u64 {
    let gathered = Fanout.run(n).await.expect("the fan-out runs");
    assert_eq!(gathered, n);
    2 * n + 2
}

#[derive(Default)]
pub struct Streamer;

#[workflow]
impl Streamer {
    #[step(streams = [Item])]
    async fn produce(&self, ctx: &Context<()>, ev: StartEvent<u64>) -> Result<StopEvent<u64>, SendError> {
        for i in 0..ev.input {
            ctx.write_event_to_stream(Item(i));
        }
        Ok(StopEvent::new(ev.input))
    }
}

pub async fn stream(n: u64) -> u64 {
    let mut handler = Streamer.start(n);
    let mut seen = 0;
    while let Some(event) = handler.events().next().await {
        if let RunEvent::Event(StreamerEvent::Item(_)) = event {
            seen += 1;
        }
    }
    handler.await.expect("the stream runs");
    assert_eq!(seen, n);
    n + 2
}

#[derive(Default)]
pub struct Stateful;

#[workflow]
impl Stateful {
    #[step]
    async fn begin(&self, ev: StartEvent<u64>) -> Hop {
        Hop(ev.input)
    }

    #[step]
    async fn hop(&self, ctx: &Context<()>, ev: Hop) -> Result<Emit<(Hop, StopEvent<u64>)>, ContextError> {
        ctx.set("last", ev.0)?;
        let last: u64 = ctx.get("last")?;
        if last == 0 {
            Ok(Emit::new(StopEvent::new(0)))
        } else {
            Ok(Emit::new(Hop(last - 1)))
        }
    }
}

pub async fn state(n: u64) -> u64 {
    Stateful.run(n).await.expect("the state loop runs");
    n + 3
}

/// Asks for input and waits for the answer in place: for measuring what a
/// waiting run holds.
#[derive(Default)]
pub struct Asker;

static WAITING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many runs have reached their wait so far.
pub fn waiting() -> u64 {
    WAITING.load(std::sync::atomic::Ordering::Relaxed)
}

#[workflow(external = [HumanResponse<u64>])]
impl Asker {
    #[step(waits = [HumanResponse<u64>])]
    async fn ask(&self, ctx: &Context<()>, ev: StartEvent<u64>) -> Result<StopEvent<u64>, WaitError> {
        WAITING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = ctx.wait_for_event::<HumanResponse<u64>>().await?;
        Ok(StopEvent::new(ev.input + answer.response))
    }
}

impl Asker {
    /// `start` for each input, on one shared instance.
    pub fn start_shared(self) -> impl FnMut(u64) -> workflow_core::Handler<Asker> {
        let flow = Arc::new(self);
        move |i| Arc::clone(&flow).start(i)
    }
}

/// Returns a request and ends its step: the run then waits for the caller
/// with no step in flight.
#[derive(Default)]
pub struct Requester;

#[workflow]
impl Requester {
    #[step]
    async fn ask(&self, ev: StartEvent<u64>) -> InputRequired<u64> {
        WAITING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InputRequired::new(ev.input)
    }

    #[step]
    async fn answer(&self, ev: HumanResponse<u64>) -> StopEvent<u64> {
        StopEvent::new(ev.response)
    }
}
