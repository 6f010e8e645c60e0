//! A stateless step takes `&Context`; a helper function receives a step's
//! context as `&Context<S, FlowEvent>` (the generated event enum).
use workflow_core::prelude::*;

#[event]
struct Job(u32);

/// Sends every job but the last; the step returns that one.
fn send_all_but_last(ctx: &Context<(), FlowEvent>, n: u32) -> Result<Job, SendError> {
    for i in 1..n {
        ctx.send_event(Job(i));
    }
    Ok(Job(n))
}

struct Flow;

#[workflow]
impl Flow {
    #[step(sends = [Job])]
    async fn split(&self, ctx: &Context, ev: StartEvent<u32>) -> Result<Job, SendError> {
        send_all_but_last(ctx, ev.input)
    }

    #[step(num_workers = 1)]
    async fn count(&self, ctx: &Context, ev: Job) -> Option<StopEvent<u32>> {
        let _ = ctx.attempt();
        (ev.0 == 3).then(|| StopEvent::new(ev.0))
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(Flow.run(3).await.unwrap(), 3);
}
