use workflow_core::prelude::*;

#[event]
struct Fetch(String);

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn begin(&self, ev: StartEvent<String>) -> Fetch {
        Fetch(ev.input)
    }

    // Not a handler: it does not take `StepFailed`.
    #[step(for_steps = [begin], max_recoveries = 2)]
    async fn fetch(&self, ev: Fetch) -> StopEvent<String> {
        StopEvent::new(ev.0)
    }

    #[step(max_recoveries = 0)]
    async fn fallback(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(ev.error)
    }
}

fn main() {}
