use workflow_core::prelude::*;
use workflow_core::resource::ResourceFactory;

struct Flow;

struct Memory;

struct Pool;

impl ResourceFactory for Pool {
    type Output = u32;
    type Needs = ();
    async fn build((): ()) -> Result<u32, BoxError> {
        Ok(1)
    }
}

// A resource parameter names its resource; these name ones the workflow
// does not declare, or declare twice.
#[workflow(resources = [pool = Pool, memory = Pool, pool = Pool])]
impl Flow {
    #[resource]
    fn memory(&self) -> Memory {
        Memory
    }

    #[resource]
    fn summary(&self, memroy: Resource<Memory>) -> String {
        let _ = memroy;
        String::new()
    }

    #[step]
    async fn only(&self, ev: StartEvent<u32>, client: Resource<String>) -> StopEvent<u32> {
        let _ = client;
        StopEvent::new(ev.input)
    }
}

fn main() {}
