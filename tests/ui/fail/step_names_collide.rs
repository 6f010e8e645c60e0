use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn stage_2(&self, _ev: StartEvent<u32>) -> A {
        A
    }

    // `stage_2` and `stage2` would both be `FlowStep::Stage2`.
    #[step]
    async fn stage2(&self, _ev: A) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
