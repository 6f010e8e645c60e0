use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(1)
    }

    // `island` and `ping` feed each other, but nothing from the start reaches them.
    #[step]
    async fn island(&self, _ev: A) -> Emit<(B, StopEvent<u32>)> {
        Emit::new(B)
    }

    #[step]
    async fn ping(&self, _ev: B) -> A {
        A
    }
}

fn main() {}
