use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Item(u32);

struct Filter;

#[workflow]
impl Filter {
    #[step]
    async fn split(&self, ev: StartEvent<u32>) -> Vec<Item> {
        (1..=ev.input).map(Item).collect()
    }

    // Emits nothing for most items; the last one stops the run.
    #[step(num_workers = 1)]
    async fn keep(&self, ev: Item) -> Option<StopEvent<u32>> {
        (ev.0 == 4).then(|| StopEvent::new(ev.0))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Filter.run(4).await.unwrap(), 4);
}
