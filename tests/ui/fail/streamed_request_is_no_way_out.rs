use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin;

struct Flow;

#[workflow(external = [HumanResponse<String>])]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Emit<(Spin, StopEvent<u32>)> {
        Emit::new(Spin)
    }

    // A streamed request goes to the caller; nothing waits for its answer.
    #[step(streams = [InputRequired<String>])]
    async fn spin(&self, ctx: &Context<()>, _ev: Spin) -> Result<Spin, SendError> {
        ctx.write_event_to_stream(InputRequired::new("more?".to_string()));
        Ok(Spin)
    }
}

fn main() {}
