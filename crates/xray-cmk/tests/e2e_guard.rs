//! `xray-cmk guard generate` end to end: the files it writes from the fixture policy and key list
//! in scripts/tests/guard (which scripts/check-guardrail runs through cfn-lint and cfn-guard),
//! `iac scan` finding the Terraform clean, the keys read back from a recorded audit, and the
//! refusals (exit 2, nothing written).

mod common;

use std::path::{Path, PathBuf};

use common::{bare_xray_cmk, repo_root, run};
use xray_cmk_core::finding::FindingBuilder;
use xray_cmk_core::{rules, Finding};

fn fixtures() -> PathBuf {
    repo_root().join("scripts/tests/guard")
}

fn generate(out: &Path, extra: &[&str]) -> common::Run {
    run(bare_xray_cmk()
        .arg("guard")
        .arg("generate")
        .arg("--out")
        .arg(out)
        .arg("--policy")
        .arg(fixtures().join("xray-cmk.toml"))
        .args(extra))
}

fn key_arns() -> String {
    fixtures().join("approved-keys.txt").display().to_string()
}

#[test]
fn the_generated_terraform_is_clean_for_iac_scan() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("guard");
    let r = generate(&out, &["--key-arns", &key_arns()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for file in [
        "xray-cmk-guard.stackset.yaml",
        "xray-cmk-guard.scp.json",
        "xray-cmk-encryption.guard",
        "terraform/main.tf",
        "terraform/scp/main.tf",
        "README.md",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let scan = run(bare_xray_cmk()
        .arg("iac")
        .arg("scan")
        .arg(out.join("terraform"))
        .args(["--format", "json", "--quiet"]));
    assert_eq!(scan.code, 0, "{}\n{}", scan.stdout, scan.stderr);
    let report: serde_json::Value = serde_json::from_str(&scan.stdout).expect("json");
    let results = report["results"].as_array().cloned().unwrap_or_default();
    assert!(results.iter().all(|r| r["status"] == "pass"), "{results:?}");
    // A second run refuses the non-empty directory, then --force rewrites it.
    let again = generate(&out, &["--key-arns", &key_arns()]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("pass --force"), "{}", again.stderr);
    let forced = generate(&out, &["--key-arns", &key_arns(), "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

#[test]
fn aliases_and_empty_lists_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("dir");
    for (text, expected) in [
        ("alias/xray-cmk\n", "is an alias"),
        (
            "arn:aws:kms:us-east-1:111122223333:alias/xray-cmk\n",
            "is an alias",
        ),
        ("# none yet\n", "the approved key list is empty"),
    ] {
        let list = dir.path().join("keys.txt");
        std::fs::write(&list, text).expect("write");
        let out = dir.path().join("guard");
        let r = generate(&out, &["--key-arns", &list.display().to_string()]);
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{text}: {}", r.stderr);
        assert!(!out.exists(), "{text}: wrote {}", out.display());
    }
}

fn key_result(rule: &str, key: &str, pass: bool) -> Finding {
    let meta = rules::by_id(rule).expect("rule");
    let b = FindingBuilder::new(meta, "111122223333", "us-east-1", key).key(Some(key));
    if pass {
        b.pass("ok")
    } else {
        b.fail("bad")
    }
}

fn key_record(arn: &str) -> xray_cmk_store::KeyRecord {
    xray_cmk_store::KeyRecord {
        key_id: arn.into(),
        account: "111122223333".into(),
        region: "us-east-1".into(),
        manager: Some("CUSTOMER".into()),
        state: Some("Enabled".into()),
        spec: Some("SYMMETRIC_DEFAULT".into()),
        rotation_enabled: Some(true),
        rotation_days: Some(365),
        tags: None,
        aliases: None,
        policy: None,
        used_by: vec!["111122223333/us-east-1".into()],
    }
}

#[test]
fn from_history_takes_the_keys_that_passed_the_latest_audit() {
    let good = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555";
    let bad = "arn:aws:kms:us-east-1:111122223333:key/66666666-7777-8888-9999-000000000000";
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("history.db");
    let mut store = xray_cmk_store::Store::open(&db).expect("store");
    let id = store
        .begin(&xray_cmk_store::Run {
            kind: "audit",
            started_at: "2026-12-01T10:00:00Z",
            finished_at: "",
            tool_version: "test",
            scope: serde_json::json!({}),
            exit_code: None,
        })
        .expect("begin");
    store
        .add(
            id,
            &[
                key_result("kms-rotation-disabled", good, true),
                key_result("kms-rotation-disabled", bad, true),
                key_result("kms-key-policy-public", bad, false),
            ],
            &[],
        )
        .expect("add");
    store
        .add_keys(id, &[key_record(good), key_record(bad)])
        .expect("keys");
    store
        .finish(id, "2026-12-01T10:01:00Z", Some(1))
        .expect("finish");
    drop(store);
    let out = dir.path().join("guard");
    let r = generate(&out, &["--from-history", "--db", &db.display().to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let template = std::fs::read_to_string(out.join("xray-cmk-guard.stackset.yaml")).expect("read");
    assert!(
        template.contains(&format!("Default: '{good}'")),
        "{template}"
    );
    assert!(!template.contains(bad));

    let missing = generate(
        &dir.path().join("other"),
        &[
            "--from-history",
            "--db",
            &dir.path().join("none.db").display().to_string(),
        ],
    );
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no history at"),
        "{}",
        missing.stderr
    );
}
