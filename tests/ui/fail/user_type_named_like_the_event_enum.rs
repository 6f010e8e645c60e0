use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Found(u32);

// The user's own type, named as the generated event enum is by default:
// one error; `#[workflow(event_enum = RagEvents)]` names the enum otherwise.
#[allow(dead_code)]
struct RagEvent;

struct Rag;

#[workflow]
impl Rag {
    #[step]
    async fn find(&self, ev: StartEvent<u32>) -> Found {
        Found(ev.input)
    }

    #[step]
    async fn answer(&self, ev: Found) -> StopEvent<u32> {
        StopEvent::new(ev.0)
    }
}

#[tokio::main]
async fn main() {
    let _ = Rag.run(1).await;
}
