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

    #[step]
    async fn fetch(&self, ev: Fetch) -> StopEvent<String> {
        StopEvent::new(ev.0)
    }

    // `fetchh` is a typo, and `missing` names nothing at all.
    #[step(for_steps = [fetchh, missing])]
    async fn fallback(&self, ev: StepFailed) -> StopEvent<String> {
        StopEvent::new(ev.error)
    }
}

fn main() {}
