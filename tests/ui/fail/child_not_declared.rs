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

struct Agent;

// `ask` declares `Search` but runs `Translate` too.
#[workflow]
impl Agent {
    #[step(children = [Search])]
    async fn ask(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Result<StopEvent<String>, BoxError> {
        let found = ctx.run_child(Search, ev.input).await?;
        let again = ctx.run_child(Translate::default(), found).await?;
        Ok(StopEvent::new(again))
    }
}

fn main() {}
