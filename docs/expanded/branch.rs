// Input of the expansion snapshot: `branch.expanded.rs` beside this file is
// what `#[workflow]` turns it into, formatted. A unit test of
// workflow-macros regenerates it and fails when it differs; refresh it with
// `UPDATE_EXPANDED=1 cargo test -p workflow-macros expansion`.

use workflow_core::prelude::*;

#[derive(Event, Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Checked {
    pub attempt: u32,
}

pub struct Answerer;

#[workflow]
impl Answerer {
    #[step]
    async fn begin(&self, ev: StartEvent<String>) -> Checked {
        let _ = ev;
        Checked { attempt: 0 }
    }

    #[step(num_workers = 2)]
    async fn check(
        &self,
        ctx: &Context<u32>,
        ev: Checked,
    ) -> Result<Emit<(Checked, StopEvent<String>)>, std::io::Error> {
        ctx.update(|n| *n += 1);
        if ev.attempt < 2 {
            Ok(Emit::new(Checked { attempt: ev.attempt + 1 }))
        } else {
            Ok(Emit::new(StopEvent::new(format!("done after {}", ev.attempt))))
        }
    }
}
