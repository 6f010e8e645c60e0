use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Step(u32);

struct Count;

#[workflow]
impl Count {
    #[step]
    async fn begin(&self, ev: StartEvent<u32>) -> Step {
        Step(ev.input)
    }

    #[step]
    async fn count(&self, ev: Step) -> Emit<(Step, StopEvent<u32>)> {
        if ev.0 == 0 { Emit::new(StopEvent::new(42)) } else { Emit::new(Step(ev.0 - 1)) }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Count.run(10).await.unwrap(), 42);
}
