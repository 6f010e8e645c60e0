use workflow_core::prelude::*;

#[derive(Default)]
struct Search;

#[workflow]
impl Search {
    #[step]
    async fn only(&self, ev: StartEvent<String>) -> StopEvent<usize> {
        StopEvent::new(ev.input.len())
    }
}

struct Agent;

// `Search` starts from a `String`, and gives a `usize`.
#[workflow]
impl Agent {
    #[step(children = [Search])]
    async fn ask(&self, ctx: &Context<()>, ev: StartEvent<u32>) -> Result<StopEvent<String>, BoxError> {
        let hits: String = ctx.run_child(Search, ev.input).await?;
        Ok(StopEvent::new(hits))
    }
}

fn main() {}
