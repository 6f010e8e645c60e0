use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct B;

struct Flow;

#[workflow]
struct NotAnImpl;

fn main() {}
