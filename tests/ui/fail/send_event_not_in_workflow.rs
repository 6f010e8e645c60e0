use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Elsewhere;

#[workflow]
impl Flow {
    #[step(sends = [A])]
    async fn first(&self, ctx: &Context<()>, _ev: StartEvent<u32>) -> Result<Option<A>, SendError> {
        // Through a variable the macro cannot see the type; rustc can.
        let elsewhere = Elsewhere;
        ctx.send_event(elsewhere);
        Ok(None)
    }

    #[step]
    async fn second(&self, _ev: A) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
