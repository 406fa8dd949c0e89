//! End-to-end incident handling against a freshly seeded emulator: what `restore` knows before
//! it re-enables a key, and what a killed `apply` leaves in the history.

mod common;

use std::path::{Path, PathBuf};

use common::{run, Emulator, Run};
use serde_json::Value;

const MGMT: &str = "123456789012";

fn history(emu: &Emulator, db: &Path) -> Value {
    let r = run(emu
        .xray_cmk()
        .args(["history", "--format", "json", "--db"])
        .arg(db));
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("history json")
}

fn single_target_plan(emu: &Emulator) -> PathBuf {
    let out = emu.dir.path().join("plan.json");
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--quiet", "--policy"])
        .arg(emu.policy())
        .args(["--accounts", MGMT, "--regions", "us-east-2", "--out"])
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

fn apply_cmd(emu: &Emulator, plan: &Path, db: &Path) -> std::process::Command {
    let mut cmd = emu.xray_cmk();
    cmd.args(["apply", "--yes", "--quiet", "--policy"])
        .arg(emu.policy())
        .arg(plan)
        .arg("--db")
        .arg(db);
    cmd
}

/// (action, outcome) of a history run's steps, in the order they were recorded.
fn steps(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["action"].as_str().expect("action").to_owned(),
                s["outcome"].as_str().expect("outcome").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_killed_apply_is_listed_incomplete_with_the_steps_it_completed() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let plan = single_target_plan(&emu);

    // Aborted (as SIGKILL would) right after X-Ray was switched to the new key.
    let out = apply_cmd(&emu, &plan, &db)
        .env("XRAY_CMK_TEST_CRASH_AFTER", "set_xray_encryption")
        .output()
        .expect("run");
    assert!(
        out.status.code().is_none(),
        "the crash hook must abort the run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h = history(&emu, &db);
    let runs = h["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{h:#}");
    let killed = &runs[0];
    assert_eq!(killed["kind"], "apply");
    assert_eq!(killed["status"], "incomplete", "{killed:#}");
    assert_eq!(killed["finished_at"], "", "{killed:#}");
    let done = steps(killed);
    assert_eq!(
        done.last().map(|(a, o)| (a.as_str(), o.as_str())),
        Some(("set_xray_encryption", "done")),
        "{killed:#}"
    );
    assert!(
        done.iter().any(|(a, o)| a == "create_key" && o == "done"),
        "{killed:#}"
    );
    assert!(
        killed["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["ended_at"].as_str().is_some_and(|t| t.starts_with("20"))),
        "{killed:#}"
    );
    assert!(
        !done.iter().any(|(a, _)| a == "verify"),
        "verification never ran: {killed:#}"
    );
    // The table says so too.
    let r = run(emu.xray_cmk().args(["history", "--db"]).arg(&db));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("INCOMPLETE"), "{}", r.stdout);
    assert!(r.stdout.contains("set_xray_encryption"), "{}", r.stdout);

    // The re-run finds every change in place (verification is left to `xray-cmk verify`); the
    // killed run stays listed as it was.
    let r = run(&mut apply_cmd(&emu, &plan, &db));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let h = history(&emu, &db);
    let runs = h["runs"].as_array().expect("runs");
    assert_eq!(runs[0]["status"], "incomplete", "{h:#}");
    assert_eq!(steps(&runs[0]), done);
}

/// The seeded key X-Ray uses in the management account's us-east-1: (id, ARN).
fn xray_key(emu: &Emulator) -> (String, String) {
    let seed = emu.seed();
    let key = seed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["account_id"] == MGMT && k["region"] == "us-east-1")
        .expect("the good key")
        .clone();
    (
        key["key_id"].as_str().expect("id").to_owned(),
        key["key_arn"].as_str().expect("arn").to_owned(),
    )
}

/// Disables the key outside xray-cmk, as the account's root (a responder at the console).
fn disable_elsewhere(emu: &Emulator, key_arn: &str) {
    emu.python(&format!(
        r#"
import boto3
kms = boto3.client("kms")
kms.disable_key(KeyId="{key_arn}")
assert kms.describe_key(KeyId="{key_arn}")["KeyMetadata"]["KeyState"] == "Disabled"
"#
    ));
}

fn key_state_is(emu: &Emulator, key_arn: &str, state: &str) {
    emu.python(&format!(
        r#"
import boto3
got = boto3.client("kms").describe_key(KeyId="{key_arn}")["KeyMetadata"]["KeyState"]
assert got == "{state}", got
"#
    ));
}

fn key_action(emu: &Emulator, verb: &str, key_id: &str, db: &Path, extra: &[&str]) -> Run {
    run(emu
        .xray_cmk()
        .args([verb, "--account", MGMT, "--region", "us-east-1"])
        .args(["--reason", "incident 42", "--confirm", key_id, "--db"])
        .arg(db)
        .args(extra))
}

fn actions(emu: &Emulator, db: &Path) -> Vec<(String, String)> {
    history(emu, db)["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().expect("action").to_owned(),
                a["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect()
}

#[test]
fn restore_knows_what_it_restores() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let (key_id, key_arn) = xray_key(&emu);

    // An enabled key: nothing to do, nothing recorded, exit 0.
    let r = key_action(&emu, "restore", &key_id, &db, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already Enabled"), "{}", r.stdout);
    assert!(
        r.stdout.contains("nothing was changed or recorded"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("is now Enabled"), "{}", r.stdout);
    assert_eq!(actions(&emu, &db), []);

    // Disabled by someone else: restore says who and when, and stops without --force.
    disable_elsewhere(&emu, &key_arn);
    let r = key_action(&emu, "restore", &key_id, &db, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "NOT disabled by xray-cmk erase: CloudTrail's last DisableKey on it was at 20"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("by arn:aws:iam::{MGMT}:root")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("pass --force"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    key_state_is(&emu, &key_arn, "Disabled");
    assert_eq!(actions(&emu, &db), []);

    // With --force (and the confirmation) it is restored, in restore's own words.
    let r = key_action(&emu, "restore", &key_id, &db, &["--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{key_arn} is now Enabled")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("readable again"), "{}", r.stdout);
    assert!(r.stdout.contains("were dropped"), "{}", r.stdout);
    assert!(!r.stderr.contains("becomes unreadable"), "{}", r.stderr);
    assert!(r.stderr.contains("readable again"), "{}", r.stderr);
    key_state_is(&emu, &key_arn, "Enabled");
    let recorded = actions(&emu, &db);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].0, "restore");
    assert!(
        recorded[0]
            .1
            .starts_with("incident 42 [--force: NOT disabled by xray-cmk erase"),
        "{recorded:?}"
    );

    // What xray-cmk's erase disabled is restored without --force.
    let r = key_action(&emu, "erase", &key_id, &db, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("becomes unreadable"), "{}", r.stderr);
    let r = key_action(&emu, "restore", &key_id, &db, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("disabled by xray-cmk erase at 20"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("is now Enabled"), "{}", r.stdout);
    assert_eq!(
        actions(&emu, &db)
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>(),
        ["restore", "erase", "restore"]
    );

    // --force is restore's alone.
    let r = key_action(&emu, "erase", &key_id, &db, &["--force"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--force goes with restore"),
        "{}",
        r.stderr
    );
}

#[test]
fn restore_with_cloudtrail_unreadable_is_unknown_and_needs_force() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let (key_id, key_arn) = xray_key(&emu);
    // A responder who may use KMS and X-Ray but not read CloudTrail.
    let creds = emu.dir.path().join("responder.json");
    emu.python(&format!(
        r#"
import boto3, json
iam = boto3.client("iam")
iam.create_user(UserName="responder")
iam.put_user_policy(UserName="responder", PolicyName="respond", PolicyDocument=json.dumps({{
    "Version": "2012-10-17",
    "Statement": [
        {{"Effect": "Allow", "Action": ["kms:*", "xray:GetEncryptionConfig", "sts:GetCallerIdentity"], "Resource": "*"}},
        {{"Effect": "Deny", "Action": "cloudtrail:LookupEvents", "Resource": "*"}}]}}))
k = iam.create_access_key(UserName="responder")["AccessKey"]
open("{}", "w").write(json.dumps([k["AccessKeyId"], k["SecretAccessKey"]]))
"#,
        creds.display()
    ));
    let creds: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&creds).expect("creds")).expect("json");
    let as_responder = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .env("AWS_ACCESS_KEY_ID", &creds[0])
            .env("AWS_SECRET_ACCESS_KEY", &creds[1])
            .args(["restore", "--account", MGMT, "--region", "us-east-1"])
            .args(["--reason", "incident 42", "--confirm", &key_id, "--db"])
            .arg(&db)
            .args(extra))
    };
    // Even after xray-cmk's own erase: whether anyone disabled it since is unknown.
    let r = key_action(&emu, "erase", &key_id, &db, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = as_responder(&[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("who disabled it is unknown: CloudTrail could not be read"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("cloudtrail:LookupEvents"), "{}", r.stderr);
    assert!(
        r.stderr.contains("the history records an erase at"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("pass --force"), "{}", r.stderr);
    key_state_is(&emu, &key_arn, "Disabled");

    let r = as_responder(&["--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("is now Enabled"), "{}", r.stdout);
    key_state_is(&emu, &key_arn, "Enabled");
}
