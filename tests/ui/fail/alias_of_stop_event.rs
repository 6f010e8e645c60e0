use workflow_core::prelude::*;

type Answer = StopEvent<String>;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, ev: StartEvent<String>) -> Answer {
        StopEvent::new(ev.input)
    }
}

#[tokio::main]
async fn main() {
    let _ = Flow.run("hello".into()).await;
}
