use workflow_core::prelude::*;

#[event]
struct Job(u32);

#[event]
struct Progress {
    done: u32,
}

struct Flow;

#[workflow]
impl Flow {
    // Neither `Job` nor `Progress` is declared: the macro sees both types.
    #[step]
    async fn first(&self, ctx: &Context, _ev: StartEvent<u32>) -> Option<StopEvent<u32>> {
        ctx.send_event(Job(1));
        ctx.write_event_to_stream(Progress { done: 1 });
        None
    }

    #[step]
    async fn job(&self, ev: Job) -> StopEvent<u32> {
        StopEvent::new(ev.0)
    }
}

#[tokio::main]
async fn main() {
    // No cascade here: the run's input and output are known.
    let _ = Flow.run(1).await;
}
