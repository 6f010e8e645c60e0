use workflow_core::prelude::*;

#[derive(Default)]
struct State {
    seen: u32,
}

type Ctx = Context<State>;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, ctx: &Ctx, ev: StartEvent<u32>) -> StopEvent<u32> {
        ctx.update(|s| s.seen += 1);
        StopEvent::new(ev.input)
    }
}

#[tokio::main]
async fn main() {
    let _ = Flow.run(1).await;
}
