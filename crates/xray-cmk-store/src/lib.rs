//! Scan history: every `audit`, `apply` and `iac scan` run, with every result under a stable
//! fingerprint and every remediation step, in one SQLite file.
//!
//! - The schema is versioned (`PRAGMA user_version`) and migrated forward in a transaction; a
//!   database written by a newer xray-cmk is refused, never rewritten.
//! - WAL mode and a busy timeout let two runs overlap. A run is begun before it acts and each
//!   remediation step is written when it ends, so a run that was killed keeps what it did: it is
//!   left without a finish time ([`RunStatus::Incomplete`]).
//! - A file that is not an xray-cmk database is refused, never overwritten.
//!
//! The KPI queries ([`kpi`]) are pure functions over what is read back.

pub mod kpi;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use xray_cmk_core::Finding;

/// The schema this version writes. Each entry of [`MIGRATIONS`] moves it one version up.
pub const SCHEMA_VERSION: i64 = 6;

/// `MIGRATIONS[n]` turns schema `n` into `n + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
CREATE TABLE keys (
    run_id           INTEGER NOT NULL REFERENCES runs(id),
    key_id           TEXT NOT NULL,
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    manager          TEXT,
    state            TEXT,
    spec             TEXT,
    rotation_enabled INTEGER,            -- NULL: unknown
    rotation_days    INTEGER,
    tags             TEXT,               -- JSON object; NULL: unknown
    aliases          TEXT,               -- JSON array; NULL: unknown
    policy           TEXT,               -- JSON array of statement summaries; NULL: unknown
    used_by          TEXT NOT NULL       -- JSON array of "account/region"
);
CREATE INDEX keys_by_run ON keys(run_id);
"#,
    r#"
CREATE TABLE actions (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,           -- RFC 3339 UTC
    who         TEXT NOT NULL,           -- sts:GetCallerIdentity ARN
    action      TEXT NOT NULL,           -- erase | restore | schedule-deletion | rotate-now
    key_arn     TEXT NOT NULL,
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    state_after TEXT NOT NULL
);
"#,
    // The X-Ray configurations an audit read (or could not): with `keys`, the recorded inventory
    // the KMS cost is counted from. Runs recorded before have no rows here.
    r#"
CREATE TABLE targets (
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    encryption TEXT,                     -- NONE | KMS | another Type X-Ray reports; NULL: unreadable
    key_id     TEXT                      -- the key X-Ray names: its ARN when it was described
);
CREATE INDEX targets_by_run ON targets(run_id);
"#,
    // When each step ended: an apply writes every step as it ends. Steps recorded before have
    // none (they were written together when the run finished).
    r#"
ALTER TABLE steps ADD COLUMN ended_at TEXT;  -- RFC 3339 UTC; NULL: recorded before schema 5
CREATE INDEX steps_by_run ON steps(run_id);
"#,
    // The evidence of each `evidence` run in a table of its own: before, the whole document was
    // the run's scope. The scope keeps what identifies the run (the key, account and region).
    r#"
CREATE TABLE evidence (
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    key_arn  TEXT NOT NULL,
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    days     INTEGER,
    document TEXT NOT NULL               -- JSON: the evidence document `evidence --format json` prints
);
CREATE INDEX evidence_by_run ON evidence(run_id);
INSERT INTO evidence(run_id, key_arn, account, region, days, document)
    SELECT id,
           coalesce(json_extract(scope, '$.key'), ''),
           coalesce(json_extract(scope, '$.account'), ''),
           coalesce(json_extract(scope, '$.region'), ''),
           json_extract(scope, '$.days'),
           scope
    FROM runs WHERE kind = 'evidence' AND json_valid(scope);
UPDATE runs SET scope = json_object(
        'key', json_extract(scope, '$.key'),
        'account', json_extract(scope, '$.account'),
        'region', json_extract(scope, '$.region'))
    WHERE kind = 'evidence' AND json_valid(scope);
"#,
];

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

/// The evidence of an `evidence` run, to record.
#[derive(Debug, Clone)]
pub struct EvidenceRecord<'a> {
    pub key_arn: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub days: u64,
    pub document: &'a serde_json::Value,
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
    /// When the step ended (RFC 3339 UTC).
    pub ended_at: Option<&'a str>,
}

/// A recorded remediation step, read back for `xray-cmk history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepRow {
    pub account: String,
    pub region: String,
    pub step: i64,
    pub action: String,
    pub outcome: String,
    pub message: String,
    /// `None` for a step recorded before schema 5.
    pub ended_at: Option<String>,
}

/// Whether a run finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Finished,
    /// No finish time: the run was killed or crashed, is still running, or could not complete
    /// its record. Its steps are those it recorded.
    Incomplete,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Finished => "finished",
            RunStatus::Incomplete => "incomplete",
        }
    }
}

