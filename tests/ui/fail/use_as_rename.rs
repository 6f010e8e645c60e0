mod events {
    use workflow_core::prelude::*;
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Found;
}

use events::Found;
use events::Found as Hit;
use workflow_core::prelude::*;

struct Flow;

// One type under two names: the macro compares names as written.
#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Found {
        Found
    }

    #[step]
    async fn second(&self, _ev: Hit) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
