use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Emit<(Spin, StopEvent<u32>)> {
        Emit::new(Spin)
    }

    // Streaming the stop event only tells the caller: the loop never ends.
    #[step(streams = [StopEvent<u32>])]
    async fn spin(&self, ctx: &Context<()>, _ev: Spin) -> Result<Spin, SendError> {
        ctx.write_event_to_stream(StopEvent::new(1));
        Ok(Spin)
    }
}

fn main() {}
