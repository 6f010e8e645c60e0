use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;

struct Flow;

#[workflow]
impl Flow {
    // `Emit` takes 2 to 8 alternatives.
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Emit<(A, A, A, A, A, A, A, A, StopEvent<u32>)> {
        Emit::new(StopEvent::new(1))
    }
}

fn main() {}
