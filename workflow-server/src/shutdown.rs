//! Graceful shutdown: once it begins, open event streams and requests that
//! wait for a run's end get until the drain deadline, then end, so that
//! the server's graceful stop (which waits for every connection) ends too.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Ends a server gracefully: [`begin`](Self::begin) it (on SIGTERM, say);
/// [`Server::serve`](crate::Server::serve) does this for its signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    drain: Duration,
    /// When streams must have ended, once shutdown began.
    closing: Arc<watch::Sender<Option<Instant>>>,
}

impl Shutdown {
    pub(crate) fn new(drain: Duration) -> Self {
        Self { drain, closing: Arc::new(watch::channel(None).0) }
    }

    /// Begins the shutdown: streams and waiting requests end by the drain deadline.
    pub fn begin(&self) {
        let deadline = Instant::now() + self.drain;
        self.closing.send_if_modified(|at| {
            let first = at.is_none();
            if first {
                *at = Some(deadline);
            }
            first
        });
    }

    /// Resolves at the drain deadline, once shutdown has begun.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        loop {
            let deadline = *closing.borrow_and_update();
            if let Some(at) = deadline {
                return tokio::time::sleep_until(at).await;
            }
            if closing.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}
