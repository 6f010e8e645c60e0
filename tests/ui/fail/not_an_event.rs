use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Plain;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Plain {
        Plain
    }

    #[step]
    async fn second(&self, _ev: Plain) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
