use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Found;

// Two names of one type: the macro sees two events, rustc one type.
type Hit = Found;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Emit<(Found, Hit)> {
        Emit::new(Found)
    }

    #[step]
    async fn second(&self, _ev: Found) -> StopEvent<u32> {
        StopEvent::new(1)
    }

    #[step]
    async fn third(&self, _ev: Hit) -> StopEvent<u32> {
        StopEvent::new(2)
    }
}

fn main() {}
