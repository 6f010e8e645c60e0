//! Runtime semantics: routing, branching, loops, state, and every error path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
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

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
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
    Countdown
        .run_with(1, RunOptions::new().context(ctx.clone()))
        .await
        .unwrap();
    let second = Countdown
        .run_with(1, RunOptions::new().context(ctx.clone()))
        .await
        .unwrap();
    assert_eq!(second, vec![1, 0, 1, 0]);
    assert!(!ctx.in_use());
}
