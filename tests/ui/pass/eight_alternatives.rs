use workflow_core::prelude::*;

macro_rules! events { ($($n:ident),*) => { $(
    #[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    struct $n;
)* } }
events!(E1, E2, E3, E4, E5, E6, E7);

struct Wide;

#[workflow]
impl Wide {
    #[step]
    async fn fan(&self, ev: StartEvent<u8>) -> Emit<(E1, E2, E3, E4, E5, E6, E7, StopEvent<u8>)> {
        match ev.input {
            1 => Emit::new(E1),
            7 => Emit::new(E7),
            _ => Emit::new(StopEvent::new(0)),
        }
    }

    #[step] async fn e1(&self, _ev: E1) -> StopEvent<u8> { StopEvent::new(1) }
    #[step] async fn e2(&self, _ev: E2) -> StopEvent<u8> { StopEvent::new(2) }
    #[step] async fn e3(&self, _ev: E3) -> StopEvent<u8> { StopEvent::new(3) }
    #[step] async fn e4(&self, _ev: E4) -> StopEvent<u8> { StopEvent::new(4) }
    #[step] async fn e5(&self, _ev: E5) -> StopEvent<u8> { StopEvent::new(5) }
    #[step] async fn e6(&self, _ev: E6) -> StopEvent<u8> { StopEvent::new(6) }
    #[step] async fn e7(&self, _ev: E7) -> StopEvent<u8> { StopEvent::new(7) }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Wide.run(1).await.unwrap(), 1);
    assert_eq!(Wide.run(7).await.unwrap(), 7);
    assert_eq!(Wide.run(0).await.unwrap(), 0);
}
