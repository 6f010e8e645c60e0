//! Durable workflow runs with nothing to install: [`SqliteStore`] keeps each
//! run's journal in an embedded SQLite database (compiled in, no server).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use workflow_core::prelude::*;
//! # #[derive(Default)] struct Flow;
//! # #[workflow] impl Flow { #[step] async fn s(&self, ev: StartEvent<u32>) -> StopEvent<u32> { StopEvent::new(ev.input) } }
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn workflow_core::durable::RunStore> = Arc::new(workflow_durable::SqliteStore::open("runs.db")?);
//! // On start-up, finish what the last process left unfinished.
//! for (key, handler) in Flow.recover(Arc::clone(&store))? {
//!     println!("{key}: {:?}", handler.await);
//! }
//! let handler = Flow.start_with(7, RunOptions::new().durable(store, "order-42"));
//! handler.await?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use workflow_core::durable::{Journaled, RunStore};
use workflow_core::snapshot::Snapshot;
use workflow_core::BoxError;

/// Run journals in a SQLite database file.
///
/// The database is in WAL mode: a journal written before the process is
/// killed is there when it restarts.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

/// How a finished run ended, as its journal recorded it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its result, as JSON.
    Stopped(Value),
    /// Its error's message.
    Failed(String),
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, rusqlite::Error> {
        Self::with(Connection::open(path)?)
    }

    /// A database in memory, for tests.
    pub fn in_memory() -> Result<Self, rusqlite::Error> {
        Self::with(Connection::open_in_memory()?)
    }

    fn with(connection: Connection) -> Result<Self, rusqlite::Error> {
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS runs (
                key      TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                snapshot TEXT,
                done     INTEGER NOT NULL DEFAULT 0,
                outcome  TEXT
            );
            CREATE INDEX IF NOT EXISTS runs_unfinished ON runs (workflow, done);",
        )?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How run `key` ended, if it has.
    pub fn outcome(&self, key: &str) -> Result<Option<Outcome>, BoxError> {
        let row: Option<(i64, Option<String>)> = self
            .lock()
            .query_row("SELECT done, outcome FROM runs WHERE key = ?1", params![key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((1, Some(outcome))) = row else { return Ok(None) };
        let outcome: Value = serde_json::from_str(&outcome)?;
        Ok(Some(match (outcome.get("stopped"), outcome.get("failed")) {
            (Some(result), _) => Outcome::Stopped(result.clone()),
            (_, Some(Value::String(message))) => Outcome::Failed(message.clone()),
            _ => return Err(format!("run `{key}` has an outcome of unknown shape: {outcome}").into()),
        }))
    }

    /// The keys of every run with a journal, finished or not.
    pub fn keys(&self) -> Result<Vec<String>, BoxError> {
        let connection = self.lock();
        let mut query = connection.prepare("SELECT key FROM runs ORDER BY key")?;
        let keys = query.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(keys)
    }
}

impl RunStore for SqliteStore {
    fn save(&self, key: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError> {
        let json = serde_json::to_string(snapshot)?;
        self.lock().execute(
            "INSERT INTO runs (key, workflow, snapshot, done) VALUES (?1, ?2, ?3, 0)
             ON CONFLICT (key) DO UPDATE SET snapshot = excluded.snapshot WHERE done = 0",
            params![key, workflow, json],
        )?;
        Ok(())
    }

    fn finish(&self, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        let outcome = match outcome {
            Ok(result) => serde_json::json!({ "stopped": result }),
            Err(message) => serde_json::json!({ "failed": message }),
        };
        self.lock().execute(
            "INSERT INTO runs (key, workflow, done, outcome) VALUES (?1, '', 1, ?2)
             ON CONFLICT (key) DO UPDATE SET done = 1, outcome = excluded.outcome, snapshot = NULL",
            params![key, outcome.to_string()],
        )?;
        Ok(())
    }

    fn unfinished(&self, workflow: &str) -> Result<Vec<(String, Snapshot)>, BoxError> {
        let connection = self.lock();
        let mut query = connection
            .prepare("SELECT key, snapshot FROM runs WHERE workflow = ?1 AND done = 0 ORDER BY key")?;
        let rows =
            query.query_map(params![workflow], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut runs = Vec::new();
        for row in rows {
            let (key, json) = row?;
            let snapshot =
                Snapshot::from_json(&json).map_err(|e| format!("the journal of run `{key}`: {e}"))?;
            runs.push((key, snapshot));
        }
        Ok(runs)
    }

    fn load(&self, key: &str) -> Result<Option<Journaled>, BoxError> {
        let row: Option<(i64, Option<String>)> = self
            .lock()
            .query_row("SELECT done, snapshot FROM runs WHERE key = ?1", params![key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match row {
            None => Ok(None),
            Some((0, Some(json))) => {
                let snapshot =
                    Snapshot::from_json(&json).map_err(|e| format!("the journal of run `{key}`: {e}"))?;
                Ok(Some(Journaled::Unfinished(Box::new(snapshot))))
            }
            Some(_) => Ok(self.outcome(key)?.map(|outcome| match outcome {
                Outcome::Stopped(result) => Journaled::Stopped(result),
                Outcome::Failed(message) => Journaled::Failed(message),
            })),
        }
    }
}

#[cfg(doctest)]
#[doc = include_str!("../../docs/durable-runs.md")]
mod guide {}
