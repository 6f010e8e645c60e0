use workflow_core::prelude::*;

struct Flow;

struct Index;
struct Embedder;

// `index` is built from `embedder`, which is built from `index`: neither
// can be built first.
#[workflow]
impl Flow {
    #[resource]
    fn index(&self, embedder: Resource<Embedder>) -> Index {
        let _ = embedder;
        Index
    }

    #[resource]
    async fn embedder(&self, index: Resource<Index>) -> Embedder {
        let _ = index;
        Embedder
    }

    #[resource]
    fn itself(&self, itself: Resource<u32>) -> u32 {
        *itself
    }

    #[step]
    async fn only(&self, ev: StartEvent<u32>, index: Resource<Index>) -> StopEvent<u32> {
        let _ = index;
        StopEvent::new(ev.input)
    }
}

fn main() {}
