//! One type written two ways is one event: a path and the imported name,
//! through generic arguments, and the library's types with their crate path.
mod events {
    use workflow_core::prelude::*;

    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Found(pub u32);
}

mod api {
    #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    pub struct Query(pub u32);
}

use api::Query;
use events::Found;
use workflow_core::prelude::*;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn find(&self, ev: StartEvent<api::Query>) -> crate::events::Found {
        crate::events::Found(ev.input.0)
    }

    #[step]
    async fn log(&self, ev: StartEvent<Query>) -> Option<workflow_core::StopEvent<u32>> {
        let _ = ev;
        None
    }

    #[step]
    async fn answer(&self, ev: Found) -> StopEvent<u32> {
        StopEvent::new(ev.0 * 2)
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(Flow.run(Query(21)).await.unwrap(), 42);
    assert_eq!(Flow::mermaid().matches("Found").count(), 1, "{}", Flow::mermaid());
}
