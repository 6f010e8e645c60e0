use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct A;
#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct B;

struct Flow;

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct Begin;

#[workflow(start = Begin)]
impl Flow {
    #[step]
    async fn first(&self, _ev: A) -> Emit<(A, StopEvent<u32>)> {
        Emit::new(A)
    }
}

fn main() {}
