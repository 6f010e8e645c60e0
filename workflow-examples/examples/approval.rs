//! Asks you, on the terminal, to approve a refund:
//! `cargo run -p workflow-examples --example approval -- 45`
//! (the number is the days since delivery; the window is 30).

use std::time::Duration;

use workflow_examples::approval::{run_interactively, RefundRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let days = std::env::args().nth(1).map(|d| d.parse()).transpose()?.unwrap_or(12);
    let request = RefundRequest { order: "NW-1042".into(), amount_cents: 8_990, days_since_delivery: days };
    let stdin = std::io::stdin();
    let decision =
        run_interactively(request, Duration::from_secs(300), stdin.lock(), std::io::stdout()).await?;
    println!(
        "{}: {}",
        decision.order,
        if decision.approved {
            format!("refunded {:.2} euros", decision.refunded_cents as f64 / 100.0)
        } else {
            "rejected".into()
        }
    );
    Ok(())
}
