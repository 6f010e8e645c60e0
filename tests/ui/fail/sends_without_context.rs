use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin;

struct Flow;

#[workflow]
impl Flow {
    // Without a context the step cannot send, so the run would stall.
    #[step(sends = [Spin])]
    async fn first(&self, _ev: StartEvent<u32>) -> Option<StopEvent<u32>> {
        None
    }

    #[step]
    async fn spin(&self, _ev: Spin) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
