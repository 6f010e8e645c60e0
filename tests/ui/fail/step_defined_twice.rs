use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> A {
        A
    }

    #[step]
    async fn first(&self, _ev: A) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
