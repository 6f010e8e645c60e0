use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[workflow(external = [B])]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> A {
        A
    }

    // A stream-only event is not an edge: nothing consumes `A` here.
    #[step(streams = [B])]
    async fn second(&self, _ctx: &Context<()>, _ev: B) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
