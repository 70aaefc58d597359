//! The triage database: `DATA/triage.sqlite`, beside the index.
//!
//! SQLite (through rusqlite's bundled build, so nothing is needed on the host) rather than
//! redb: the state, its history and, next, the alert outbox are small tables that want
//! queries (history by group, pending notifications by due time), and an operator can open
//! the file with the `sqlite3` shell. Written in WAL mode with `synchronous = FULL`: a change
//! is on disk when [`Store::set`] returns, so an acknowledged change survives SIGKILL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Change, Record, Status};
use crate::error::{Error, Result};

/// The schema's version, in SQLite's `user_version`; 2 added the alert tables.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS group_state (
    fingerprint TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    in_release TEXT,
    until_count INTEGER,
    until_ms INTEGER,
    at_ms INTEGER NOT NULL,
    by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_change (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    in_release TEXT,
    until_count INTEGER,
    until_ms INTEGER,
    at_ms INTEGER NOT NULL,
    by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS status_change_by_group ON status_change (fingerprint, id);
CREATE TABLE IF NOT EXISTS alert_rule (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_watermark (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    batch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notification (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    target TEXT NOT NULL,
    format TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    claimed_until_ms INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_ms INTEGER,
    failed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notification_due ON notification (sent_ms, failed, due_ms);
CREATE INDEX IF NOT EXISTS notification_by_group ON notification (rule, fingerprint, created_ms);
";

/// Where the triage database of the data directory `data` lives.
pub fn path(data: &Path) -> PathBuf {
    data.join("triage.sqlite")
}

/// The triage database of one data directory; shared by the threads of a server.
pub struct Store {
    pub(super) conn: Mutex<Connection>,
}

impl Store {
    /// Opens the database under `data`, creating it (and `data`) if needed.
    pub fn open(data: &Path) -> Result<Store> {
        std::fs::create_dir_all(data).map_err(|source| Error::Io {
            path: data.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(path(data))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::Config(format!(
                "{}: written by a newer stackfold (schema {version}, this build reads {SCHEMA_VERSION})",
                path(data).display()
            )));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// The records of the database under `data`, none when it was never created (reading
    /// does not create it).
    pub fn records_under(data: &Path) -> Result<HashMap<String, Record>> {
        if !path(data).exists() {
            return Ok(HashMap::new());
        }
        Store::open(data)?.records()
    }

    /// Sets the status of the group `fingerprint` as `by` asked, now; returns the record as
    /// stored. Durable when it returns.
    pub fn set(&self, fingerprint: &str, change: &Change, by: &str) -> Result<Record> {
        let record = Record {
            fingerprint: fingerprint.to_owned(),
            status: change.status,
            in_release: change.in_release.clone(),
            until_count: change.until_count,
            until: change.until,
            at: Timestamp::now(),
            by: by.to_owned(),
        };
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction()?;
        let values = params![
            record.fingerprint,
            record.status.as_str(),
            record.in_release,
            record.until_count.map(|n| n as i64),
            record.until.map(|t| t.as_millisecond()),
            record.at.as_millisecond(),
            record.by,
        ];
        tx.execute(
            "INSERT INTO group_state (fingerprint, status, in_release, until_count, until_ms, at_ms, by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (fingerprint) DO UPDATE SET status = ?2, in_release = ?3,
                 until_count = ?4, until_ms = ?5, at_ms = ?6, by = ?7",
            values,
        )?;
        tx.execute(
            "INSERT INTO status_change (fingerprint, status, in_release, until_count, until_ms, at_ms, by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            values,
        )?;
        tx.commit()?;
        Ok(record)
    }

    /// Every group's current record, by fingerprint (groups never triaged have none).
    pub fn records(&self) -> Result<HashMap<String, Record>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut statement = conn.prepare(
            "SELECT fingerprint, status, in_release, until_count, until_ms, at_ms, by FROM group_state",
        )?;
        let rows = statement.query_map([], record_from_row)?;
        let mut out = HashMap::new();
        for row in rows {
            let record = row?;
            out.insert(record.fingerprint.clone(), record);
        }
        Ok(out)
    }

    /// The record of the group `fingerprint`, if it was ever triaged.
    pub fn record(&self, fingerprint: &str) -> Result<Option<Record>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        Ok(conn
            .query_row(
                "SELECT fingerprint, status, in_release, until_count, until_ms, at_ms, by
                 FROM group_state WHERE fingerprint = ?1",
                [fingerprint],
                record_from_row,
            )
            .optional()?)
    }

    /// Every change of the group `fingerprint`'s status, oldest first.
    pub fn history(&self, fingerprint: &str) -> Result<Vec<Record>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut statement = conn.prepare(
            "SELECT fingerprint, status, in_release, until_count, until_ms, at_ms, by
             FROM status_change WHERE fingerprint = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([fingerprint], record_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let status: String = row.get(1)?;
    let millis = |at: i64| Timestamp::from_millisecond(at).unwrap_or(Timestamp::UNIX_EPOCH);
    Ok(Record {
        fingerprint: row.get(0)?,
        status: status.parse().unwrap_or(Status::Unresolved),
        in_release: row.get(2)?,
        until_count: row.get::<_, Option<i64>>(3)?.map(|n| n.max(0) as u64),
        until: row.get::<_, Option<i64>>(4)?.map(millis),
        at: millis(row.get(5)?),
        by: row.get(6)?,
    })
}
