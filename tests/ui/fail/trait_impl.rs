use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

trait Named {
    fn name(&self) -> &'static str;
}

#[workflow]
impl Named for Flow {
    fn name(&self) -> &'static str {
        "flow"
    }
}

fn main() {}