/// What identifies a result across runs: the rule and what it judged, not the message.
pub fn fingerprint(f: &Finding) -> String {
    f.fingerprint()
}

/// A deliberate action on a key (`erase`, `restore`, `rotate-now`): who, when, why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionRecord {
    pub at: String,
    pub who: String,
    pub action: String,
    pub key_arn: String,
    pub account: String,
    pub region: String,
    pub reason: String,
    /// The key's state read back after the action.
    pub state_after: String,
}

/// A run's header, for `xray-cmk history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunHead {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    /// Empty while running, or when it never finished.
    pub finished_at: String,
    pub exit_code: Option<i32>,
    pub status: RunStatus,
    /// The remediation steps it recorded, in the order they ended.
    pub steps: Vec<StepRow>,
}

/// A KMS key as an audit saw it, for the report's key inventory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub account: String,
    pub region: String,
    pub manager: Option<String>,
    pub state: Option<String>,
    pub spec: Option<String>,
    pub rotation_enabled: Option<bool>,
    pub rotation_days: Option<u32>,
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    pub aliases: Option<Vec<String>>,
    /// One-line summaries of the key policy's statements.
    pub policy: Option<Vec<String>>,
    /// `account/region` of the X-Ray configurations using it.
    pub used_by: Vec<String>,
}

/// An X-Ray configuration as an audit read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetRecord {
    pub account: String,
    pub region: String,
    /// X-Ray's encryption `Type` (`NONE`, `KMS`, …); `None` when it could not be read.
    pub encryption: Option<String>,
    /// The key X-Ray names: its ARN when the key was described (as [`KeyRecord::key_id`]), else
    /// the id X-Ray reported.
    pub key_id: Option<String>,
}

/// What an audit recorded of its inventory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedInventory {
    /// Every target of the run; `None` for a run recorded before schema 4, which did not record
    /// them (an audit always has a target).
    pub targets: Option<Vec<TargetRecord>>,
    /// The keys it described, one per key id.
    pub keys: Vec<KeyRecord>,
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

/// Why the first read of the database failed, in words that say what to do: a read-only file or
/// directory (SQLite needs to write its `-wal` and `-shm` files beside the database, even to
/// read it) is not "not a database".
fn unreadable(path: &Path, e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            format!(
                "cannot be opened for writing ({e}): the history needs the file and its directory {} to be writable, since SQLite writes its -wal and -shm files beside it even to read",
                dir.display()
            )
        }
        Some(ErrorCode::NotADatabase) => format!("not an SQLite database ({e})"),
        _ => format!("not a readable SQLite database ({e})"),
    }
}

