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

use rusqlite::{params, Connection};
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
        table::prepare(&connection)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How run `key` ended, if it has.
    pub fn outcome(&self, key: &str) -> Result<Option<Outcome>, BoxError> {
        Ok(match table::load(&self.lock(), key)? {
            Some(Journaled::Stopped(result)) => Some(Outcome::Stopped(result)),
            Some(Journaled::Failed(message)) => Some(Outcome::Failed(message)),
            _ => None,
        })
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
        table::save(&self.lock(), key, workflow, snapshot)
    }

    fn finish(&self, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        table::finish(&self.lock(), key, outcome)
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
            runs.push((key.clone(), table::snapshot(&key, &json)?));
        }
        Ok(runs)
    }

    fn load(&self, key: &str) -> Result<Option<Journaled>, BoxError> {
        table::load(&self.lock(), key)
    }
}

/// The journal table itself, on any connection: what [`SqliteStore`] is
/// made of, for a store that keeps tables of its own beside the journals
/// and writes both in one transaction (the workflow server's event log).
pub mod table {
    use rusqlite::{params, Connection, OptionalExtension};
    use serde_json::Value;
    use workflow_core::durable::Journaled;
    use workflow_core::snapshot::Snapshot;
    use workflow_core::BoxError;

    /// Sets the connection up (WAL, `synchronous = NORMAL`, a 10 s wait for
    /// a lock) and creates the journal table `runs` if it is missing.
    pub fn prepare(connection: &Connection) -> rusqlite::Result<()> {
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
        )
    }

    /// Replaces the journal of the unfinished run `key` with `snapshot`.
    pub fn save(
        connection: &Connection,
        key: &str,
        workflow: &str,
        snapshot: &Snapshot,
    ) -> Result<(), BoxError> {
        let json = serde_json::to_string(snapshot)?;
        connection
            .prepare_cached(
                "INSERT INTO runs (key, workflow, snapshot, done) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (key) DO UPDATE SET snapshot = excluded.snapshot WHERE done = 0",
            )?
            .execute(params![key, workflow, json])?;
        Ok(())
    }

    /// Records that run `key` ended, with its result as JSON or its error's message.
    pub fn finish(connection: &Connection, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        let outcome = match outcome {
            Ok(result) => serde_json::json!({ "stopped": result }),
            Err(message) => serde_json::json!({ "failed": message }),
        };
        connection
            .prepare_cached(
                "INSERT INTO runs (key, workflow, done, outcome) VALUES (?1, '', 1, ?2)
                 ON CONFLICT (key) DO UPDATE SET done = 1, outcome = excluded.outcome, snapshot = NULL",
            )?
            .execute(params![key, outcome.to_string()])?;
        Ok(())
    }

    /// What run `key` left: its journal, how it ended, or nothing.
    pub fn load(connection: &Connection, key: &str) -> Result<Option<Journaled>, BoxError> {
        let row: Option<(bool, Option<String>, Option<String>)> = connection
            .prepare_cached("SELECT done, snapshot, outcome FROM runs WHERE key = ?1")?
            .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((done, journal, outcome)) = row else { return Ok(None) };
        if let (false, Some(json)) = (done, journal) {
            return Ok(Some(Journaled::Unfinished(Box::new(snapshot(key, &json)?))));
        }
        let outcome: Value = serde_json::from_str(outcome.as_deref().unwrap_or("null"))?;
        Ok(Some(match (outcome.get("stopped"), outcome.get("failed")) {
            (Some(result), _) => Journaled::Stopped(result.clone()),
            (_, Some(Value::String(message))) => Journaled::Failed(message.clone()),
            _ => return Err(format!("run `{key}` has an outcome of unknown shape: {outcome}").into()),
        }))
    }

    /// Forgets run `key`'s journal and those of its child runs
    /// (`{key}#child:…`, a range of the key's index: `;` follows `:`).
    pub fn delete(connection: &Connection, key: &str) -> rusqlite::Result<()> {
        connection
            .prepare_cached(
                "DELETE FROM runs WHERE key = ?1 OR (key >= ?1 || '#child:' AND key < ?1 || '#child;')",
            )?
            .execute(params![key])?;
        Ok(())
    }

    pub(crate) fn snapshot(key: &str, json: &str) -> Result<Snapshot, BoxError> {
        Ok(Snapshot::from_json(json).map_err(|e| format!("the journal of run `{key}`: {e}"))?)
    }
}

#[cfg(doctest)]
#[doc = include_str!("../../docs/durable-runs.md")]
mod guide {}
