//! `#[event]` and `#[data]` add the derives, leave out the ones already
//! there, and make types that round-trip as JSON and describe their schema.
use workflow_core::prelude::*;

#[data]
#[derive(PartialEq, Default)]
struct Request {
    amount: u32,
}

#[event]
#[derive(PartialEq)]
enum Verdict {
    Approved(u32),
    Declined,
}

#[data]
#[derive(Clone, Default)]
struct Ledger {
    seen: Vec<u32>,
}

struct Flow;

#[workflow]
impl Flow {
    #[step]
    async fn judge(&self, ctx: &Context<Ledger>, ev: StartEvent<Request>) -> Verdict {
        ctx.update(|l| l.seen.push(ev.input.amount));
        if ev.input.amount < 100 { Verdict::Approved(ev.input.amount) } else { Verdict::Declined }
    }

    #[step]
    async fn report(&self, ev: Verdict) -> StopEvent<Verdict> {
        StopEvent::new(ev)
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(Flow.run(Request { amount: 5 }).await.unwrap(), Verdict::Approved(5));
    let json = serde_json::to_value(Request { amount: 7 }).unwrap();
    assert_eq!(json, serde_json::json!({ "amount": 7 }));
    let schema = schemars::schema_for!(Verdict);
    assert!(serde_json::to_string(&schema).unwrap().contains("Approved"));
}
