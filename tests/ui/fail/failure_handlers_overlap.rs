use workflow_core::prelude::*;

#[event]
struct Fetch(String);
#[event]
struct Parse(String);

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn begin(&self, ev: StartEvent<String>) -> Fetch {
        Fetch(ev.input)
    }

    #[step]
    async fn fetch(&self, ev: Fetch) -> Parse {
        Parse(ev.0)
    }

    #[step]
    async fn parse(&self, ev: Parse) -> StopEvent<String> {
        StopEvent::new(ev.0)
    }

    #[step(for_steps = [fetch])]
    async fn on_fetch(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(ev.error)
    }

    // Two handlers for `fetch`, and one that names a handler.
    #[step(for_steps = [parse, fetch, on_fetch])]
    async fn on_parse(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(ev.error)
    }

    // Two handlers that both cover every step.
    #[step]
    async fn any_a(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(ev.error)
    }

    #[step]
    async fn any_b(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(ev.error)
    }
}

fn main() {}
