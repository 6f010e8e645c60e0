//! What every route shares: the served workflows, the runs, the settings.

use std::sync::Arc;
use std::time::Duration;

use crate::error::ApiError;
use crate::runs::{Run, Runs, Served};

/// What every route shares.
pub(crate) struct AppState {
    pub(crate) served: Vec<Arc<Served>>,
    pub(crate) runs: Runs,
    pub(crate) heartbeat: Duration,
    pub(crate) body_limit: usize,
    pub(crate) shutdown: crate::Shutdown,
    /// Where LlamaIndex's debugger's files are (`app.js`, `app.css`, or an
    /// unpacked `npm pack`: `package/dist/…`); its CDN when `None`.
    pub(crate) debugger_dir: Option<Arc<std::path::PathBuf>>,
}

pub(crate) type App = Arc<AppState>;

impl AppState {
    pub(crate) fn workflow(&self, name: &str) -> Result<&Arc<Served>, ApiError> {
        self.served
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ApiError::not_found(format!("Workflow '{name}' not found")))
    }

    pub(crate) fn run(&self, id: &str) -> Result<Arc<Run>, ApiError> {
        self.runs.get(id).ok_or_else(|| ApiError::not_found("Handler not found"))
    }

    /// Loads a released run again, to take a request.
    pub(crate) fn reload(&self, run: &Arc<Run>) {
        self.runs.resume(run);
    }
}
