//! The task that drives a loaded run: it carries out the requests made to
//! it, commits what a run that keeps no journal streams (a journaled
//! run's driver commits its own, with its journal), lets an idle run go
//! after a while, and records the end if the journal could not.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;
use workflow_core::registry::JsonRun;
use workflow_core::{RunEvent, RunOutcome};

use super::run::{Request, Run};

/// Drives `run` through `json` until it ends, or until it has waited
/// `idle_release` for outside input with no step in flight: then it lets
/// the run go (dropping `json` stops its driver where its journal is).
pub(super) async fn drive(run: Arc<Run>, mut json: JsonRun, idle_release: Option<Duration>) {
    let mut finished = None;
    let mut idle_since: Option<Instant> = None;
    loop {
        let release_at =
            if run.durable { idle_since.zip(idle_release).map(|(at, after)| at + after) } else { None };
        tokio::select! {
            item = json.next() => match item {
                Some(RunEvent::Finished(outcome)) => finished = Some(outcome),
                Some(item) => {
                    idle_since = matches!(item, RunEvent::Idle).then(Instant::now);
                    if !run.durable {
                        if let Err(error) = run.commit(&[item], None, None) {
                            tracing::error!(handler = %run.id, %error, "an event cannot be committed");
                        }
                    }
                }
                None => break,
            },
            () = run.wake.notified() => {
                idle_since = idle_since.map(|_| Instant::now());
                for request in run.take_requests(false) {
                    match request {
                        Request::Send { key, data, reply } => {
                            let _ = reply.send(json.send_json(key, data));
                        }
                        Request::Cancel => json.cancel(),
                    }
                }
            }
            () = until(release_at) => {
                if run.release() {
                    tracing::debug!(handler = %run.id, "idle run released from memory");
                    return;
                }
                idle_since = None;
            }
        }
    }
    // Requests that came too late get `RunEnded` (their reply is dropped).
    drop(run.take_requests(true));
    let outcome = json.finish().await;
    if !run.is_ended() {
        // A run that keeps no journal, or whose journal could not record the end.
        let ended = finished.unwrap_or_else(|| RunOutcome::of(&outcome, Duration::ZERO));
        let message = outcome.as_ref().err().map(ToString::to_string);
        let result = match (&outcome, &message) {
            (Ok(output), _) => Ok(output),
            (Err(_), message) => Err(message.as_deref().unwrap_or_default()),
        };
        run.end(result, &ended);
    }
}

/// Waits until `at`, or forever.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
