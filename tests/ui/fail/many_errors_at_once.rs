use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Lost;

#[workflow]
impl Flow {
    #[step(num_workers = 0)]
    async fn first(&self, _ev: StartEvent<u32>) -> Emit<(A, Lost, StopEvent<u32>)> {
        Emit::new(A)
    }

    #[step]
    async fn orphan(&self, _ev: B) -> A {
        A
    }

    // A loop with no way out.
    #[step]
    async fn spin(&self, _ev: A) -> A {
        A
    }
}

fn main() {}

/// The failed expansion still provides a stand-in, so this adds no error.
#[allow(dead_code)]
async fn caller() {
    let _ = Flow.run(1).await;
}
