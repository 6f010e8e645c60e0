use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Retrieved;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Retrieved {
        Retrieved
    }

    #[step]
    async fn second(&self, _ev: Retreived) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
