use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin;

struct Flow;

#[workflow]
impl Flow {
    #[step(waits = [String])]
    async fn first(&self, ctx: &Context<()>, _ev: StartEvent<u32>) -> Result<StopEvent<u32>, WaitError> {
        let text = ctx.wait_for_event::<String>().await?;
        Ok(StopEvent::new(text.len() as u32))
    }
}

fn main() {}
