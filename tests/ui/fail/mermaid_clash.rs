use workflow_core::prelude::*;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(1)
    }

    fn mermaid() -> &'static str {
        "mine"
    }
}

fn main() {
    let _ = Flow::mermaid();
}
