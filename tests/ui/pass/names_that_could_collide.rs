//! Names the macro generates do not collide with the user's: a raw
//! identifier as a step name, a user type named like the default event enum
//! beside the enum renamed, and a user `mermaid` beside the generated one
//! renamed.
use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Found(u32);

/// The user's own type, named as the generated enum would be by default.
#[allow(dead_code)]
struct RagEvent;

struct Rag;

#[workflow(mermaid = graph_text, event_enum = RagEvents)]
impl Rag {
    #[step]
    async fn r#match(&self, ev: StartEvent<u32>) -> Found {
        Found(ev.input)
    }

    #[step]
    async fn answer(self: &Self, ev: Found) -> StopEvent<u32>
    where
        Self: Sized,
    {
        StopEvent::new(ev.0 + 1)
    }

    /// The user's own `mermaid`.
    fn mermaid(&self) -> &'static str {
        "mine"
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(Rag.run(1).await.unwrap(), 2);
    assert_eq!(Rag.mermaid(), "mine");
    assert!(Rag::graph_text().contains("match"));
    let _: RagEvent = RagEvent;
    let _ = RagEvents::Found(Found(1));
    let info = <Rag as workflow_core::Workflow>::INFO;
    assert_eq!(info.steps[0].name, "match");
    let _ = RagStep::Match;
}
