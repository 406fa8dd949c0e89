//! `xray-cmk guard generate`: the effects around the pure generator in
//! `xray_cmk_core::guard`: reading the approved keys (a file, or the latest recorded audit) and
//! writing the files atomically (each to a temporary file in its directory, then renamed), never
//! into a non-empty directory without `--force`.

use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use xray_cmk_core::guard::{self, GuardInput, KeyArn};
use xray_cmk_store::kpi::RunRecord;

use crate::cli::GuardGenerateArgs;
use crate::exit::Exit;

pub(crate) fn generate(args: &GuardGenerateArgs) -> Result<Exit> {
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let keys = match &args.key_arns {
        Some(path) => {
            let text = crate::input::read_text(path, "key ARN list", crate::input::KEY_ARNS_CAP)?;
            guard::parse_key_arns(&text, &path.display().to_string())?
        }
        None => keys_from_history(args)?,
    };
    let files = guard::generate(&GuardInput {
        guard: &policy.guard,
        keys: &keys,
        remediation_alias: &policy.keys.alias,
    })?;
    check_out_dir(&args.out, args.force)?;
    for file in &files {
        write_atomically(&args.out.join(file.path), &file.text)?;
    }
    eprintln!(
        "wrote the guardrail for {} approved key(s) into {}: {}",
        keys.len(),
        args.out.display(),
        files.iter().map(|f| f.path).collect::<Vec<_>>().join(", ")
    );
    Ok(Exit::Clean)
}

fn keys_from_history(args: &GuardGenerateArgs) -> Result<Vec<KeyArn>> {
    let store = crate::history::open_existing(args.history.db.clone())?;
    let runs = store.runs("audit", "0000-01-01T00:00:00Z")?;
    let latest = runs
        .last()
        .ok_or_else(|| anyhow!("the history holds no finished audit: run `xray-cmk audit` first, or pass --key-arns FILE"))?;
    let keys = approved_in(latest);
    if keys.is_empty() {
        bail!(
            "the latest audit ({}) has no customer managed key that is enabled and passed every rule that judged it: fix the keys (`xray-cmk plan`), audit again, or pass --key-arns FILE",
            latest.started_at
        );
    }
    Ok(keys)
}

/// The keys of an audit the guardrail can approve: customer managed, enabled, recorded with a key
/// ARN, judged by at least one rule and failed (or errored) by none, suppressed results included,
/// since an exemption accepts a failure rather than making the key compliant.
fn approved_in(run: &RunRecord) -> Vec<KeyArn> {
    let mut keys: Vec<KeyArn> = run
        .inventory
        .keys
        .iter()
        .filter(|k| {
            k.manager.as_deref() == Some("CUSTOMER") && k.state.as_deref() == Some("Enabled")
        })
        .filter(|k| {
            let judged: Vec<&str> = run
                .results
                .iter()
                .filter(|r| r.key_id.as_deref() == Some(k.key_id.as_str()))
                .map(|r| r.status.as_str())
                .collect();
            !judged.is_empty() && judged.iter().all(|s| *s == "pass")
        })
        .filter_map(|k| KeyArn::parse(&k.key_id, "history", 0).ok())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A missing directory is created; an existing one must be a directory, and empty unless `force`.
fn check_out_dir(dir: &Path, force: bool) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                bail!(
                    "{} is not empty; pass --force to write the guardrail into it (its generated files are replaced, others are left alone)",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
        }
        Err(e) => Err(e).with_context(|| format!("reading the directory {}", dir.display())),
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader never
/// sees half a file, and an interrupted run leaves the old file in place.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_cmk_store::kpi::ResultRecord;
    use xray_cmk_store::{KeyRecord, RecordedInventory};

    const GOOD: &str = "arn:aws:kms:us-east-1:111122223333:key/good";
    const FAILING: &str = "arn:aws:kms:us-east-1:111122223333:key/failing";
    const MANAGED: &str = "arn:aws:kms:us-east-1:111122223333:key/aws-managed";
    const DISABLED: &str = "arn:aws:kms:us-east-1:111122223333:key/disabled";
    const UNJUDGED: &str = "arn:aws:kms:us-east-1:111122223333:key/unjudged";

    fn key(arn: &str, manager: &str, state: &str) -> KeyRecord {
        KeyRecord {
            key_id: arn.into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            manager: Some(manager.into()),
            state: Some(state.into()),
            spec: None,
            rotation_enabled: None,
            rotation_days: None,
            tags: None,
            aliases: None,
            policy: None,
            used_by: Vec::new(),
        }
    }

    fn result(arn: &str, rule: &str, status: &str) -> ResultRecord {
        ResultRecord {
            fingerprint: format!("{rule}{arn}"),
            rule: rule.into(),
            status: status.into(),
            severity: "high".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            resource: arn.into(),
            key_id: Some(arn.into()),
            message: String::new(),
            suppressed: status == "fail",
        }
    }

    #[test]
    fn only_enabled_customer_keys_that_passed_every_rule_are_approved() {
        let run = RunRecord {
            id: 1,
            started_at: "2026-12-01T00:00:00Z".into(),
            scope: serde_json::Value::Null,
            results: vec![
                result(GOOD, "kms-rotation-disabled", "pass"),
                result(GOOD, "kms-key-policy-public", "pass"),
                result(FAILING, "kms-rotation-disabled", "pass"),
                result(FAILING, "kms-key-policy-public", "fail"),
                result(MANAGED, "xray-aws-managed-key", "pass"),
                result(DISABLED, "kms-rotation-disabled", "pass"),
            ],
            inventory: RecordedInventory {
                targets: None,
                keys: vec![
                    key(GOOD, "CUSTOMER", "Enabled"),
                    key(FAILING, "CUSTOMER", "Enabled"),
                    key(MANAGED, "AWS", "Enabled"),
                    key(DISABLED, "CUSTOMER", "Disabled"),
                    key(UNJUDGED, "CUSTOMER", "Enabled"),
                ],
            },
        };
        let approved: Vec<String> = approved_in(&run).iter().map(|k| k.to_string()).collect();
        assert_eq!(approved, [GOOD]);
    }

    #[test]
    fn a_non_empty_directory_needs_force_and_files_are_replaced_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("guard");
        check_out_dir(&out, false).expect("created");
        write_atomically(&out.join("terraform/main.tf"), "a\n").expect("write");
        let err = check_out_dir(&out, false).expect_err("not empty");
        assert!(err.to_string().contains("pass --force"), "{err}");
        check_out_dir(&out, true).expect("forced");
        write_atomically(&out.join("terraform/main.tf"), "b\n").expect("rewrite");
        assert_eq!(
            std::fs::read_to_string(out.join("terraform/main.tf")).expect("read"),
            "b\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(out.join("terraform"))
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
