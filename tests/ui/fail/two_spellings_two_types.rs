// `Found` (imported from `a`) and `b::Found` agree on their last segment, so
// the macro takes them as one event; rustc then finds they are two types.
mod a {
    use workflow_core::prelude::*;
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Found;
}
mod b {
    use workflow_core::prelude::*;
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Found;
}

use a::Found;
use workflow_core::prelude::*;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> b::Found {
        b::Found
    }

    #[step]
    async fn second(&self, _ev: Found) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
