use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, ctx: &Context<()>, _ev: StartEvent<u32>) -> Result<StopEvent<u32>, WaitError> {
        // The type is inferred, so the macro cannot see it; rustc can.
        let _b: B = ctx.wait_for_event().await?;
        Ok(StopEvent::new(1))
    }
}

fn main() {}
