use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Begin;

#[workflow(start = Begin)]
impl Flow {
    #[step]
    async fn first(&self, _ev: A) -> Emit<(A, StopEvent<u32>)> {
        Emit::new(A)
    }
}

fn main() {}
