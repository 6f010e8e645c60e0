use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Small(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Large(u32);

struct Classify;

#[workflow]
impl Classify {
    #[step]
    async fn route(&self, ev: StartEvent<u32>) -> Emit<(Small, Large)> {
        if ev.input < 10 { Emit::new(Small(ev.input)) } else { Emit::new(Large(ev.input)) }
    }

    #[step]
    async fn small(&self, ev: Small) -> StopEvent<String> {
        StopEvent::new(format!("small {}", ev.0))
    }

    #[step]
    async fn large(&self, ev: Large) -> StopEvent<String> {
        StopEvent::new(format!("large {}", ev.0))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Classify.run(3).await.unwrap(), "small 3");
    assert_eq!(Classify.run(30).await.unwrap(), "large 30");
}
