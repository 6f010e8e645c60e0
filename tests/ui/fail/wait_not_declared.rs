use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin;

struct Flow;

#[workflow]
impl Flow {
    #[step(waits = [HumanResponse<u32>])]
    async fn first(&self, ctx: &Context<()>, _ev: StartEvent<u32>) -> Result<StopEvent<u32>, WaitError> {
        let yes = ctx.wait_for_event::<HumanResponse<bool>>().await?;
        let n = ctx.wait_for_event::<HumanResponse<u32>>().await?;
        Ok(StopEvent::new(if yes.response { n.response } else { 0 }))
    }
}

fn main() {}
