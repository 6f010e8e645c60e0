//! The server's store: its handlers, each run's numbered event log, and
//! its runs' journals, in one embedded SQLite database. A run's events and
//! its journal are written in one transaction (see `runs/journal.rs`), so that
//! after a crash the log and the journal agree: what a reader saw is
//! there, and nothing a resumed run writes takes a number already given.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;
use workflow_core::durable::Journaled;
use workflow_core::snapshot::Snapshot;
use workflow_core::BoxError;

/// Where the server keeps its runs: a SQLite file (WAL mode), or memory.
///
/// A killed server finds every committed event and journal when it
/// restarts; a machine that loses power may lose the last commits
/// (`synchronous = NORMAL`), never the database.
pub struct Store {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Why the store could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("the server's store ({at}): {source}")]
pub struct StoreError {
    at: String,
    #[source]
    source: rusqlite::Error,
}

/// One handler as the store has it.
#[derive(Clone, Debug)]
pub(crate) struct HandlerRow {
    pub(crate) id: String,
    pub(crate) workflow: String,
    pub(crate) run_id: String,
    pub(crate) status: String,
    pub(crate) input: Value,
    pub(crate) result: Option<Value>,
    pub(crate) error: Option<String>,
    pub(crate) started_at: String,
    pub(crate) updated_at: String,
    pub(crate) completed_at: Option<String>,
    /// Whether its run journals itself (its state can be journaled).
    pub(crate) durable: bool,
    /// The sequence its next event gets: how many it has.
    pub(crate) next_sequence: u64,
}

/// How a handler ended, written with its terminal event.
pub(crate) struct Ending<'a> {
    pub(crate) status: &'a str,
    pub(crate) result: Option<&'a Value>,
    pub(crate) error: Option<&'a str>,
    pub(crate) completed_at: &'a str,
    /// How its journal records the end, if it has one.
    pub(crate) outcome: Option<Value>,
}

