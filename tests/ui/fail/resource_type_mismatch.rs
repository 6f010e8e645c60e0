use workflow_core::prelude::*;

struct Flow;

struct NotAFactory;

// The step asks for `memory` as a number, but its factory builds a
// `String`; `pool` names a type that is no `ResourceFactory`.
#[workflow(resources = [pool = NotAFactory])]
impl Flow {
    #[resource]
    fn memory(&self) -> String {
        String::new()
    }

    #[step]
    async fn only(&self, ev: StartEvent<u32>, memory: Resource<u32>, pool: Resource<u8>) -> StopEvent<u32> {
        let _ = (memory, pool);
        StopEvent::new(ev.input)
    }
}

fn main() {}
