//! A loop whose only way out is a request, answered to a step waiting in
//! place that then stops the run: sound, so it compiles and runs.
use futures::StreamExt;
use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Spin(u32);
#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Review;

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn first(&self, _ev: StartEvent<u32>) -> Emit<(Spin, Review)> {
        Emit::new(Review)
    }

    #[step]
    async fn spin(&self, ev: Spin) -> Emit<(Spin, InputRequired<u32>)> {
        if ev.0 < 3 { Emit::new(Spin(ev.0 + 1)) } else { Emit::new(InputRequired::new(ev.0)) }
    }

    #[step(sends = [Spin], waits = [HumanResponse<u32>])]
    async fn review(&self, ctx: &Context<()>, _ev: Review) -> Result<StopEvent<u32>, WaitError> {
        ctx.send_event(Spin(0));
        let answer = ctx.wait_for_event::<HumanResponse<u32>>().await?;
        Ok(StopEvent::new(answer.response))
    }
}

#[tokio::main]
async fn main() {
    let mut handler = Flow.start(0);
    while let Some(event) = handler.events().next().await {
        if let RunEvent::Event(FlowEvent::InputRequired(request)) = event {
            handler.send_event(HumanResponse::new(request.request * 10)).unwrap();
        }
    }
    assert_eq!(handler.await.unwrap(), 30);
}
