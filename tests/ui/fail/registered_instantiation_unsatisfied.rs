use workflow_core::prelude::*;

trait Retriever: Send + Sync + 'static {}

#[derive(Default)]
struct Keyword;
impl Retriever for Keyword {}

// Not a retriever.
#[derive(Default)]
struct Plain;

#[derive(Default)]
struct Rag<R> {
    _retriever: R,
}

#[workflow(register = [Rag<Keyword>, Rag<Plain>])]
impl<R: Retriever> Rag<R> {
    #[step]
    async fn first(&self, ev: StartEvent<u32>) -> StopEvent<u32> {
        StopEvent::new(ev.input)
    }
}

fn main() {}
