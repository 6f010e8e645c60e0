use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct B;

struct Flow;

#[workflow]
struct NotAnImpl;

fn main() {}
