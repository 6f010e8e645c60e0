use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Draft(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Review(u32);

struct Refine;

#[workflow]
impl Refine {
    /// Named like `WorkflowExt::start` on purpose: steps must still resolve.
    #[step]
    async fn start(&self, ev: StartEvent<u32>) -> Draft {
        Draft(ev.input)
    }

    #[step]
    async fn write(&self, ev: Draft) -> Review {
        Review(ev.0 + 1)
    }

    // Loops back to `write` until the draft is good enough.
    #[step]
    async fn review(&self, ev: Review) -> Emit<(Draft, StopEvent<u32>)> {
        if ev.0 >= 5 { Emit::new(StopEvent::new(ev.0)) } else { Emit::new(Draft(ev.0)) }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Refine.run(0).await.unwrap(), 5);
}
