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

    // The only way out asks the caller, but no step takes an answer.
    #[step]
    async fn spin(&self, _ev: Spin) -> Emit<(Spin, InputRequired<String>)> {
        Emit::new(Spin)
    }
}

fn main() {}
