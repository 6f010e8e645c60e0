use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Text(String);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Number(i64);

struct Sort;

#[workflow]
impl Sort {
    #[step]
    async fn split(&self, ev: StartEvent<Vec<String>>) -> Vec<Emit<(Text, Number)>> {
        ev.input
            .iter()
            .map(|s| match s.parse() {
                Ok(n) => Emit::new(Number(n)),
                Err(_) => Emit::new(Text(s.clone())),
            })
            .collect()
    }

    #[step(num_workers = 1)]
    async fn text(&self, ev: Text) -> Option<StopEvent<String>> {
        (ev.0 == "stop").then(|| StopEvent::new(ev.0))
    }

    #[step]
    async fn number(&self, _ev: Number) -> Option<StopEvent<String>> {
        None
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let input = vec!["1".to_string(), "x".to_string(), "stop".to_string()];
    assert_eq!(Sort.run(input).await.unwrap(), "stop");
}
