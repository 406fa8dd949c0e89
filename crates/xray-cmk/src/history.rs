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
        })
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

    pub fn finish(mut self, finished_at: &str, exit_code: i32) {
        let Some(id) = self.id else { return };
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
    use xray_cmk_core::{EncryptionType, Observed};
    inventory
        .targets
        .iter()
        .map(|t| {
            let (encryption, key_id) = match &t.encryption {
                Observed::Unknown(_) => (None, None),
                Observed::Known(e) => (
                    Some(match &e.encryption_type {
                        EncryptionType::None => "NONE".to_owned(),
                        EncryptionType::Kms => "KMS".to_owned(),
                        EncryptionType::Other(o) => o.clone(),
                    }),
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
