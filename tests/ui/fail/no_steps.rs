use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct B;

struct Flow;

#[workflow]
impl Flow {
    fn helper(&self) -> u32 {
        1
    }
}

fn main() {}
