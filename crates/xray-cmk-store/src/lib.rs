//! Scan history: every `audit`, `apply` and `iac scan` run, with every result under a stable
//! fingerprint and every remediation step, in one SQLite file.
//!
//! - The schema is versioned (`PRAGMA user_version`) and migrated forward in a transaction; a
//!   database written by a newer xray-cmk is refused, never rewritten.
//! - WAL mode and a busy timeout let two runs overlap; each run is written in one transaction.
//! - A file that is not an xray-cmk database is refused, never overwritten.
//!
//! The KPI queries ([`kpi`]) are pure functions over what is read back.

pub mod kpi;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest as _, Sha256};
use xray_cmk_core::Finding;

/// The schema this version writes. Each entry of [`MIGRATIONS`] moves it one version up.
pub const SCHEMA_VERSION: i64 = 1;

/// `MIGRATIONS[n]` turns schema `n` into `n + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,          -- audit | apply | iac
    started_at   TEXT NOT NULL,          -- RFC 3339 UTC
    finished_at  TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    scope        TEXT NOT NULL,          -- JSON
    exit_code    INTEGER
);
CREATE TABLE results (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    fingerprint TEXT NOT NULL,
    rule        TEXT NOT NULL,
    status      TEXT NOT NULL,           -- pass | fail | error
    severity    TEXT NOT NULL,
    confidence  TEXT NOT NULL,
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    key_id      TEXT,
    message     TEXT NOT NULL,
    suppressed  INTEGER NOT NULL
);
CREATE INDEX results_by_fingerprint ON results(fingerprint, run_id);
CREATE INDEX results_by_run ON results(run_id);
CREATE TABLE steps (
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    step     INTEGER NOT NULL,
    action   TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    message  TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES ('application', 'xray-cmk');
"#];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("history database {path}: {detail}. Pass --db with another path, or --no-history")]
    Open { path: String, detail: String },
    #[error("history database {path} was written by a newer xray-cmk (schema {found}, this version knows up to {SCHEMA_VERSION}); it is left untouched. Upgrade xray-cmk, or pass --db with another path")]
    Newer { path: String, found: i64 },
    #[error("history database {path}: {0}", path = .1)]
    Sql(rusqlite::Error, String),
}

/// A run to record.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    pub kind: &'a str,
    pub started_at: &'a str,
    pub finished_at: &'a str,
    pub tool_version: &'a str,
    pub scope: serde_json::Value,
    pub exit_code: Option<i32>,
}

/// A remediation step's outcome, to record.
#[derive(Debug, Clone)]
pub struct StepRecord<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub step: usize,
    pub action: &'a str,
    pub outcome: &'a str,
    pub message: &'a str,
}

/// What identifies a result across runs: the rule and what it judged, not the message.
pub fn fingerprint(f: &Finding) -> String {
    let text = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        f.rule, f.account, f.region, f.resource
    );
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `$XDG_DATA_HOME/xray-cmk/history.db`, else `~/.local/share/xray-cmk/history.db`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("xray-cmk").join("history.db"))
}

pub struct Store {
    conn: Connection,
    path: String,
}

