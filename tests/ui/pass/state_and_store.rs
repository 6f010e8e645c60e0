use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Noted;

#[derive(Default)]
struct Notes {
    lines: Vec<String>,
}

struct Journal;

#[workflow]
impl Journal {
    // The context may come before or after the event.
    #[step]
    async fn note(&self, ev: StartEvent<String>, ctx: &Context<Notes>) -> Result<Noted, ContextError> {
        ctx.update(|n| n.lines.push(ev.input.clone()));
        ctx.set("last", &ev.input)?;
        Ok(Noted)
    }

    #[step]
    async fn report(&self, ctx: &Context<Notes>, _ev: Noted) -> Result<StopEvent<String>, ContextError> {
        let last: String = ctx.get("last")?;
        let count = ctx.read(|n| n.lines.len());
        Ok(StopEvent::new(format!("{count}: {last}")))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = Context::<Notes>::new();
    Journal.run_with("a".into(), RunOptions::new().context(ctx.clone())).await.unwrap();
    let out = Journal.run_with("b".into(), RunOptions::new().context(ctx)).await.unwrap();
    assert_eq!(out, "2: b");
}
