//! Human in the loop: a refund request is assessed, then a person approves
//! or rejects the proposal. The step waits in place for the answer, so what
//! it computed before asking is still there afterwards, and nothing re-runs.
//!
//! ```text
//! StartEvent<RefundRequest> ─assess→ Assessed ─review (waits for HumanResponse<String>)→ StopEvent<Decision>
//! ```

use std::io::{BufRead, Write};
use std::time::Duration;

use futures::StreamExt;
use workflow_core::prelude::*;

#[data]
pub struct RefundRequest {
    pub order: String,
    pub amount_cents: u64,
    pub days_since_delivery: u32,
}

#[event]
pub struct Assessed {
    pub request: RefundRequest,
    pub within_window: bool,
    pub proposal: String,
}

/// What the person is asked.
#[data]
#[derive(PartialEq)]
pub struct Proposal {
    pub order: String,
    pub text: String,
}

#[data]
#[derive(PartialEq)]
pub struct Decision {
    pub order: String,
    pub refunded_cents: u64,
    pub approved: bool,
}

/// The refund window from `corpus/refunds.txt`.
pub const REFUND_WINDOW_DAYS: u32 = 30;

pub struct RefundApproval {
    /// How long to wait for the person.
    pub patience: Duration,
}

impl Default for RefundApproval {
    fn default() -> Self {
        Self { patience: Duration::from_secs(300) }
    }
}

#[workflow(external = [HumanResponse<String>])]
impl RefundApproval {
    #[step]
    async fn assess(&self, ev: StartEvent<RefundRequest>) -> Assessed {
        let request = ev.input.clone();
        let within_window = request.days_since_delivery <= REFUND_WINDOW_DAYS;
        let proposal = if within_window {
            format!("Refund {:.2} euros for order {}.", request.amount_cents as f64 / 100.0, request.order)
        } else {
            format!(
                "Order {} was delivered {} days ago, past the {REFUND_WINDOW_DAYS}-day window: refund anyway?",
                request.order, request.days_since_delivery
            )
        };
        Assessed { request, within_window, proposal }
    }

    #[step(streams = [InputRequired<Proposal>], waits = [HumanResponse<String>])]
    async fn review(&self, ctx: &Context<()>, ev: Assessed) -> Result<StopEvent<Decision>, WaitError> {
        let order = ev.request.order.clone();
        let answer = ctx
            .wait_for_event::<HumanResponse<String>>()
            .request(InputRequired::new(Proposal { order: order.clone(), text: ev.proposal.clone() }))
            .timeout(self.patience)
            .await?;
        let approved = matches!(answer.response.trim().to_lowercase().as_str(), "y" | "yes");
        let refunded_cents = if approved { ev.request.amount_cents } else { 0 };
        Ok(StopEvent::new(Decision { order, refunded_cents, approved }))
    }
}

/// Runs the workflow, asking the person on `output` and reading the answer
/// from `input`: the terminal in the example, buffers in the tests.
pub async fn run_interactively(
    request: RefundRequest,
    patience: Duration,
    mut input: impl BufRead,
    mut output: impl Write,
) -> Result<Decision, Box<dyn std::error::Error + Send + Sync>> {
    let mut handler = RefundApproval { patience }.start(request);
    while let Some(event) = handler.events().next().await {
        match event {
            RunEvent::Event(RefundApprovalEvent::InputRequired(question)) => {
                write!(output, "{}\nApprove? [y/n] ", question.request.text)?;
                output.flush()?;
                let mut line = String::new();
                input.read_line(&mut line)?;
                handler.send_event(HumanResponse::new(line))?;
            }
            RunEvent::Finished(_) => break,
            _ => {}
        }
    }
    Ok(handler.await?)
}
