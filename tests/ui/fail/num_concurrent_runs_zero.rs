use workflow_core::prelude::*;

struct Flow;

// No run could ever start.
#[workflow(num_concurrent_runs = 0)]
impl Flow {
    #[step]
    async fn only(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input)
    }
}

struct Other;

#[workflow(num_concurrent_runs = two)]
impl Other {
    #[step]
    async fn only(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input)
    }
}

fn main() {}
