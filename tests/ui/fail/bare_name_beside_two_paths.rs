mod v1 {
    use workflow_core::prelude::*;
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Found;
}
mod v2 {
    use workflow_core::prelude::*;
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Found;
}

use v1::Found;
use workflow_core::prelude::*;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> v1::Found {
        Found
    }

    // `Found` could be `v1::Found` or `v2::Found`: the macro cannot tell.
    #[step]
    async fn second(&self, _ev: Found) -> v2::Found {
        v2::Found
    }

    #[step]
    async fn third(&self, _ev: v2::Found) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
