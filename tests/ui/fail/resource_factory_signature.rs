use workflow_core::prelude::*;

struct Flow;

// A factory takes `&self` and the resources it is built from, and returns
// its resource; it is a factory or a step, not both.
#[workflow]
impl Flow {
    #[resource]
    fn counter(&mut self, start: u32) -> u32 {
        start
    }

    #[resource]
    fn nothing(&self) {}

    #[resource(cache = no)]
    fn label(&self) -> String {
        String::new()
    }

    #[resource]
    #[step]
    async fn both(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input)
    }

    #[step]
    async fn only(&self, ev: StartEvent<u32>, ref label: Resource<String>) -> StopEvent<u32> {
        let _ = label;
        StopEvent::new(ev.input)
    }
}

fn main() {}
