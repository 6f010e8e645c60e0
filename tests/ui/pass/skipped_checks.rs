use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Log;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin;

struct Lenient;

// `Log` is for an outside observer, and `spin` loops by design.
#[workflow(skip = [dead_end])]
impl Lenient {
    #[step(skip = [unconsumed])]
    async fn first(&self, _ev: StartEvent<()>) -> Emit<(Log, Spin, StopEvent<()>)> {
        Emit::new(StopEvent::new(()))
    }

    #[step]
    async fn spin(&self, _ev: Spin) -> Spin {
        Spin
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    Lenient.run(()).await.unwrap();
}