/// What one commit writes for a handler: its new events (from
/// `first_sequence` on, as envelopes), its journal, and its end.
pub(crate) struct Commit<'a> {
    pub(crate) handler: &'a str,
    pub(crate) first_sequence: u64,
    pub(crate) events: &'a [(bool, String)],
    pub(crate) updated_at: &'a str,
    pub(crate) journal: Option<(&'a str, &'a Snapshot)>,
    pub(crate) ending: Option<Ending<'a>>,
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let at = path.as_ref().display().to_string();
        Connection::open(path).and_then(Self::with).map_err(|source| StoreError { at, source })
    }

    /// A store in memory: nothing outlives the process (tests, demos).
    pub fn in_memory() -> Result<Self, StoreError> {
        Connection::open_in_memory()
            .and_then(Self::with)
            .map_err(|source| StoreError { at: "memory".into(), source })
    }

    fn with(connection: Connection) -> Result<Self, rusqlite::Error> {
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS handlers (
                id            TEXT PRIMARY KEY,
                workflow      TEXT NOT NULL,
                run_id        TEXT NOT NULL,
                status        TEXT NOT NULL,
                input         TEXT NOT NULL,
                result        TEXT,
                error         TEXT,
                started_at    TEXT NOT NULL,
                updated_at    TEXT NOT NULL,
                completed_at  TEXT,
                durable       INTEGER NOT NULL,
                next_sequence INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS events (
                handler  TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                internal INTEGER NOT NULL,
                envelope TEXT NOT NULL,
                PRIMARY KEY (handler, sequence)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS journals (
                key      TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                snapshot TEXT,
                done     INTEGER NOT NULL DEFAULT 0,
                outcome  TEXT
            );",
        )?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every handler, in the order they started.
    pub(crate) fn handlers(&self) -> Result<Vec<HandlerRow>, BoxError> {
        let connection = self.lock();
        let mut query = connection.prepare(
            "SELECT id, workflow, run_id, status, input, result, error, started_at, updated_at,
                    completed_at, durable, next_sequence
             FROM handlers ORDER BY rowid",
        )?;
        let rows = query.query_map([], |r| {
            let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
            Ok(HandlerRow {
                id: r.get(0)?,
                workflow: r.get(1)?,
                run_id: r.get(2)?,
                status: r.get(3)?,
                input: json(r.get(4)?).unwrap_or(Value::Null),
                result: json(r.get(5)?),
                error: r.get(6)?,
                started_at: r.get(7)?,
                updated_at: r.get(8)?,
                completed_at: r.get(9)?,
                durable: r.get(10)?,
                next_sequence: r.get::<_, i64>(11)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a new handler; if its id may be `reused`, replacing any of
    /// the same id (and its log and journals): a `handler_id` given again
    /// starts afresh.
    pub(crate) fn insert_handler(&self, row: &HandlerRow, reused: bool) -> Result<(), BoxError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        if reused {
            delete(&tx, &row.id)?;
        }
        tx.prepare_cached(
            "INSERT INTO handlers (id, workflow, run_id, status, input, started_at, updated_at, durable,
                                   next_sequence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
        )?
        .execute(params![
            row.id,
            row.workflow,
            row.run_id,
            row.status,
            row.input.to_string(),
            row.started_at,
            row.updated_at,
            row.durable
        ])?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets handler `id`: its record, log and journals.
    pub(crate) fn delete(&self, id: &str) -> Result<(), BoxError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        delete(&tx, id)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes `commit` whole, or nothing of it.
    pub(crate) fn commit(&self, commit: &Commit<'_>) -> Result<(), BoxError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (handler, sequence, internal, envelope) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (i, (internal, envelope)) in commit.events.iter().enumerate() {
                let sequence = (commit.first_sequence + i as u64) as i64;
                insert.execute(params![commit.handler, sequence, internal, envelope])?;
            }
        }
        let next = (commit.first_sequence + commit.events.len() as u64) as i64;
        tx.prepare_cached("UPDATE handlers SET updated_at = ?2, next_sequence = ?3 WHERE id = ?1")?
            .execute(params![commit.handler, commit.updated_at, next])?;
        if let Some((workflow, snapshot)) = commit.journal {
            save_journal(&tx, commit.handler, workflow, snapshot)?;
        }
        if let Some(ending) = &commit.ending {
            tx.prepare_cached(
                "UPDATE handlers SET status = ?2, result = ?3, error = ?4, completed_at = ?5 WHERE id = ?1",
            )?
            .execute(params![
                commit.handler,
                ending.status,
                ending.result.map(Value::to_string),
                ending.error,
                ending.completed_at
            ])?;
            if let Some(outcome) = &ending.outcome {
                finish_journal(&tx, commit.handler, outcome)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Handler `id`'s events with sequences in `from..to`, in order.
    pub(crate) fn events(&self, id: &str, from: u64, to: u64) -> Result<Vec<(u64, bool, String)>, BoxError> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT sequence, internal, envelope FROM events
             WHERE handler = ?1 AND sequence >= ?2 AND sequence < ?3 ORDER BY sequence",
        )?;
        let rows = query.query_map(params![id, from as i64, to as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces journal `key` with `snapshot` (a child run's, on its own).
    pub(crate) fn save(&self, key: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        save_journal(&tx, key, workflow, snapshot)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that the run of journal `key` ended with `outcome`.
    pub(crate) fn finish(&self, key: &str, outcome: &Value) -> Result<(), BoxError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        finish_journal(&tx, key, outcome)?;
        tx.commit()?;
        Ok(())
    }

    /// What journal `key` holds.
    pub(crate) fn load(&self, key: &str) -> Result<Option<Journaled>, BoxError> {
        let row: Option<(bool, Option<String>, Option<String>)> = self
            .lock()
            .query_row("SELECT done, snapshot, outcome FROM journals WHERE key = ?1", params![key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(match row {
            None => None,
            Some((false, Some(json), _)) => {
                let snapshot =
                    Snapshot::from_json(&json).map_err(|e| format!("the journal of run `{key}`: {e}"))?;
                Some(Journaled::Unfinished(Box::new(snapshot)))
            }
            Some((_, _, outcome)) => {
                let outcome: Value = serde_json::from_str(outcome.as_deref().unwrap_or("null"))?;
                match (outcome.get("stopped"), outcome.get("failed")) {
                    (Some(result), _) => Some(Journaled::Stopped(result.clone())),
                    (_, Some(message)) => {
                        Some(Journaled::Failed(message.as_str().unwrap_or_default().into()))
                    }
                    _ => return Err(format!("run `{key}` has an outcome of unknown shape: {outcome}").into()),
                }
            }
        })
    }
}

fn delete(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM handlers WHERE id = ?1")?.execute(params![id])?;
    tx.prepare_cached("DELETE FROM events WHERE handler = ?1")?.execute(params![id])?;
    // Its journal and its child runs' (`{id}#child:…`: a range of the key's
    // index, as `;` follows `:`).
    tx.prepare_cached(
        "DELETE FROM journals WHERE key = ?1 OR (key >= ?1 || '#child:' AND key < ?1 || '#child;')",
    )?
    .execute(params![id])?;
    Ok(())
}

fn save_journal(
    tx: &Transaction<'_>,
    key: &str,
    workflow: &str,
    snapshot: &Snapshot,
) -> Result<(), BoxError> {
    let json = serde_json::to_string(snapshot)?;
    tx.prepare_cached(
        "INSERT INTO journals (key, workflow, snapshot, done) VALUES (?1, ?2, ?3, 0)
         ON CONFLICT (key) DO UPDATE SET snapshot = excluded.snapshot WHERE done = 0",
    )?
    .execute(params![key, workflow, json])?;
    Ok(())
}

fn finish_journal(tx: &Transaction<'_>, key: &str, outcome: &Value) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO journals (key, workflow, done, outcome) VALUES (?1, '', 1, ?2)
         ON CONFLICT (key) DO UPDATE SET done = 1, outcome = excluded.outcome, snapshot = NULL",
    )?
    .execute(params![key, outcome.to_string()])?;
    Ok(())
}

/// How a journal records a run's end.
pub(crate) fn outcome_json(outcome: Result<&Value, &str>) -> Value {
    match outcome {
        Ok(result) => serde_json::json!({ "stopped": result }),
        Err(message) => serde_json::json!({ "failed": message }),
    }
}
