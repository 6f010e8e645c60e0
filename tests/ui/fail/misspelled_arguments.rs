use workflow_core::prelude::*;

struct Flow;

#[workflow(extrenal = [HumanResponse<u32>])]
impl Flow {
    #[step(num_worker = 2, skip = [dead_ends])]
    async fn first(&self, _ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(1)
    }
}

fn main() {}
