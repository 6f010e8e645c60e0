use workflow_core::prelude::*;

struct Helper;

struct Agent;

// A child must be a workflow.
#[workflow]
impl Agent {
    #[step(children = [Helper])]
    async fn ask(&self, ev: StartEvent<String>) -> StopEvent<String> {
        StopEvent::new(ev.input)
    }
}

fn main() {}
