use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Lost;

// Not an event: no derives.
struct Job;

struct Flow;

#[workflow]
impl Flow {
    // Both mistakes are reported in one build: `Job` is not an event, and
    // `Lost` is consumed by no step.
    #[step(sends = [Job])]
    async fn first(&self, _ctx: &Context<()>, _ev: StartEvent<u32>) -> Emit<(Lost, StopEvent<u32>)> {
        Emit::new(StopEvent::new(1))
    }
}

fn main() {}
