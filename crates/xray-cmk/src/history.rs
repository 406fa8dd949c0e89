//! The history database every `audit`, `apply` and `iac scan` records into (`--db`,
//! `--no-history`), and `xray-cmk kpi` reads.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use xray_cmk_core::Finding;
use xray_cmk_store::{Run, StepRecord, Store};

use crate::cli::HistoryArgs;

/// Turns history off when set to anything but empty or `0`, unless `--db` names a database.
const NO_HISTORY_ENV: &str = "XRAY_CMK_NO_HISTORY";

/// The database to record into, if history is on. Opened before any AWS call, so a corrupt or
/// newer database stops the command before it does anything.
pub fn open(args: &HistoryArgs) -> Result<Option<Store>> {
    let env_off = std::env::var(NO_HISTORY_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    if args.no_history || (env_off && args.store.db.is_none()) {
        return Ok(None);
    }
    let path = path(args)?;
    Ok(Some(Store::open(&path)?))
}

/// `--db`, else the default path in the user's data directory.
pub fn path(args: &HistoryArgs) -> Result<PathBuf> {
    args.store.db.clone().or_else(xray_cmk_store::default_path).ok_or_else(|| {
        anyhow!("no history database path: HOME and XDG_DATA_HOME are unset; pass --db PATH or --no-history")
    })
}

/// The history database at `--db` (or the default path), which must already exist: for the
/// commands that only read it.
pub fn open_existing(db: Option<PathBuf>) -> Result<Store> {
    let path = path(&HistoryArgs {
        store: crate::cli::HistoryDb { db },
        no_history: false,
    })?;
    if !path.exists() {
        anyhow::bail!(
            "no history at {}: run `xray-cmk audit` first (it records there), or pass --db",
            path.display()
        );
    }
    Ok(Store::open(&path)?)
}

/// RFC 3339 UTC, as the history stores times.
pub fn rfc3339(t: std::time::SystemTime) -> Result<String> {
    use anyhow::Context as _;
    xray_cmk_aws::time::rfc3339(t).context("formatting a time")
}

/// A run being recorded. Write errors are reported once on stderr and never stop the command:
/// its results are printed whatever happens to the history.
pub struct Recording {
    store: Store,
    id: Option<i64>,
    failed: bool,
    /// What [`Recording::queue`] holds until [`QUEUE_ROWS`] rows are waiting or the run finishes.
    queued: Queued,
}

/// Rows an audit queues before writing them in one go. One transaction per account made an
/// organization's history 3 commits (each a WAL sync) per account: 30,000 at 10,000 accounts.
/// A run is recorded as finished only after everything queued is written, so a run cut short
/// leaves an unfinished run (which the KPIs ignore), as before.
const QUEUE_ROWS: usize = 20_000;

#[derive(Default)]
struct Queued {
    findings: Vec<Finding>,
    keys: Vec<xray_cmk_store::KeyRecord>,
    targets: Vec<xray_cmk_store::TargetRecord>,
}

impl Queued {
    fn rows(&self) -> usize {
        self.findings.len() + self.keys.len() + self.targets.len()
    }
}

impl Recording {
    pub fn start(store: Option<Store>, run: &Run<'_>) -> Option<Recording> {
        let mut store = store?;
        let id = match store.begin(run) {
            Ok(id) => Some(id),
            Err(e) => {
                eprintln!("warning: not recorded in the history: {e}");
                None
            }
        };
        Some(Recording {
            store,
            id,
            failed: id.is_none(),
            queued: Queued::default(),
        })
    }

    /// Queues one account's results, keys and targets; written when enough rows are waiting,
    /// and at the latest by [`Recording::finish`].
    pub fn queue(
        &mut self,
        findings: Vec<Finding>,
        keys: Vec<xray_cmk_store::KeyRecord>,
        targets: Vec<xray_cmk_store::TargetRecord>,
    ) {
        if self.id.is_none() || self.failed {
            return;
        }
        self.queued.findings.extend(findings);
        self.queued.keys.extend(keys);
        self.queued.targets.extend(targets);
        if self.queued.rows() >= QUEUE_ROWS {
            self.flush();
        }
    }

    /// Writes what is queued.
    fn flush(&mut self) {
        let queued = std::mem::take(&mut self.queued);
        if !queued.findings.is_empty() {
            self.add(&queued.findings, &[]);
        }
        self.add_keys(&queued.keys);
        self.add_targets(&queued.targets);
    }

    pub fn add(&mut self, findings: &[Finding], steps: &[StepRecord<'_>]) {
        let Some(id) = self.id else { return };
        if let Err(e) = self.store.add(id, findings, steps) {
            if !self.failed {
                eprintln!("warning: the history is incomplete for this run: {e}");
            }
            self.failed = true;
        }
    }

    /// Replaces the run's scope, written when it finishes (an organization's accounts are known
    /// only once it has been listed).
    pub fn set_scope(&mut self, scope: serde_json::Value) {
        let Some(id) = self.id else { return };
        if self.failed {
            return;
        }
        if let Err(e) = self.store.set_scope(id, &scope) {
            eprintln!("warning: not recorded in the history: {e}");
            self.failed = true;
        }
    }

    pub fn finish(mut self, finished_at: &str, exit_code: i32) {
        let Some(id) = self.id else { return };
        self.flush();
        if self.failed {
            // Leave it unfinished: a partial run must not count in the KPIs.
            return;
        }
        if let Err(e) = self.store.finish(id, finished_at, Some(exit_code)) {
            eprintln!("warning: not recorded in the history: {e}");
        }
    }
}

impl Recording {
    pub fn add_keys(&mut self, keys: &[xray_cmk_store::KeyRecord]) {
        let Some(id) = self.id else { return };
        if keys.is_empty() {
            return;
        }
        if let Err(e) = self.store.add_keys(id, keys) {
            if !self.failed {
                eprintln!("warning: the history is incomplete for this run: {e}");
            }
            self.failed = true;
        }
    }
}

impl Recording {
    pub fn add_evidence(&mut self, evidence: &xray_cmk_store::EvidenceRecord<'_>) {
        let Some(id) = self.id else { return };
        if let Err(e) = self.store.add_evidence(id, evidence) {
            if !self.failed {
                eprintln!("warning: the history is incomplete for this run: {e}");
            }
            self.failed = true;
        }
    }
}

impl Recording {
    pub fn add_targets(&mut self, targets: &[xray_cmk_store::TargetRecord]) {
        let Some(id) = self.id else { return };
        if targets.is_empty() {
            return;
        }
        if let Err(e) = self.store.add_targets(id, targets) {
            if !self.failed {
                eprintln!("warning: the history is incomplete for this run: {e}");
            }
            self.failed = true;
        }
    }
}

/// The X-Ray configurations of an account's inventory, each naming its key as
/// [`key_records`] does (the key's ARN when it was described), or unreadable.
pub fn target_records(inventory: &xray_cmk_core::Inventory) -> Vec<xray_cmk_store::TargetRecord> {
    use xray_cmk_core::Observed;
    inventory
        .targets
        .iter()
        .map(|t| {
            let (encryption, key_id) = match &t.encryption {
                Observed::Unknown(_) => (None, None),
                Observed::Known(e) => (
                    Some(e.encryption_type.as_wire().to_owned()),
                    e.key_id.as_ref().map(|id| match inventory.keys.get(id) {
                        Some(Observed::Known(k)) => k.arn.clone().unwrap_or_else(|| id.clone()),
                        _ => id.clone(),
                    }),
                ),
            };
            xray_cmk_store::TargetRecord {
                account: t.account.clone(),
                region: t.region.clone(),
                encryption,
                key_id,
            }
        })
        .collect()
}

/// The keys an account's inventory holds, as the report's key inventory shows them.
pub fn key_records(inventory: &xray_cmk_core::Inventory) -> Vec<xray_cmk_store::KeyRecord> {
    use xray_cmk_core::{KeyManager, Observed};
    inventory
        .keys
        .iter()
        .filter_map(|(id, observed)| {
            let Observed::Known(k) = observed else {
                return None;
            };
            let used_by: Vec<String> = inventory
                .targets_using(id)
                .map(|t| format!("{}/{}", t.account, t.region))
                .collect();
            let (account, region) = k
                .account_region()
                .map(|(a, r)| (a.to_owned(), r.to_owned()))
                .or_else(|| {
                    inventory
                        .targets_using(id)
                        .next()
                        .map(|t| (t.account.clone(), t.region.clone()))
                })?;
            let rotation = k.rotation.known();
            let policy =
                k.policy.known().map(
                    |text| match xray_cmk_core::key_policy::PolicyDocument::parse(text) {
                        Ok(doc) => doc.statements.iter().map(|s| s.summary()).collect(),
                        Err(e) => vec![format!("not analysable: {e}")],
                    },
                );
            Some(xray_cmk_store::KeyRecord {
                key_id: k.arn.clone().unwrap_or_else(|| id.clone()),
                account,
                region,
                manager: k.key_manager.as_ref().map(|m| match m {
                    KeyManager::Aws => "AWS".to_owned(),
                    KeyManager::Customer => "CUSTOMER".to_owned(),
                    KeyManager::Other(o) => o.clone(),
                }),
                state: k.key_state.as_ref().map(|s| s.as_str().to_owned()),
                spec: k.key_spec.clone(),
                rotation_enabled: rotation.map(|r| r.enabled),
                rotation_days: rotation.and_then(|r| r.period_days),
                tags: k.tags.known().cloned(),
                aliases: k.aliases.known().cloned(),
                policy,
                used_by,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_cmk_core::finding::FindingBuilder;

    fn findings(account: &str, n: usize) -> Vec<Finding> {
        let meta = xray_cmk_core::rules::ALL[0].meta();
        (0..n)
            .map(|i| FindingBuilder::new(meta, account, format!("region-{i}"), "xray").fail("bad"))
            .collect()
    }

    fn start(path: &std::path::Path) -> Recording {
        let run = Run {
            kind: "audit",
            started_at: "2026-12-02T10:00:00Z",
            finished_at: "2026-12-02T10:00:00Z",
            tool_version: "test",
            scope: serde_json::json!({}),
            exit_code: None,
        };
        Recording::start(Some(Store::open(path).expect("open")), &run).expect("recording")
    }

    fn recorded(path: &std::path::Path) -> Vec<usize> {
        let store = Store::open(path).expect("open");
        let runs = store.runs("audit", "2000-01-01T00:00:00Z").expect("runs");
        runs.iter().map(|r| r.results.len()).collect()
    }

    #[test]
    fn queued_results_are_written_by_finish_and_a_run_cut_short_stays_unfinished() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.db");
        let mut r = start(&path);
        r.queue(findings("111111111111", 3), Vec::new(), Vec::new());
        r.queue(findings("222222222222", 2), Vec::new(), Vec::new());
        r.finish("2026-12-02T10:01:00Z", 1);
        assert_eq!(recorded(&path), [5]);

        // Dropped before `finish` (the process ended): nothing of it counts, as before queueing.
        let mut cut = start(&path);
        cut.queue(findings("333333333333", 4), Vec::new(), Vec::new());
        drop(cut);
        assert_eq!(recorded(&path), [5]);
    }

    #[test]
    fn a_full_queue_is_written_before_the_run_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.db");
        let mut r = start(&path);
        let id = r.id.expect("run id");
        let targets = |n: usize| {
            (0..n)
                .map(|i| xray_cmk_store::TargetRecord {
                    account: format!("{i:012}"),
                    region: "eu-west-1".to_owned(),
                    encryption: Some("NONE".to_owned()),
                    key_id: None,
                })
                .collect::<Vec<_>>()
        };
        let written = || {
            let store = Store::open(&path).expect("open");
            store
                .inventory(id)
                .expect("inventory")
                .targets
                .map_or(0, |t| t.len())
        };
        r.queue(
            findings("111111111111", 1),
            Vec::new(),
            targets(QUEUE_ROWS - 2),
        );
        assert_eq!(written(), 0, "not yet full");
        r.queue(Vec::new(), Vec::new(), targets(1));
        assert_eq!(written(), QUEUE_ROWS - 1, "written once full");
        assert_eq!(r.queued.rows(), 0);
        r.queue(Vec::new(), Vec::new(), targets(1));
        r.finish("2026-12-02T10:01:00Z", 0);
        assert_eq!(written(), QUEUE_ROWS);
        assert_eq!(recorded(&path), [1]);
    }
}
