use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Retry(u32);

// The macro reads signatures as written: it cannot see through this alias.
type Verdict = Emit<(Retry, StopEvent<u32>)>;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, ev: StartEvent<u32>) -> Retry {
        Retry(ev.input)
    }

    #[step]
    async fn check(&self, ev: Retry) -> Verdict {
        if ev.0 > 3 { Emit::new(StopEvent::new(ev.0)) } else { Emit::new(Retry(ev.0 + 1)) }
    }
}

#[tokio::main]
async fn main() {
    let _ = Flow.run(1).await;
}