impl Store {
    /// Opens (creating it if need be) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let open_err = |detail: String| StoreError::Open {
            path: shown.clone(),
            detail,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| open_err(e.to_string()))?;
        // Reading the version is the first touch: a file that is not SQLite fails here.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_err(format!("not a readable SQLite database ({e})")))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: shown,
                found: version,
            });
        }
        if version > 0 {
            let app: Option<String> = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'application'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| open_err(format!("not an xray-cmk history database ({e})")))?;
            if app.as_deref() != Some("xray-cmk") {
                return Err(open_err("not an xray-cmk history database".to_owned()));
            }
        } else {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| open_err(e.to_string()))?;
            if tables > 0 {
                return Err(open_err(
                    "an SQLite database of something else (it has tables but no xray-cmk schema)"
                        .to_owned(),
                ));
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_err(e.to_string()))?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| open_err(e.to_string()))?;
        // Another run may have migrated meanwhile: read the version again under the lock.
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)
                .map_err(|e| open_err(format!("migrating from schema {from}: {e}")))?;
            tx.pragma_update(None, "user_version", from as i64 + 1)
                .map_err(|e| open_err(e.to_string()))?;
        }
        tx.commit().map_err(|e| open_err(e.to_string()))?;
        Ok(Store { conn, path: shown })
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sql(e, self.path.clone())
    }

    /// Records a run with its results and steps. Returns the run id.
    pub fn record(
        &mut self,
        run: &Run<'_>,
        findings: &[Finding],
        steps: &[StepRecord<'_>],
    ) -> Result<i64, StoreError> {
        let id = self.begin(run)?;
        self.add(id, findings, steps)?;
        self.finish(id, run.finished_at, run.exit_code)?;
        Ok(id)
    }

    /// Starts a run: until [`Store::finish`], it is not reported (an interrupted run leaves no
    /// half-counted results). Returns its id.
    pub fn begin(&mut self, run: &Run<'_>) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO runs(kind, started_at, finished_at, tool_version, scope, exit_code)
                 VALUES (?1, ?2, '', ?3, ?4, NULL)",
                params![
                    run.kind,
                    run.started_at,
                    run.tool_version,
                    run.scope.to_string()
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Adds results and steps to run `id`, in one transaction: a scan can write each account's
    /// results as it finishes.
    pub fn add(
        &mut self,
        id: i64,
        findings: &[Finding],
        steps: &[StepRecord<'_>],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::Sql(e, path.clone());
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO results(run_id, fingerprint, rule, status, severity, confidence,
                       account, region, resource, key_id, message, suppressed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(sql)?;
            for f in findings {
                insert
                    .execute(params![
                        id,
                        fingerprint(f),
                        f.rule,
                        f.status.as_str(),
                        f.severity.as_str(),
                        f.confidence.as_str(),
                        f.account,
                        f.region,
                        f.resource,
                        f.key,
                        f.message,
                        f.is_suppressed()
                    ])
                    .map_err(sql)?;
            }
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO steps(run_id, account, region, step, action, outcome, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql)?;
            for s in steps {
                insert
                    .execute(params![
                        id,
                        s.account,
                        s.region,
                        s.step as i64,
                        s.action,
                        s.outcome,
                        s.message
                    ])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Marks run `id` complete.
    pub fn finish(
        &mut self,
        id: i64,
        finished_at: &str,
        exit_code: Option<i32>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, exit_code = ?3 WHERE id = ?1",
                params![id, finished_at, exit_code],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Every run of `kind` started at or after `since` (RFC 3339), oldest first, with its results.
    pub fn runs(&self, kind: &str, since: &str) -> Result<Vec<kpi::RunRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, started_at, scope FROM runs
                 WHERE kind = ?1 AND started_at >= ?2 AND finished_at != ''
                 ORDER BY started_at, id",
            )
            .map_err(|e| self.sql(e))?;
        let heads: Vec<(i64, String, String)> = stmt
            .query_map(params![kind, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        let mut results = self
            .conn
            .prepare(
                "SELECT fingerprint, rule, status, severity, account, region, resource, key_id,
                        suppressed
                 FROM results WHERE run_id = ?1",
            )
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for (id, started_at, scope) in heads {
            let rows = results
                .query_map(params![id], |r| {
                    Ok(kpi::ResultRecord {
                        fingerprint: r.get(0)?,
                        rule: r.get(1)?,
                        status: r.get(2)?,
                        severity: r.get(3)?,
                        account: r.get(4)?,
                        region: r.get(5)?,
                        resource: r.get(6)?,
                        key_id: r.get(7)?,
                        suppressed: r.get(8)?,
                    })
                })
                .map_err(|e| self.sql(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?;
            out.push(kpi::RunRecord {
                id,
                started_at,
                scope: serde_json::from_str(&scope).unwrap_or_default(),
                results: rows,
            });
        }
        Ok(out)
    }

    /// How many steps of each outcome remediation runs recorded since `since`.
    pub fn step_outcomes(&self, since: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.outcome, count(*) FROM steps s JOIN runs r ON r.id = s.run_id
                 WHERE r.started_at >= ?1 AND r.finished_at != ''
                 GROUP BY s.outcome ORDER BY s.outcome",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests;
