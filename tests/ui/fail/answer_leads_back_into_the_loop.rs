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

    #[step]
    async fn spin(&self, _ev: Spin) -> InputRequired<String> {
        InputRequired::new("again?".to_string())
    }

    // The answer leads straight back into the loop, which has no exit.
    #[step]
    async fn answer(&self, _ev: HumanResponse<bool>) -> Spin {
        Spin
    }
}

fn main() {}
