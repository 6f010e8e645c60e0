use workflow_core::prelude::*;

#[derive(Default)]
struct Search;

#[workflow]
impl Search {
    #[step]
    async fn only(&self, ev: StartEvent<String>) -> StopEvent<String> {
        StopEvent::new(ev.input)
    }
}

#[derive(Default)]
struct Translate;

#[workflow]
impl Translate {
    #[step]
    async fn only(&self, ev: StartEvent<String>) -> StopEvent<String> {
        StopEvent::new(ev.input)
    }
}

fn translator() -> Translate {
    Translate
}

struct Agent;

// The macro cannot see the type of `flow`; rustc checks that no step of
// the workflow declares `Translate`.
#[workflow]
impl Agent {
    #[step(children = [Search])]
    async fn ask(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Result<StopEvent<String>, BoxError> {
        let flow = translator();
        Ok(StopEvent::new(ctx.run_child(flow, ev.input).await?))
    }
}

fn main() {}