impl Store {
    /// Every row `sql` selects with `params`, each made a `T` by `row`.
    fn all<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params, row)
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(rows)
    }

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
        // Read first, write nothing: a file that is not SQLite fails here, and a newer or
        // foreign database is refused before anything could change it.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_err(unreadable(path, &e)))?;
        Self::check(&conn, version, &shown)?;
        // Under the write lock, so a run that is creating the database meanwhile is waited for
        // rather than mistaken for something else: check again, then migrate.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| open_err(e.to_string()))?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        Self::check(&tx, current, &shown)?;
        if current == 0 {
            let tables: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| open_err(e.to_string()))?;
            if tables > 0 {
                return Err(open_err(
                    "an SQLite database of something else (it has tables but no xray-cmk schema)"
                        .to_owned(),
                ));
            }
        }
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)
                .map_err(|e| open_err(format!("migrating from schema {from}: {e}")))?;
            tx.pragma_update(None, "user_version", from as i64 + 1)
                .map_err(|e| open_err(e.to_string()))?;
        }
        tx.commit().map_err(|e| open_err(e.to_string()))?;
        // Readers do not block the writer, and two runs can overlap. WAL mode is persistent in
        // the file; switching needs a moment without other connections, and SQLite answers
        // "locked" at once rather than waiting, so it is retried for a while.
        let mut tries = 0;
        loop {
            let mode: Result<String, _> = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0));
            if mode.as_deref().is_ok_and(|m| m.eq_ignore_ascii_case("wal")) {
                break;
            }
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(m) if m.eq_ignore_ascii_case("wal") => break,
                Ok(_) | Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(m) => return Err(open_err(format!("cannot switch to WAL mode (still {m})"))),
                Err(e) => return Err(open_err(e.to_string())),
            }
        }
        Ok(Store { conn, path: shown })
    }

    /// Refuses a newer schema, or a versioned database that is not xray-cmk's.
    fn check(conn: &Connection, version: i64, shown: &str) -> Result<(), StoreError> {
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: shown.to_owned(),
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
                .map_err(|e| StoreError::Open {
                    path: shown.to_owned(),
                    detail: format!("not an xray-cmk history database ({e})"),
                })?;
            if app.as_deref() != Some("xray-cmk") {
                return Err(StoreError::Open {
                    path: shown.to_owned(),
                    detail: "not an xray-cmk history database".to_owned(),
                });
            }
        }
        Ok(())
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
                        f.rule().as_str(),
                        f.status().as_str(),
                        f.severity().as_str(),
                        f.confidence().as_str(),
                        f.account(),
                        f.region(),
                        f.resource(),
                        f.key(),
                        f.message(),
                        f.is_suppressed()
                    ])
                    .map_err(sql)?;
            }
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO steps(run_id, account, region, step, action, outcome, message,
                       ended_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
                        s.message,
                        s.ended_at
                    ])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Adds the keys an audit saw to run `id`.
    pub fn add_keys(&mut self, id: i64, keys: &[KeyRecord]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::Sql(e, path.clone());
        let json = |v: &dyn erased::Json| v.to_json();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO keys(run_id, key_id, account, region, manager, state, spec,
                       rotation_enabled, rotation_days, tags, aliases, policy, used_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(sql)?;
            for k in keys {
                insert
                    .execute(params![
                        id,
                        k.key_id,
                        k.account,
                        k.region,
                        k.manager,
                        k.state,
                        k.spec,
                        k.rotation_enabled,
                        k.rotation_days,
                        k.tags.as_ref().map(|t| json(t)),
                        k.aliases.as_ref().map(|a| json(a)),
                        k.policy.as_ref().map(|p| json(p)),
                        json(&k.used_by),
                    ])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Adds the X-Ray configurations an audit read (or could not) to run `id`.
    pub fn add_targets(&mut self, id: i64, targets: &[TargetRecord]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::Sql(e, path.clone());
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO targets(run_id, account, region, encryption, key_id)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql)?;
            for t in targets {
                insert
                    .execute(params![id, t.account, t.region, t.encryption, t.key_id])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// The inventory recorded with run `id`: its targets (none before schema 4) and keys.
    pub fn inventory(&self, id: i64) -> Result<RecordedInventory, StoreError> {
        let targets: Vec<TargetRecord> = self.all(
            "SELECT account, region, encryption, key_id FROM targets
                 WHERE run_id = ?1 ORDER BY account, region",
            params![id],
            |r| {
                Ok(TargetRecord {
                    account: r.get(0)?,
                    region: r.get(1)?,
                    encryption: r.get(2)?,
                    key_id: r.get(3)?,
                })
            },
        )?;
        Ok(RecordedInventory {
            targets: (!targets.is_empty()).then_some(targets),
            keys: self.keys(id)?,
        })
    }

    /// The keys recorded with run `id`, one per key id (their users merged).
    pub fn keys(&self, id: i64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows: Vec<KeyRecord> = self.all(
            "SELECT key_id, account, region, manager, state, spec, rotation_enabled,
                        rotation_days, tags, aliases, policy, used_by
                 FROM keys WHERE run_id = ?1 ORDER BY key_id",
            params![id],
            |r| {
                let parse = |i: usize| -> rusqlite::Result<Option<String>> { r.get(i) };
                Ok(KeyRecord {
                    key_id: r.get(0)?,
                    account: r.get(1)?,
                    region: r.get(2)?,
                    manager: r.get(3)?,
                    state: r.get(4)?,
                    spec: r.get(5)?,
                    rotation_enabled: r.get(6)?,
                    rotation_days: r.get(7)?,
                    tags: parse(8)?.and_then(|t| serde_json::from_str(&t).ok()),
                    aliases: parse(9)?.and_then(|t| serde_json::from_str(&t).ok()),
                    policy: parse(10)?.and_then(|t| serde_json::from_str(&t).ok()),
                    used_by: serde_json::from_str(&r.get::<_, String>(11)?).unwrap_or_default(),
                })
            },
        )?;
        let mut merged: Vec<KeyRecord> = Vec::new();
        for k in rows {
            match merged.last_mut() {
                Some(last) if last.key_id == k.key_id => {
                    for u in k.used_by {
                        if !last.used_by.contains(&u) {
                            last.used_by.push(u);
                        }
                    }
                }
                _ => merged.push(k),
            }
        }
        Ok(merged)
    }

    /// Records a deliberate action on a key.
    pub fn record_action(&mut self, a: &ActionRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO actions(at, who, action, key_arn, account, region, reason, state_after)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.at, a.who, a.action, a.key_arn, a.account, a.region, a.reason, a.state_after],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The latest action on `key_arn` among `kinds` (`erase`, `restore`, …), if any.
    pub fn last_action(
        &self,
        key_arn: &str,
        kinds: &[&str],
    ) -> Result<Option<ActionRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, who, action, key_arn, account, region, reason, state_after
                 FROM actions WHERE key_arn = ?1 ORDER BY at DESC, id DESC",
            )
            .map_err(|e| self.sql(e))?;
        let mut rows = stmt
            .query_map(params![key_arn], |r| {
                Ok(ActionRecord {
                    at: r.get(0)?,
                    who: r.get(1)?,
                    action: r.get(2)?,
                    key_arn: r.get(3)?,
                    account: r.get(4)?,
                    region: r.get(5)?,
                    reason: r.get(6)?,
                    state_after: r.get(7)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        for row in &mut rows {
            let row = row.map_err(|e| self.sql(e))?;
            if kinds.contains(&row.action.as_str()) {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    /// Actions on keys since `since`, oldest first.
    pub fn actions(&self, since: &str) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = self.all(
            "SELECT at, who, action, key_arn, account, region, reason, state_after
                 FROM actions WHERE at >= ?1 ORDER BY at, id",
            params![since],
            |r| {
                Ok(ActionRecord {
                    at: r.get(0)?,
                    who: r.get(1)?,
                    action: r.get(2)?,
                    key_arn: r.get(3)?,
                    account: r.get(4)?,
                    region: r.get(5)?,
                    reason: r.get(6)?,
                    state_after: r.get(7)?,
                })
            },
        )?;
        Ok(rows)
    }

    /// Adds the evidence of an `evidence` run `id`.
    pub fn add_evidence(&mut self, id: i64, e: &EvidenceRecord<'_>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO evidence(run_id, key_arn, account, region, days, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    e.key_arn,
                    e.account,
                    e.region,
                    i64::try_from(e.days).ok(),
                    e.document.to_string()
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The evidence documents of the finished `evidence` runs since `since`, oldest first, with
    /// their start times: what `evidence` recorded, for the report.
    pub fn evidence(&self, since: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows: Vec<(String, String)> = self.all(
            "SELECT r.started_at, e.document FROM evidence e JOIN runs r ON r.id = e.run_id
                 WHERE r.kind = 'evidence' AND r.started_at >= ?1 AND r.finished_at != ''
                 ORDER BY r.started_at, r.id",
            params![since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows
            .into_iter()
            .map(|(at, doc)| (at, serde_json::from_str(&doc).unwrap_or_default()))
            .collect())
    }

    /// Every run since `since`, oldest first, finished or not.
    pub fn run_heads(&self, since: &str) -> Result<Vec<RunHead>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, kind, started_at, finished_at, exit_code FROM runs
                 WHERE started_at >= ?1 ORDER BY started_at, id",
            )
            .map_err(|e| self.sql(e))?;
        let mut rows: Vec<RunHead> = stmt
            .query_map(params![since], |r| {
                let finished_at: String = r.get(3)?;
                Ok(RunHead {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    started_at: r.get(2)?,
                    status: if finished_at.is_empty() {
                        RunStatus::Incomplete
                    } else {
                        RunStatus::Finished
                    },
                    finished_at,
                    exit_code: r.get(4)?,
                    steps: Vec::new(),
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        for run in &mut rows {
            run.steps = self.steps(run.id)?;
        }
        Ok(rows)
    }

    /// The steps recorded for run `id`, in the order they were written.
    pub fn steps(&self, id: i64) -> Result<Vec<StepRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, region, step, action, outcome, message, ended_at
                 FROM steps WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok(StepRow {
                    account: r.get(0)?,
                    region: r.get(1)?,
                    step: r.get(2)?,
                    action: r.get(3)?,
                    outcome: r.get(4)?,
                    message: r.get(5)?,
                    ended_at: r.get(6)?,
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(rows)
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

    /// Replaces run `id`'s scope: an organization scan knows its accounts only once the
    /// organization has been listed, after the run began.
    pub fn set_scope(&mut self, id: i64, scope: &serde_json::Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET scope = ?2 WHERE id = ?1",
                params![id, scope.to_string()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Every run of `kind` started at or after `since` (RFC 3339), oldest first, with its results
    /// and recorded inventory.
    pub fn runs(&self, kind: &str, since: &str) -> Result<Vec<kpi::RunRecord>, StoreError> {
        let heads: Vec<(i64, String, String)> = self.all(
            "SELECT id, started_at, scope FROM runs
                 WHERE kind = ?1 AND started_at >= ?2 AND finished_at != ''
                 ORDER BY started_at, id",
            params![kind, since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut results = self
            .conn
            .prepare(
                "SELECT fingerprint, rule, status, severity, account, region, resource, key_id,
                        suppressed, message
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
                        message: r.get(9)?,
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
                inventory: self.inventory(id)?,
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

mod erased {
    /// JSON text of a value, for the JSON columns.
    pub trait Json {
        fn to_json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests;
