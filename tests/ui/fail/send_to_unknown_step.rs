use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[workflow]
impl Flow {
    #[step(sends = [A])]
    async fn first(&self, ctx: &Context<()>, _ev: StartEvent<u32>) -> Result<Option<A>, SendError> {
        ctx.send_event_to(FlowStep::Third, A);
        Ok(None)
    }

    #[step]
    async fn second(&self, _ev: A) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
