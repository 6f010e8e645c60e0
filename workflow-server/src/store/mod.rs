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
use workflow_durable::table;

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
    /// The start event's payload; [`Store::handlers`] leaves it null.
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
    /// The end its journal records (its result as JSON, or its error's
    /// message), if it has a journal.
    pub(crate) journal: Option<Result<&'a Value, &'a str>>,
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

    /// The journals are workflow-durable's table; the handlers and their
    /// event logs are the server's own, beside it in the same database.
    fn with(connection: Connection) -> Result<Self, rusqlite::Error> {
        table::prepare(&connection)?;
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
            ) WITHOUT ROWID;",
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
            "SELECT id, workflow, run_id, status, result, error, started_at, updated_at,
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
                // Not read back: a run needs it only to start again (`input`).
                input: Value::Null,
                result: json(r.get(4)?),
                error: r.get(5)?,
                started_at: r.get(6)?,
                updated_at: r.get(7)?,
                completed_at: r.get(8)?,
                durable: r.get(9)?,
                next_sequence: r.get::<_, i64>(10)? as u64,
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
            table::save(&tx, commit.handler, workflow, snapshot)?;
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
            if let Some(outcome) = ending.journal {
                table::finish(&tx, commit.handler, outcome)?;
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
        table::save(&self.lock(), key, workflow, snapshot)
    }

    /// Records that the run of journal `key` ended with `outcome`.
    pub(crate) fn finish(&self, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        table::finish(&self.lock(), key, outcome)
    }

    /// What journal `key` holds.
    pub(crate) fn load(&self, key: &str) -> Result<Option<Journaled>, BoxError> {
        table::load(&self.lock(), key)
    }

    /// The input handler `id` was started with: what a run that stopped
    /// before its first journal starts from again.
    pub(crate) fn input(&self, id: &str) -> Result<Value, BoxError> {
        let text: Option<String> = self
            .lock()
            .query_row("SELECT input FROM handlers WHERE id = ?1", params![id], |r| r.get(0))
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?.unwrap_or(Value::Null))
    }
}

fn delete(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM handlers WHERE id = ?1")?.execute(params![id])?;
    tx.prepare_cached("DELETE FROM events WHERE handler = ?1")?.execute(params![id])?;
    // Its journal and its child runs'.
    table::delete(tx, id)?;
    Ok(())
}
