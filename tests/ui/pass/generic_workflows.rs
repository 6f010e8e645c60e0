//! Generic workflows: a type parameter with a bound, a `where` clause, two
//! instantiations in one crate, a generic state type, and registered
//! instantiations.
use workflow_core::prelude::*;

trait Retriever: Send + Sync + 'static {
    fn find(&self, query: &str) -> Vec<String>;
}

#[derive(Default)]
struct Keyword;
impl Retriever for Keyword {
    fn find(&self, query: &str) -> Vec<String> {
        vec![format!("keyword:{query}")]
    }
}

#[derive(Default)]
struct Fake;
impl Retriever for Fake {
    fn find(&self, _query: &str) -> Vec<String> {
        vec!["fake".into(), "fake".into()]
    }
}

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Found(Vec<String>);

#[derive(Default)]
struct Rag<R: Retriever> {
    retriever: R,
}

#[workflow(register = [Rag<Keyword>, Rag<Fake>])]
impl<R: Retriever> Rag<R> {
    #[step]
    async fn retrieve(&self, ev: StartEvent<String>) -> Found {
        Found(self.retriever.find(&ev.input))
    }

    #[step]
    async fn answer(&self, ev: Found) -> StopEvent<usize> {
        StopEvent::new(ev.0.len())
    }
}

/// A `where` clause and a generic state type.
struct Counter<S> {
    step: u32,
    _state: std::marker::PhantomData<S>,
}

#[workflow]
impl<S> Counter<S>
where
    S: Default + Send + From<u32> + Into<u32> + Copy + 'static,
{
    #[step]
    async fn count(&self, ctx: &Context<S>, ev: StartEvent<u32>) -> StopEvent<u32> {
        ctx.update(|s| *s = S::from((*s).into() + ev.input + self.step));
        StopEvent::new(ctx.read(|s| (*s).into()))
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(Rag { retriever: Keyword }.run("refunds".into()).await.unwrap(), 1);
    assert_eq!(Rag { retriever: Fake }.run("refunds".into()).await.unwrap(), 2);
    let counter = Counter::<u32> { step: 1, _state: std::marker::PhantomData };
    assert_eq!(counter.run(41).await.unwrap(), 42);
    assert!(Rag::<Fake>::mermaid().contains("retrieve"));

    let names: Vec<&str> = workflow_core::registry::registry().iter().map(|r| r.name()).collect();
    assert!(names.contains(&"Rag<Keyword>") && names.contains(&"Rag<Fake>"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("Counter")), "not registered: {names:?}");
    let run = workflow_core::registry::find("Rag<Fake>").unwrap().start_json(serde_json::json!("q"), RunOptions::new()).unwrap();
    assert_eq!(run.finish().await.unwrap(), serde_json::json!(2));
}
