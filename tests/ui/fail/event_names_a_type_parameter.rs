use workflow_core::prelude::*;

trait Retriever: Send + Sync + 'static {
    type Answer;
}

struct Rag<R: Retriever>(R);

// The event enum is shared by every instantiation: events are concrete.
#[workflow]
impl<R: Retriever> Rag<R> {
    #[step]
    async fn answer(&self, _ev: StartEvent<String>) -> StopEvent<R::Answer> {
        todo!()
    }
}

fn main() {}
