//! End-to-end remediation against a freshly seeded emulator: plan, apply, audit, verify, a second
//! apply, crashes between steps, and every kind of bad input.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{run, Emulator, Run};
use serde_json::Value;

const MGMT: &str = "123456789012";
const ALIAS: &str = "alias/xray-cmk-traces";
/// The IAM user whose `DescribeKey` calls fill several pages of the evidence test's CloudTrail.
const PROBE_USER: &str = "evidence-probe";
const PROBE_CALLS: u64 = 120;

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// `xray-cmk plan` with the demo policy and `scope`, saved to `plan.json` in the emulator's dir.
fn plan(emu: &Emulator, scope: &[&str]) -> (PathBuf, Value) {
    plan_exiting(emu, scope, 0)
}

/// [`plan`], which exits with `code` (3 when some target could not be read).
fn plan_exiting(emu: &Emulator, scope: &[&str], code: i32) -> (PathBuf, Value) {
    let out = emu.dir.path().join("plan.json");
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--quiet", "--policy"])
        .arg(emu.policy())
        .args(scope)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, code, "{}", r.stderr);
    let v = json_file(&out);
    (out, v)
}

fn apply(emu: &Emulator, plan: &Path, extra: &[&str]) -> Run {
    run(emu
        .xray_cmk()
        .args(["apply", "--yes", "--quiet", "--policy"])
        .arg(emu.policy())
        .arg(plan)
        .args(extra))
}

fn audit(emu: &Emulator, scope: &[&str]) -> Value {
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--quiet", "--format", "json", "--policy"])
        .arg(emu.policy())
        .args(scope));
    assert!(matches!(r.code, 0 | 1 | 3), "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("audit json")
}

/// Open failures by (account, region).
fn failing(report: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in report["results"].as_array().expect("results") {
        if r["status"] == "fail" && r["suppressed"] != true {
            out.entry((
                r["account"].as_str().expect("account").to_owned(),
                r["region"].as_str().expect("region").to_owned(),
            ))
            .or_default()
            .insert(r["rule"].as_str().expect("rule").to_owned());
        }
    }
    out
}

/// How many keys tagged as xray-cmk's, and how many aliases named `ALIAS`, each (account, region)
/// has; read with boto3 as the seed's admin (member accounts through their access role).
fn our_keys(emu: &Emulator, targets: &[(String, String)]) -> BTreeMap<String, (u32, u32)> {
    let out = emu.dir.path().join("keys.json");
    let list: Vec<String> = targets.iter().map(|(a, r)| format!("{a}/{r}")).collect();
    emu.python(&format!(
        r#"
import boto3, json
out = {{}}
for target in {targets:?}:
    account, region = target.split("/")
    session = boto3.Session()
    if account != "{MGMT}":
        c = session.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{{account}}:role/OrganizationAccountAccessRole",
            RoleSessionName="check")["Credentials"]
        session = boto3.Session(aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    kms = session.client("kms", region_name=region)
    ours = 0
    for k in kms.list_keys()["Keys"]:
        try:
            listed = kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]
        except kms.exceptions.ClientError as e:
            # A key whose policy shuts this caller out (the seeded cmk-locked) is not one of ours:
            # the policies xray-cmk generates always keep the caller.
            if e.response["Error"]["Code"] != "AccessDeniedException":
                raise
            continue
        tags = {{t["TagKey"]: t["TagValue"] for t in listed}}
        if tags.get("managed-by") == "xray-cmk":
            ours += 1
    aliases = sum(1 for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "{ALIAS}")
    out[target] = [ours, aliases]
json.dump(out, open("{path}", "w"))
"#,
        targets = list,
        path = out.display()
    ));
    let v = json_file(&out);
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| {
            let n = |i: usize| u32::try_from(v[i].as_u64().expect("count")).expect("small");
            (k.clone(), (n(0), n(1)))
        })
        .collect()
}

/// The account id of the seeded member account `pick` chooses.
fn member(emu: &Emulator, pick: impl Fn(&Value) -> bool) -> String {
    emu.seed()["member_accounts"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| pick(m))
        .expect("a seeded member account")["account_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn planned_targets(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["account"].as_str().expect("account").to_owned(),
                t["region"].as_str().expect("region").to_owned(),
                t["steps"]
                    .as_array()
                    .expect("steps")
                    .iter()
                    .map(|s| s["action"]["type"].as_str().expect("type").to_owned())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn plan_apply_audit_converges_then_verify_passes_and_a_second_apply_is_a_noop() {
    let emu = Emulator::seeded();
    // legacy's role cannot be assumed, workload-dev's role is denied ap-northeast-1 and nobody
    // may describe sa-east-1's key: the plan is incomplete, and says so with exit code 3.
    let (plan_path, plan) = plan_exiting(&emu, &["--org"], 3);
    assert_eq!(plan["schema_version"], 3);
    let before = failing(&audit(&emu, &["--org"]));

    let result_path = emu.dir.path().join("result.json");
    let stats = emu.dir.path().join("stats.json");
    let r = apply(
        &emu,
        &plan_path,
        &[
            "--out",
            result_path.to_str().expect("path"),
            "--stats-out",
            stats.to_str().expect("path"),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let result = json_file(&result_path);
    assert_eq!(result["schema_version"], 2);
    assert_eq!(result["plan_digest"], plan["digest"]);
    assert_eq!(result["summary"]["failed"], 0, "{}", r.stdout);
    let with_steps: Vec<_> = planned_targets(&plan)
        .into_iter()
        .filter(|t| !t.2.is_empty())
        .collect();
    assert_eq!(
        result["summary"]["applied"].as_u64(),
        Some(with_steps.len() as u64)
    );
    // Every step ran, and every verification read its trace back.
    for t in result["targets"].as_array().expect("targets") {
        for s in t["steps"].as_array().expect("steps") {
            assert_eq!(s["outcome"], "done", "{t}");
        }
    }

    // Afterwards, each target fails at most the rules the plan said it leaves for a person.
    let after = failing(&audit(&emu, &["--org"]));
    let mut fixed = 0;
    for t in plan["targets"].as_array().expect("targets") {
        let key = (
            t["account"].as_str().expect("a").to_owned(),
            t["region"].as_str().expect("r").to_owned(),
        );
        let left: BTreeSet<String> = t["unfixed"]
            .as_array()
            .map(|u| {
                u.iter()
                    .map(|x| x["rule"].as_str().expect("rule").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let now = after.get(&key).cloned().unwrap_or_default();
        assert!(
            now.is_subset(&left),
            "{key:?}: still failing {now:?}, plan left {left:?}"
        );
        if before.get(&key).is_some_and(|b| !b.is_subset(&left)) {
            fixed += 1;
        }
    }
    assert_eq!(
        fixed,
        with_steps.len(),
        "every planned target was failing a fixable rule"
    );
    // The seeded postures: replaced, fixed in place, merged.
    let mgmt: BTreeMap<String, Vec<String>> = planned_targets(&plan)
        .into_iter()
        .filter(|t| t.0 == MGMT)
        .map(|t| (t.1, t.2))
        .collect();
    assert_eq!(mgmt["eu-west-1"], ["enable_rotation"]);
    assert_eq!(mgmt["ap-northeast-1"], ["enable_rotation"]);
    assert_eq!(mgmt["ap-south-1"], ["tag_key"]);
    assert_eq!(mgmt["eu-west-2"], ["merge_key_policy", "verify"]);
    for replaced in [
        "us-east-2",
        "us-west-2",
        "eu-central-1",
        "ca-central-1",
        "ap-northeast-2",
        "sa-east-1",
        "eu-west-3",
    ] {
        assert_eq!(mgmt[replaced][0], "create_key", "{replaced}");
    }

    // One key and one alias per target that needed a key.
    let created: Vec<(String, String)> = with_steps
        .iter()
        .filter(|t| t.2.first().map(String::as_str) == Some("create_key"))
        .map(|t| (t.0.clone(), t.1.clone()))
        .collect();
    let keys = our_keys(&emu, &created);
    assert!(keys.values().all(|c| *c == (1, 1)), "{keys:?}");

    // verify: everywhere the admin can reach, traces are written and read back.
    let legacy = member(&emu, |m| m["assumable"] == false);
    let r = run(emu
        .xray_cmk()
        .args(["verify", "--org", "--quiet", "--timeout", "10", "--policy"])
        .arg(emu.policy()));
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
    // What could not be checked is unknown, never a pass: the run is incomplete.
    let unchecked: Vec<&str> = r.stdout.lines().filter(|l| l.contains(" ERROR ")).collect();
    for line in &unchecked {
        assert!(
            line.starts_with(&legacy) || line.contains("explicit deny"),
            "only the unassumable account and the denied region cannot be checked: {line}"
        );
    }
    assert_eq!(unchecked.len(), 2, "{}", r.stdout);
    assert_eq!(r.code, 3);

    // A second apply changes nothing and says so.
    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nothing to change"), "{}", r.stdout);
    assert_eq!(our_keys(&emu, &created), keys);
    assert_eq!(failing(&audit(&emu, &["--org"])), after);

    // The calls apply and verify made are the ones `iam-policy --mode remediate` lists.
    let stats = json_file(&stats);
    let called: BTreeSet<String> = stats["operations"]
        .as_object()
        .expect("ops")
        .keys()
        .cloned()
        .collect();
    let listed = run(emu.xray_cmk().args(["iam-policy", "--mode", "remediate"]));
    let listed: Value = serde_json::from_str(&listed.stdout).expect("policy");
    let listed: BTreeSet<String> = listed["Statement"][0]["Action"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a.as_str().expect("action").to_owned())
        .collect();
    assert!(
        called.is_subset(&listed),
        "called but not listed: {:?}",
        called.difference(&listed)
    );
    for action in [
        "kms:CreateKey",
        "kms:CreateAlias",
        "kms:PutKeyPolicy",
        "kms:TagResource",
        "kms:EnableKeyRotation",
        "xray:PutEncryptionConfig",
        "xray:PutTraceSegments",
        "xray:BatchGetTraces",
    ] {
        assert!(
            called.contains(action),
            "{action} was not called: {called:?}"
        );
    }
    assert!(!listed
        .iter()
        .any(|a| a.contains("Delete") || a.contains("Disable")));
    // Disabling and deleting are allowed only on keys tagged as xray-cmk's (a run's own key that
    // lost the race for its alias), and this run, which raced nobody, called neither.
    let policy = run(emu.xray_cmk().args(["iam-policy", "--mode", "remediate"]));
    let policy: Value = serde_json::from_str(&policy.stdout).expect("policy");
    assert_eq!(
        policy["Statement"][1],
        serde_json::json!({
            "Sid": "XrayCmkDiscardOwnKeys",
            "Effect": "Allow",
            "Action": ["kms:DisableKey", "kms:ScheduleKeyDeletion"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/managed-by": "xray-cmk"}}
        })
    );
    assert!(!called.contains("kms:DisableKey") && !called.contains("kms:ScheduleKeyDeletion"));
}

/// `apply --yes` with the crash hook: the process dies right after `point`, as in a crash.
fn crash_at(emu: &Emulator, plan: &Path, point: &str) {
    let out = emu
        .xray_cmk()
        .args(["apply", "--yes", "--quiet", "--policy"])
        .arg(emu.policy())
        .arg(plan)
        .env("XRAY_CMK_TEST_CRASH_AFTER", point)
        .output()
        .expect("run");
    assert!(
        !out.status.success(),
        "the crash hook must stop the process after {point}"
    );
}

fn single_target(emu: &Emulator) -> (PathBuf, Value) {
    plan(emu, &["--accounts", MGMT, "--regions", "us-east-2"])
}

fn us_east_2() -> Vec<(String, String)> {
    vec![(MGMT.to_owned(), "us-east-2".to_owned())]
}

#[test]
fn a_crash_between_steps_converges_on_rerun_without_duplicates() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);

    // Killed after CreateKey, before CreateAlias: the worst place.
    crash_at(&emu, &plan_path, "create_key:before_alias");
    assert_eq!(
        our_keys(&emu, &us_east_2())[&format!("{MGMT}/us-east-2")],
        (1, 0)
    );

    // Killed again after the X-Ray switch, before verification.
    crash_at(&emu, &plan_path, "set_xray_encryption");
    assert_eq!(
        our_keys(&emu, &us_east_2())[&format!("{MGMT}/us-east-2")],
        (1, 1)
    );

    // The third run finds everything in place: nothing created twice.
    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nothing to change"), "{}", r.stdout);
    assert_eq!(
        our_keys(&emu, &us_east_2())[&format!("{MGMT}/us-east-2")],
        (1, 1)
    );
    let after = failing(&audit(
        &emu,
        &["--accounts", MGMT, "--regions", "us-east-2"],
    ));
    let left = after
        .get(&(MGMT.to_owned(), "us-east-2".to_owned()))
        .cloned()
        .unwrap_or_default();
    assert!(
        left.iter().all(|r| r == "cloudtrail-kms-events-not-logged"),
        "{left:?}"
    );
    let r = run(emu.xray_cmk().args([
        "verify",
        "--accounts",
        MGMT,
        "--regions",
        "us-east-2",
        "--quiet",
    ]));
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn the_orphan_left_by_a_crash_is_adopted_and_reported() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);
    crash_at(&emu, &plan_path, "create_key:before_alias");
    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("adopted arn:aws:kms:us-east-2:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("written and read back"), "{}", r.stdout);
    assert_eq!(
        our_keys(&emu, &us_east_2())[&format!("{MGMT}/us-east-2")],
        (1, 1)
    );
}

/// A key of (account, region) as KMS shows it now, read with boto3 as the seed's admin.
#[derive(Debug, Clone)]
struct KeyNow {
    arn: String,
    state: String,
    /// Days from now until KMS deletes it, when pending deletion.
    deletion_in_days: Option<f64>,
    tags: BTreeMap<String, String>,
    aliases: Vec<String>,
}

/// Every key tagged `managed-by=xray-cmk` in each of `regions` of the management account.
fn xray_cmk_keys(emu: &Emulator, regions: &[&str]) -> BTreeMap<String, Vec<KeyNow>> {
    let out = emu.dir.path().join("xray-cmk-keys.json");
    emu.python(&format!(
        r#"
import boto3, json, time
out = {{}}
for region in {regions:?}:
    kms = boto3.client("kms", region_name=region)
    aliases = {{}}
    for a in kms.list_aliases()["Aliases"]:
        if "TargetKeyId" in a:
            aliases.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
    keys = []
    for k in kms.list_keys()["Keys"]:
        try:
            tags = {{t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]}}
        except kms.exceptions.ClientError:
            continue
        if tags.get("managed-by") != "xray-cmk":
            continue
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        deletion = meta.get("DeletionDate")
        keys.append({{
            "arn": meta["Arn"], "state": meta["KeyState"], "tags": tags,
            "aliases": aliases.get(k["KeyId"], []),
            "deletion_in_days": (deletion.timestamp() - time.time()) / 86400 if deletion else None,
        }})
    out[region] = keys
json.dump(out, open("{path}", "w"))
"#,
        path = out.display()
    ));
    json_file(&out)
        .as_object()
        .expect("object")
        .iter()
        .map(|(region, keys)| {
            let keys = keys
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| KeyNow {
                    arn: k["arn"].as_str().expect("arn").to_owned(),
                    state: k["state"].as_str().expect("state").to_owned(),
                    deletion_in_days: k["deletion_in_days"].as_f64(),
                    tags: serde_json::from_value(k["tags"].clone()).expect("tags"),
                    aliases: serde_json::from_value(k["aliases"].clone()).expect("aliases"),
                })
                .collect();
            (region.clone(), keys)
        })
        .collect()
}

/// The results of `rule` in an audit, by (region, status).
fn results_of<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["rule"] == rule)
        .collect()
}

#[test]
fn a_planted_key_with_an_extra_statement_is_refused_and_named() {
    let emu = Emulator::seeded();
    let (plan_path, plan) = single_target(&emu);
    let action = &plan["targets"][0]["steps"][0]["action"];
    assert_eq!(action["type"], "create_key");
    // Someone allowed to create and tag keys plants one: the planned tags and policy, plus a
    // statement letting anyone decrypt.
    let mut policy = action["policy"].clone();
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(serde_json::json!({
            "Sid": "Planted", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt", "Resource": "*"
        }));
    let tags: Vec<Value> = action["tags"]
        .as_object()
        .expect("tags")
        .iter()
        .map(|(k, v)| serde_json::json!({"TagKey": k, "TagValue": v}))
        .collect();
    let arn_file = emu.dir.path().join("planted.txt");
    let spec = emu.dir.path().join("planted.json");
    std::fs::write(
        &spec,
        serde_json::json!({"policy": policy.to_string(), "tags": tags}).to_string(),
    )
    .expect("write");
    emu.python(&format!(
        r#"
import boto3, json
spec = json.load(open("{spec}"))
kms = boto3.client("kms", region_name="us-east-2")
meta = kms.create_key(Policy=spec["policy"], Tags=spec["tags"], Description="planted")["KeyMetadata"]
open("{path}", "w").write(meta["Arn"])
"#,
        spec = spec.display(),
        path = arn_file.display()
    ));
    let planted = std::fs::read_to_string(&arn_file).expect("arn");

    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("refused to adopt a key tagged managed-by=xray-cmk and xray-cmk-alias={ALIAS} that no alias names, because it is not the key the plan would create: {planted}: its key policy has a statement the plan does not: \"Planted\" {{\"Action\":\"kms:Decrypt\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"*\"}},\"Resource\":\"*\",\"Sid\":\"Planted\"}}")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("kms-key-policy-public fails"),
        "{}",
        r.stderr
    );
    // Nothing changed: the planted key is still the only one, without the alias, and X-Ray was
    // not switched to it.
    let keys = &xray_cmk_keys(&emu, &["us-east-2"])["us-east-2"];
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].arn.as_str(), keys[0].aliases.len()),
        (planted.as_str(), 0)
    );
    let report = audit(&emu, &["--accounts", MGMT, "--regions", "us-east-2"]);
    let default = results_of(&report, "xray-default-encryption");
    assert_eq!(default[0]["status"], "fail", "X-Ray is still NONE");
    // And the audit names the planted key.
    let orphaned = results_of(&report, "kms-orphaned-xray-cmk-key");
    assert_eq!(orphaned.len(), 1);
    assert_eq!(
        (orphaned[0]["status"].as_str(), orphaned[0]["key"].as_str()),
        (Some("fail"), Some(planted.as_str()))
    );
}

#[test]
fn an_orphan_left_by_a_crash_fails_the_audit_until_apply_adopts_it() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);
    let scope = ["--accounts", MGMT, "--regions", "us-east-1,us-east-2"];
    let before = audit(&emu, &scope);
    assert!(results_of(&before, "kms-orphaned-xray-cmk-key")
        .iter()
        .all(|r| r["status"] == "pass"));

    crash_at(&emu, &plan_path, "create_key:before_alias");
    let orphan = xray_cmk_keys(&emu, &["us-east-2"])["us-east-2"][0]
        .arn
        .clone();
    let report = audit(&emu, &scope);
    let by_region: BTreeMap<&str, Vec<&Value>> = results_of(&report, "kms-orphaned-xray-cmk-key")
        .into_iter()
        .fold(BTreeMap::new(), |mut m, r| {
            m.entry(r["region"].as_str().expect("region"))
                .or_default()
                .push(r);
            m
        });
    assert_eq!(by_region["us-east-1"].len(), 1);
    assert_eq!(by_region["us-east-1"][0]["status"], "pass");
    let east2 = &by_region["us-east-2"];
    assert_eq!(east2.len(), 1, "{east2:?}");
    assert_eq!(east2[0]["status"], "fail");
    assert_eq!(east2[0]["severity"], "low");
    assert_eq!(east2[0]["key"], orphan.as_str());
    let message = east2[0]["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "is tagged managed-by=xray-cmk for {ALIAS} but no alias names it"
        )) && message.contains("it is Enabled"),
        "{message}"
    );

    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("adopted {orphan}")),
        "{}",
        r.stdout
    );
    let after = audit(&emu, &scope);
    assert!(results_of(&after, "kms-orphaned-xray-cmk-key")
        .iter()
        .all(|r| r["status"] == "pass"));
}

#[test]
fn two_applies_at_once_leave_one_key_per_target_and_the_losers_key_is_discarded() {
    let emu = Emulator::seeded();
    let regions = ["us-east-2", "eu-central-1", "ap-northeast-3"];
    let (plan_path, plan) = plan(&emu, &["--accounts", MGMT, "--regions", &regions.join(",")]);
    for t in planned_targets(&plan) {
        assert_eq!(t.2.first().map(String::as_str), Some("create_key"), "{t:?}");
    }
    // Both runs read that nothing exists, then wait, then create: they race for every alias.
    let spawn = |i: usize| {
        emu.xray_cmk()
            .args(["apply", "--yes", "--quiet", "--policy"])
            .arg(emu.policy())
            .arg(&plan_path)
            .arg("--out")
            .arg(emu.dir.path().join(format!("result-{i}.json")))
            .env("XRAY_CMK_TEST_PAUSE_BEFORE_CREATE_KEY", "4")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn apply")
    };
    let runs = [spawn(0), spawn(1)];
    for (i, child) in runs.into_iter().enumerate() {
        let out = child.wait_with_output().expect("apply");
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {i}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let results: Vec<Value> = (0..2)
        .map(|i| json_file(&emu.dir.path().join(format!("result-{i}.json"))))
        .collect();
    let mut reported: BTreeMap<String, Value> = BTreeMap::new();
    for result in &results {
        for t in result["targets"].as_array().expect("targets") {
            for d in t["discarded_keys"].as_array().into_iter().flatten() {
                reported.insert(d["key"].as_str().expect("key").to_owned(), d.clone());
                let create = &t["steps"][0];
                assert_eq!(create["outcome"], "done", "{t}");
                let message = create["message"].as_str().expect("message");
                assert!(
                    message.starts_with(&format!("lost the race for {ALIAS}: another run named its key {} first", d["winner"].as_str().expect("winner")))
                        && message.contains(&format!("this run's key {} was tagged xray-cmk-orphan=lost-alias-race, disabled and scheduled for deletion on", d["key"].as_str().expect("key"))),
                    "{message}"
                );
            }
        }
    }

    let keys = xray_cmk_keys(&emu, &regions);
    let mut discarded = BTreeSet::new();
    for region in regions {
        let keys = &keys[region];
        // Exactly one key with the alias, enabled: the one X-Ray uses.
        let aliased: Vec<&KeyNow> = keys
            .iter()
            .filter(|k| k.aliases.iter().any(|a| a == ALIAS))
            .collect();
        assert_eq!(aliased.len(), 1, "{region}: {keys:?}");
        assert_eq!(aliased[0].state, "Enabled", "{region}");
        // Any other key either run created is discarded: tagged, pending deletion in 30 days.
        for k in keys.iter().filter(|k| k.aliases.is_empty()) {
            assert_eq!(k.state, "PendingDeletion", "{region}: {k:?}");
            assert_eq!(
                k.tags.get("xray-cmk-orphan").map(String::as_str),
                Some("lost-alias-race"),
                "{region}: {k:?}"
            );
            let days = k.deletion_in_days.expect("deletion date");
            assert!(
                (29.9..=30.0).contains(&days),
                "{region}: deleted in {days} days"
            );
            let d = &reported[&k.arn];
            assert_eq!(d["winner"], aliased[0].arn.as_str());
            assert_eq!(d["alias"], ALIAS);
            discarded.insert(k.arn.clone());
        }
    }
    assert!(!discarded.is_empty(), "the runs raced: some key lost");
    assert_eq!(discarded, reported.keys().cloned().collect::<BTreeSet<_>>());

    // Each target is compliant but for what the plan leaves, and the audit reports each
    // discarded key with the day KMS deletes it.
    let report = audit(&emu, &["--accounts", MGMT, "--regions", &regions.join(",")]);
    for (target, rules) in failing(&report) {
        assert!(
            rules.iter().all(
                |r| r == "cloudtrail-kms-events-not-logged" || r == "kms-orphaned-xray-cmk-key"
            ),
            "{target:?}: {rules:?}"
        );
    }
    let orphaned: BTreeSet<String> = results_of(&report, "kms-orphaned-xray-cmk-key")
        .into_iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| {
            let message = r["message"].as_str().expect("message");
            assert!(
                message.contains("was discarded (xray-cmk-orphan=lost-alias-race)")
                    && message.contains("it is pending deletion: KMS deletes it on"),
                "{message}"
            );
            r["key"].as_str().expect("key").to_owned()
        })
        .collect();
    assert_eq!(orphaned, discarded);
}

/// Refused with exit code 2 and `needle` in the error, and nothing created.
fn refused(emu: &Emulator, plan: &Path, needle: &str) {
    let r = apply(emu, plan, &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    assert_eq!(
        our_keys(emu, &us_east_2())[&format!("{MGMT}/us-east-2")].0,
        0
    );
}

#[test]
fn edited_old_and_malformed_plans_are_refused() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);
    let text = std::fs::read_to_string(&plan_path).expect("plan");
    let write = |name: &str, body: &str| {
        let p = emu.dir.path().join(name);
        std::fs::write(&p, body).expect("write");
        p
    };
    let edited = write(
        "edited.json",
        &text.replacen("created by xray-cmk", "created by me", 1),
    );
    refused(&emu, &edited, "was edited after");
    let old = write(
        "old.json",
        &text.replacen("\"schema_version\": 3", "\"schema_version\": 2", 1),
    );
    refused(&emu, &old, "schema_version 2");
    let broken = write("broken.json", &text[..text.len() / 2]);
    refused(&emu, &broken, "not a plan file");
    let missing = emu.dir.path().join("missing.json");
    refused(&emu, &missing, "reading");
}

#[test]
fn a_stale_plan_is_refused_before_anything_changes() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);
    // Someone changes X-Ray after the plan was made.
    emu.python(
        r#"
import boto3
boto3.client("xray", region_name="us-east-2").put_encryption_config(Type="KMS", KeyId="alias/aws/xray")
"#,
    );
    refused(&emu, &plan_path, "precondition failed: X-Ray is now KMS");
}

#[test]
fn an_alias_taken_by_another_key_is_refused() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);
    emu.python(&format!(
        r#"
import boto3
kms = boto3.client("kms", region_name="us-east-2")
key = kms.create_key(Description="someone else's")["KeyMetadata"]["KeyId"]
kms.create_alias(AliasName="{ALIAS}", TargetKeyId=key)
"#
    ));
    refused(&emu, &plan_path, "is already taken by another key");
}

#[test]
fn a_tag_value_nobody_chose_is_refused() {
    let emu = Emulator::seeded();
    let policy = std::fs::read_to_string(emu.policy()).expect("policy");
    let start = policy.find("values = {").expect("values");
    let end = start + policy[start..].find('\n').expect("eol");
    std::fs::write(
        emu.policy(),
        format!("{}{}", &policy[..start], &policy[end..]),
    )
    .expect("write");
    let (plan_path, plan) = single_target(&emu);
    assert!(plan.to_string().contains("\"REVIEW\""));
    refused(&emu, &plan_path, "still `REVIEW`");
}

/// Both outputs of a run, for messages that may go to either.
fn said(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

#[test]
fn the_read_only_audit_role_cannot_apply_and_the_pre_flight_names_what_it_lacks() {
    let emu = Emulator::seeded();
    // Planning only reads, so the audit role may plan; the plan is made for it to apply.
    let (plan_path, _) = plan(
        &emu,
        &[
            "--profile",
            "xray-cmk-demo",
            "--accounts",
            MGMT,
            "--regions",
            "us-east-2,us-west-1",
        ],
    );
    // The audit role has exactly `iam-policy --mode audit`: reads, and the policy simulator.
    let r = apply(&emu, &plan_path, &["--profile", "xray-cmk-demo"]);
    assert_eq!(r.code, 2, "{}", said(&r));
    let out = said(&r);
    for region in ["us-east-2", "us-west-1"] {
        let line = out
            .lines()
            .find(|l| l.contains("pre-flight:") && l.contains(&format!("{MGMT}/{region}")))
            .unwrap_or_else(|| panic!("no pre-flight line for {region}: {out}"));
        assert!(
            line.contains("assumed-role/XrayCmkAudit/"),
            "names the caller: {line}"
        );
        for action in [
            "kms:CreateKey",
            "kms:CreateAlias",
            "xray:PutEncryptionConfig",
        ] {
            assert!(line.contains(action), "{action} missing from: {line}");
        }
        // The planned key policy names the role that plans as its administrator, which in the
        // key's own account KMS honours without any IAM policy.
        for action in ["kms:EnableKeyRotation", "kms:CreateGrant"] {
            assert!(!line.contains(action), "{action} is allowed: {line}");
        }
        assert!(line.contains("implicitDeny"), "{line}");
    }
    assert!(out.contains("iam-policy --mode remediate"), "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    let keys = our_keys(
        &emu,
        &[
            (MGMT.to_owned(), "us-east-2".to_owned()),
            (MGMT.to_owned(), "us-west-1".to_owned()),
        ],
    );
    assert!(keys.values().all(|&k| k == (0, 0)), "{keys:?}");
}

#[test]
fn a_denied_write_is_named_by_the_pre_flight_and_the_remediate_role_is_enough_without_it() {
    let emu = Emulator::seeded();
    let (plan_path, _) = plan(
        &emu,
        &[
            "--profile",
            "xray-cmk-demo-remediate",
            "--accounts",
            MGMT,
            "--regions",
            "us-east-2,us-west-1",
        ],
    );
    // The remediate role has exactly `iam-policy --mode remediate`, but not CreateKey in us-east-2.
    emu.python(
        r#"
import boto3, json
boto3.client("iam").put_role_policy(RoleName="XrayCmkAdmin", PolicyName="no-create",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "kms:CreateKey", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-2"}}}]}))
"#,
    );
    let r = apply(&emu, &plan_path, &["--profile", "xray-cmk-demo-remediate"]);
    assert_eq!(r.code, 2, "{}", said(&r));
    let out = said(&r);
    let denied: Vec<&str> = out.lines().filter(|l| l.contains("pre-flight:")).collect();
    assert_eq!(
        denied.len(),
        1,
        "only us-east-2 is short of a permission: {out}"
    );
    assert!(
        denied[0].contains(&format!("{MGMT}/us-east-2"))
            && denied[0].contains("assumed-role/XrayCmkAdmin/")
            && denied[0].contains("kms:CreateKey: explicitDeny"),
        "{}",
        denied[0]
    );
    let both = [
        (MGMT.to_owned(), "us-east-2".to_owned()),
        (MGMT.to_owned(), "us-west-1".to_owned()),
    ];
    assert!(our_keys(&emu, &both).values().all(|&k| k == (0, 0)));

    // Without the Deny, `iam-policy --mode remediate` is all apply and verify need.
    emu.python(
        r#"
import boto3
boto3.client("iam").delete_role_policy(RoleName="XrayCmkAdmin", PolicyName="no-create")
"#,
    );
    let r = apply(&emu, &plan_path, &["--profile", "xray-cmk-demo-remediate"]);
    assert_eq!(r.code, 0, "{}", said(&r));
    assert!(our_keys(&emu, &both).values().all(|&k| k == (1, 1)));
}

/// us-east-2 was left alone and us-west-1 got exactly one key and one alias.
fn assert_only_us_west_1_got_a_key(emu: &Emulator) {
    let both = [
        (MGMT.to_owned(), "us-east-2".to_owned()),
        (MGMT.to_owned(), "us-west-1".to_owned()),
    ];
    let keys = our_keys(emu, &both);
    assert_eq!(keys[&format!("{MGMT}/us-east-2")], (0, 0));
    assert_eq!(keys[&format!("{MGMT}/us-west-1")], (1, 1));
}

#[test]
fn only_narrows_the_targets_and_confirmation_is_required_without_yes() {
    let emu = Emulator::seeded();
    let (plan_path, _) = plan(
        &emu,
        &["--accounts", MGMT, "--regions", "us-east-2,us-west-1"],
    );
    // No terminal, no --yes: refused, nothing changed.
    let r = run(emu.xray_cmk().arg("apply").arg(&plan_path));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("without --yes"), "{}", r.stderr);
    let r = apply(&emu, &plan_path, &["--only", &format!("{MGMT}/us-west-1")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("us-west-1") && !r.stdout.contains("us-east-2"),
        "{}",
        r.stdout
    );
    assert_only_us_west_1_got_a_key(&emu);
    let r = run(emu
        .xray_cmk()
        .args(["apply", "--yes", "--only", "12345"])
        .arg(&plan_path));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("12-digit"), "{}", r.stderr);
}

/// How long X-Ray's encryption stays UPDATING in the slow-service test (AWS takes seconds to
/// minutes; seeding takes about this much longer too).
const UPDATING_SECONDS: f64 = 3.0;

/// The result (`apply --out`) of `region`'s target: its status and each step's (action, outcome,
/// message).
fn target_steps(result: &Value, region: &str) -> (String, Vec<(String, String, String)>) {
    let t = result["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["region"] == region)
        .expect("the target");
    let text = |v: &Value| v.as_str().expect("string").to_owned();
    let steps = t["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (text(&s["action"]), text(&s["outcome"]), text(&s["message"])))
        .collect();
    (text(&t["status"]), steps)
}

fn step<'a>(steps: &'a [(String, String, String)], action: &str) -> &'a (String, String, String) {
    steps
        .iter()
        .find(|s| s.0 == action)
        .unwrap_or_else(|| panic!("no {action} step: {steps:?}"))
}

#[test]
fn apply_waits_out_x_rays_updating_window_and_a_shorter_wait_timeout_fails_the_target() {
    let emu = Emulator::builder()
        .updating_seconds(UPDATING_SECONDS)
        .seeded();
    let (plan_path, _) = plan(
        &emu,
        &["--accounts", MGMT, "--regions", "us-east-2,us-west-1"],
    );
    let result_path = emu.dir.path().join("result.json");
    let out = result_path.to_str().expect("path");
    let only = |region: &str| format!("{MGMT}/{region}");

    // The default --wait-timeout (300 s): apply waits until ACTIVE, then verifies.
    let started = Instant::now();
    let r = apply(
        &emu,
        &plan_path,
        &["--only", &only("us-west-1"), "--out", out],
    );
    let took = started.elapsed();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (status, steps) = target_steps(&json_file(&result_path), "us-west-1");
    assert_eq!(status, "applied", "{steps:?}");
    assert!(steps.iter().all(|s| s.1 == "done"), "{steps:?}");
    let (_, _, switched) = step(&steps, "set_xray_encryption");
    let waited: f64 = switched
        .split("ACTIVE after ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" s"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {switched:?}"));
    // The window starts at PutEncryptionConfig; apply's first status read follows at once.
    assert!(waited >= UPDATING_SECONDS - 0.5, "ACTIVE after {waited} s");
    assert!(
        took >= Duration::from_secs_f64(UPDATING_SECONDS),
        "{took:?}"
    );
    assert!(
        step(&steps, "verify").2.contains("written and read back"),
        "{steps:?}"
    );

    // A wait shorter than the window: the target fails and says X-Ray is set but not ACTIVE.
    let r = apply(
        &emu,
        &plan_path,
        &[
            "--only",
            &only("us-east-2"),
            "--wait-timeout",
            "1",
            "--out",
            out,
        ],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let (status, steps) = target_steps(&json_file(&result_path), "us-east-2");
    assert_eq!(status, "failed", "{steps:?}");
    let (_, outcome, message) = step(&steps, "set_xray_encryption");
    assert_eq!(outcome, "failed", "{steps:?}");
    assert!(
        message.contains("its status is still UPDATING after 1 s")
            && message.contains("run apply again"),
        "{message}"
    );
    assert_eq!(step(&steps, "verify").1, "not_run", "{steps:?}");
    assert!(r.stdout.contains("FAILED"), "{}", r.stdout);

    // Run again, as the message says: X-Ray already names the key but is still UPDATING, so the
    // wait and the verification are still to be done; "nothing to change" would be a false pass.
    let r = apply(
        &emu,
        &plan_path,
        &["--only", &only("us-east-2"), "--out", out],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (status, steps) = target_steps(&json_file(&result_path), "us-east-2");
    assert_eq!(status, "applied", "{steps:?}");
    let (_, outcome, message) = step(&steps, "set_xray_encryption");
    assert_eq!(outcome, "done", "{steps:?}");
    assert!(message.contains("while UPDATING"), "{message}");
    assert_eq!(step(&steps, "verify").1, "done", "{steps:?}");
}

/// A key policy that keeps the account's access but explicitly denies X-Ray's configurers
/// `kms:CreateGrant` through X-Ray (as a hostile or mistaken edit would).
fn deny_x_ray_grants(emu: &Emulator, key: &str, region: &str) {
    emu.python(&format!(
        r#"
import boto3, json
kms = boto3.client("kms", region_name="{region}")
arn = kms.describe_key(KeyId="{key}")["KeyMetadata"]["Arn"]
policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
policy["Statement"].append({{"Sid": "NoXrayGrants", "Effect": "Deny", "Principal": {{"AWS": "*"}},
    "Action": "kms:CreateGrant", "Resource": "*",
    "Condition": {{"StringEquals": {{"kms:ViaService": "xray.{region}.amazonaws.com"}}}}}})
kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
"#
    ));
}

#[test]
fn x_ray_is_never_switched_to_a_key_it_cannot_use() {
    let emu = Emulator::seeded();
    let (plan_path, _) = single_target(&emu);
    crash_at(&emu, &plan_path, "create_key");
    // Someone adds a Deny of X-Ray's grants to our new key before X-Ray is switched to it.
    deny_x_ray_grants(&emu, ALIAS, "us-east-2");
    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 2, "{}", said(&r));
    // The key the alias names is no longer the key the plan created, so it is not used at all.
    assert!(
        r.stderr.contains(&format!("{ALIAS} names a key tagged managed-by=xray-cmk, but it is not the key the plan would create"))
            && r.stderr.contains(r#"its key policy has a statement the plan does not: "NoXrayGrants""#)
            && r.stderr.contains("kms-key-policy-xray-access fails"),
        "{}",
        r.stderr
    );
    let report = audit(&emu, &["--accounts", MGMT, "--regions", "us-east-2"]);
    assert!(failing(&report)[&(MGMT.to_owned(), "us-east-2".to_owned())]
        .contains("xray-default-encryption"));
}

#[test]
fn a_key_policy_denying_x_rays_configurer_grants_fails_the_audit_and_apply_replaces_the_key() {
    let emu = Emulator::seeded();
    let target = (MGMT.to_owned(), "us-west-1".to_owned());
    // X-Ray in us-west-1 on a good CMK, whose policy then denies X-Ray's grants.
    emu.python(
        r#"
import boto3, json
kms = boto3.client("kms", region_name="us-west-1")
key = kms.create_key(Tags=[{"TagKey": "owner", "TagValue": "platform-security"},
                           {"TagKey": "data-classification", "TagValue": "confidential"}])["KeyMetadata"]
kms.create_alias(AliasName="alias/xray-cmk-grantless", TargetKeyId=key["KeyId"])
kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=365)
boto3.client("xray", region_name="us-west-1").put_encryption_config(Type="KMS", KeyId=key["Arn"])
"#,
    );
    deny_x_ray_grants(&emu, "alias/xray-cmk-grantless", "us-west-1");
    let scope = ["--accounts", MGMT, "--regions", "us-west-1"];
    let before = audit(&emu, &scope);
    assert!(
        failing(&before)[&target].contains("kms-key-policy-xray-access"),
        "{before}"
    );
    let (plan_path, plan_doc) = plan(&emu, &scope);
    let steps = planned_targets(&plan_doc);
    assert_eq!(steps.len(), 1, "{plan_doc}");
    assert!(
        steps[0].2.contains(&"create_key".to_owned()),
        "a key whose policy denies X-Ray is replaced, never patched: {plan_doc}"
    );
    let r = apply(&emu, &plan_path, &[]);
    assert_eq!(r.code, 0, "{}", said(&r));
    let after = audit(&emu, &scope);
    let still = failing(&after).get(&target).cloned().unwrap_or_default();
    assert!(!still.contains("kms-key-policy-xray-access"), "{after}");
    let uses: Vec<&Value> = after["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|x| x["rule"] == "xray-key-unusable")
        .collect();
    assert!(
        uses.iter().all(|x| x["status"] == "pass"),
        "X-Ray is on the new key: {uses:?}"
    );
}

#[test]
fn verify_fails_when_the_key_policy_does_not_let_the_reader_decrypt() {
    let emu = Emulator::seeded();
    // The seeded us-east-1 key, with a Deny of Decrypt through X-Ray for the caller (the root).
    emu.python(&format!(
        r#"
import boto3, json
kms = boto3.client("kms", region_name="us-east-1")
arn = kms.describe_key(KeyId="alias/xray-cmk-good")["KeyMetadata"]["Arn"]
policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
policy["Statement"].append({{"Sid": "NoRootReads", "Effect": "Deny",
    "Principal": {{"AWS": "arn:aws:iam::{MGMT}:root"}}, "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {{"StringEquals": {{"kms:ViaService": "xray.us-east-1.amazonaws.com"}}}}}})
kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
"#
    ));
    let r = run(emu.xray_cmk().args([
        "verify",
        "--accounts",
        MGMT,
        "--regions",
        "us-east-1",
        "--quiet",
        "--timeout",
        "10",
    ]));
    assert_ne!(r.code, 0, "{}", said(&r));
    let out = said(&r);
    assert!(out.contains("FAILED"), "{out}");
    assert!(
        out.contains(&format!(
            "does not let arn:aws:iam::{MGMT}:root kms:Decrypt through X-Ray"
        )) && out.contains("NoRootReads"),
        "the failure says the key policy does not let the reader decrypt: {out}"
    );
}

/// The scripted sequence the KPIs are for: audit, apply, audit. Compliance rises, and the time to
/// remediate of each fixed result is the time between the two audits' recorded starts.
#[test]
fn kpi_shows_the_rise_and_an_mttr_that_matches_the_recorded_runs() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let db_arg = db.to_str().expect("path");
    // The management account's postures, and the security account, whose trail records KMS
    // events everywhere: once its default-encryption regions are fixed, they comply.
    let security = member(&emu, |m| m["name"] == "security");
    let accounts = format!("{MGMT},{security}");
    let scope = [
        "--accounts",
        accounts.as_str(),
        "--regions",
        "us-east-2,eu-west-1,ca-central-1,us-east-1,eu-central-1",
    ];
    let audit_recorded = || {
        let r = run(emu
            .xray_cmk()
            .args(["audit", "--quiet", "--db", db_arg, "--policy"])
            .arg(emu.policy())
            .args(scope));
        assert!(matches!(r.code, 1 | 3), "{}", r.stderr);
    };
    audit_recorded();
    let (plan_path, _) = plan(&emu, &scope);
    let r = apply(&emu, &plan_path, &["--db", db_arg]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    audit_recorded();

    let r = run(emu.xray_cmk().args([
        "kpi",
        "--since",
        "1d",
        "--format",
        "json",
        "--requests",
        "50000",
        "--db",
        db_arg,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let k: Value = serde_json::from_str(&r.stdout).expect("kpi json");
    let trend = k["compliance"]["trend"].as_array().expect("trend");
    assert_eq!(
        trend.len(),
        2,
        "two audits recorded; apply and plan are not audits"
    );
    let (before, after) = (
        trend[0]["pct"].as_f64().expect("pct"),
        trend[1]["pct"].as_f64().expect("pct"),
    );
    assert!(
        after > before,
        "compliance rises: {before} -> {after}\n{}",
        r.stdout
    );
    let remediated = k["mttr"]["remediated"].as_array().expect("remediated");
    assert!(!remediated.is_empty());
    let (t0, t1) = (
        trend[0]["started_at"].as_str().expect("t"),
        trend[1]["started_at"].as_str().expect("t"),
    );
    let expected = (xray_cmk_store::kpi::epoch_seconds(t1).expect("t1")
        - xray_cmk_store::kpi::epoch_seconds(t0).expect("t0"))
        / 3600.0;
    for m in remediated {
        assert_eq!(m["failed_at"], t0);
        assert_eq!(m["passed_at"], t1);
        let h = m["hours"].as_f64().expect("hours");
        assert!((h - expected).abs() < 0.001, "{h} vs {expected}");
    }
    let rules: BTreeSet<&str> = remediated
        .iter()
        .map(|m| m["rule"].as_str().expect("rule"))
        .collect();
    assert!(rules.contains("xray-default-encryption"), "{rules:?}");
    assert!(rules.contains("kms-rotation-disabled"), "{rules:?}");
    assert!(
        rules.contains("kms-key-policy-public"),
        "the replaced key's finding closes: {rules:?}"
    );
    // What stays open is what the plan left for a person.
    for o in k["mttr"]["open"].as_array().expect("open") {
        assert!(
            ["cloudtrail-kms-events-not-logged", "xray-spans-not-cmk"]
                .contains(&o["rule"].as_str().expect("rule")),
            "{o}"
        );
    }
    assert_eq!(
        k["cost"]["requests_usd_month"], 0.09,
        "30,000 billable requests"
    );
    assert!(k["cost"]["keys"].as_u64() >= Some(3));

    let r = run(emu
        .xray_cmk()
        .args(["kpi", "--since", "1d", "--db", db_arg]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Compliance"), "{}", r.stdout);
    assert!(r.stdout.contains("assumptions:"), "{}", r.stdout);
    assert!(r.stdout.contains("apply steps"), "{}", r.stdout);

    // The report: one file, every section filled, nothing fetched from elsewhere.
    let html_path = emu.dir.path().join("report.html");
    let r = run(emu
        .xray_cmk()
        .args(["report", "--since", "1d", "--db", db_arg, "--policy"])
        .arg(emu.policy())
        .arg("--out")
        .arg(&html_path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&html_path).expect("report");
    for section in [
        "Key figures",
        "Compliance trend",
        "Accounts × regions",
        "Findings (latest audit)",
        "Key inventory",
        "Exemptions",
    ] {
        assert!(html.contains(section), "{section}");
    }
    assert_eq!(html.matches("<circle").count(), 2, "a point per audit");
    assert!(
        html.contains("class=\"c2\""),
        "compliant cells in the heatmap"
    );
    assert!(
        html.contains("xray-cmk-traces"),
        "the new keys are in the inventory"
    );
    assert!(
        html.contains("dev sandbox keys are rebuilt every quarter"),
        "exemptions"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external assets"
    );
}

#[test]
fn audits_export_csv_and_asff() {
    let emu = Emulator::seeded();
    let scope = ["--accounts", MGMT, "--regions", "us-east-1,us-east-2"];
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--quiet", "--format", "csv", "--policy"])
        .arg(emu.policy())
        .args(scope));
    assert!(matches!(r.code, 1 | 3), "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("account,region,status,suppressed,severity,confidence,rule,resource,key,message,file,line,fingerprint")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter().any(|l| l
            .starts_with("123456789012,us-east-2,fail,false,high,high,xray-default-encryption,")),
        "{}",
        r.stdout
    );
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--quiet", "--format", "asff", "--policy"])
        .arg(emu.policy())
        .args(scope));
    let doc: Value = serde_json::from_str(&r.stdout).expect("asff json");
    let findings = doc["Findings"].as_array().expect("Findings");
    assert_eq!(findings.len(), rows.len(), "one ASFF finding per result");
    let default = findings
        .iter()
        .find(|f| {
            f["GeneratorId"] == "xray-cmk/xray-default-encryption"
                && f["Resources"][0]["Region"] == "us-east-2"
        })
        .expect("default encryption finding");
    assert_eq!(default["SchemaVersion"], "2018-10-08");
    assert_eq!(default["Compliance"]["Status"], "FAILED");
    assert_eq!(default["Severity"]["Label"], "HIGH");
    assert_eq!(default["AwsAccountId"], MGMT);
    assert!(default["ProductArn"]
        .as_str()
        .is_some_and(|a| a.starts_with("arn:aws:securityhub:us-east-2:123456789012:product/")));
    assert!(findings
        .iter()
        .any(|f| f["Compliance"]["Status"] == "PASSED"));

    // --to-security-hub sends the same documents with BatchImportFindings.
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--format", "asff", "--to-security-hub", "--policy"])
        .arg(emu.policy())
        .args(scope));
    assert!(matches!(r.code, 1 | 3), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Security Hub: {} findings imported, 0 problems",
            findings.len()
        )),
        "{}",
        r.stderr
    );
    emu.python(&format!(
        r#"
import boto3
ids = set()
for region in ("us-east-1", "us-east-2"):
    hub = boto3.client("securityhub", region_name=region)
    found = hub.get_findings(MaxResults=100)["Findings"]
    ids.update(f["Id"] for f in found if f["GeneratorId"].startswith("xray-cmk/"))
assert len(ids) == {n}, (len(ids), {n})
"#,
        n = findings.len()
    ));
}

/// Cryptographic erasure and its undo, end to end: after `erase` traces cannot be stored or read,
/// after `restore` they can; both are in the history with who, when and why.
#[test]
fn erase_stops_traces_restore_brings_them_back_and_both_are_recorded() {
    // LookupEvents at AWS's limit, 2 a second: evidence pages through CloudTrail at that pace.
    let emu = Emulator::builder().lookup_rate(2).seeded();
    let db = emu.dir.path().join("history.db");
    let db_arg = db.to_str().expect("path");
    let seed = emu.seed();
    let key = seed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["account_id"] == MGMT && k["region"] == "us-east-1")
        .expect("the good key");
    let key_id = key["key_id"].as_str().expect("id");
    let key_arn = key["key_arn"].as_str().expect("arn");
    let verify = || {
        run(emu.xray_cmk().args([
            "verify",
            "--quiet",
            "--accounts",
            MGMT,
            "--regions",
            "us-east-1",
            "--timeout",
            "3",
        ]))
    };
    assert_eq!(verify().code, 0, "traces flow before");
    let erase = |confirm: &str| {
        run(emu.xray_cmk().args([
            "erase",
            "--account",
            MGMT,
            "--region",
            "us-east-1",
            "--reason",
            "user ids leaked into trace annotations",
            "--confirm",
            confirm,
            "--db",
            db_arg,
        ]))
    };
    // With --org the blast radius covers the organization's other accounts too.
    let r = run(emu.xray_cmk().args([
        "erase",
        "--account",
        MGMT,
        "--region",
        "us-east-1",
        "--reason",
        "x",
        "--org",
        "--confirm",
        "no",
        "--db",
        db_arg,
    ]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not checked: sts:AssumeRole failed"),
        "the legacy account: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("pass --org"), "{}", r.stderr);
    // A wrong confirmation changes nothing.
    let r = erase("not-the-key");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("X-Ray configurations using it: 123456789012/us-east-1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("becomes unreadable too"), "{}", r.stderr);
    assert_eq!(verify().code, 0);
    // No confirmation and no terminal: refused.
    let r = run(emu.xray_cmk().args([
        "erase",
        "--account",
        MGMT,
        "--region",
        "us-east-1",
        "--reason",
        "x",
        "--db",
        db_arg,
    ]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!("--confirm {key_id}")),
        "{}",
        r.stderr
    );

    let r = erase(key_id);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{key_arn} is now Disabled")),
        "{}",
        r.stdout
    );
    let r = verify();
    assert_eq!(
        r.code, 1,
        "traces cannot be written while the key is disabled"
    );
    assert!(r.stdout.contains("could not be read back"), "{}", r.stdout);

    let r = run(emu.xray_cmk().args([
        "restore",
        "--account",
        MGMT,
        "--region",
        "us-east-1",
        "--reason",
        "contained",
        "--confirm",
        key_id,
        "--db",
        db_arg,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("is now Enabled"), "{}", r.stdout);
    assert_eq!(verify().code, 0, "traces flow again");

    // Deletion needs its own, second confirmation; without it nothing changes.
    let r = run(emu.xray_cmk().args([
        "erase",
        "--account",
        MGMT,
        "--region",
        "us-east-1",
        "--reason",
        "retire",
        "--confirm",
        key_id,
        "--schedule-deletion",
        "7",
        "--db",
        db_arg,
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--confirm-deletion"), "{}", r.stderr);
    assert_eq!(verify().code, 0, "the key is still enabled");

    let r = run(emu
        .xray_cmk()
        .args(["history", "--format", "json", "--db", db_arg]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let h: Value = serde_json::from_str(&r.stdout).expect("history json");
    let actions: Vec<(&str, &str, &str)> = h["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().expect("action"),
                a["state_after"].as_str().expect("state"),
                a["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (
                "erase",
                "Disabled",
                "user ids leaked into trace annotations"
            ),
            ("restore", "Enabled", "contained"),
        ]
    );
    for a in h["actions"].as_array().expect("actions") {
        assert_eq!(a["key_arn"], key_arn);
        assert!(
            a["who"]
                .as_str()
                .is_some_and(|w| w.contains("123456789012")),
            "{a}"
        );
        assert!(a["at"].as_str().is_some_and(|t| t.starts_with("20")), "{a}");
    }
    // rotate-now with the same confirmation pattern.
    let r = run(emu.xray_cmk().args([
        "rotate-now",
        key_arn,
        "--reason",
        "suspected exposure",
        "--confirm",
        key_id,
        "--db",
        db_arg,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("rotated on demand"), "{}", r.stdout);

    // Evidence: the principals that used the key during this test, from CloudTrail. A reader
    // adds PROBE_CALLS events, so they take several pages (50 events a page).
    emu.python(&format!(
        r#"
import boto3, json
iam = boto3.client("iam")
iam.create_user(UserName="{PROBE_USER}")
iam.put_user_policy(UserName="{PROBE_USER}", PolicyName="describe", PolicyDocument=json.dumps({{
    "Version": "2012-10-17",
    "Statement": [{{"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}}]}}))
k = iam.create_access_key(UserName="{PROBE_USER}")["AccessKey"]
kms = boto3.client("kms", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
for _ in range({PROBE_CALLS}):
    kms.describe_key(KeyId="{key_arn}")
"#
    ));
    let started = Instant::now();
    let r = run(emu
        .xray_cmk()
        .args([
            "evidence",
            "--account",
            MGMT,
            "--region",
            "us-east-1",
            "--days",
            "1",
            "--format",
            "json",
            "--policy",
        ])
        .arg(emu.policy()));
    let took = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ev: Value = serde_json::from_str(&r.stdout).expect("evidence json");
    assert_eq!(ev["key"], key_arn);
    let events = ev["events"].as_array().expect("events").len();
    assert!(events > 2 * 50, "{events} events fit in fewer than 3 pages");
    // Pages no faster than 2 a second: at least 2 intervals of 500 ms between 3 pages.
    assert!(took >= Duration::from_secs(1), "{took:?}");
    let probe = ev["by_principal"]
        .as_array()
        .expect("principals")
        .iter()
        .find(|p| p["principal"] == format!("arn:aws:iam::{MGMT}:user/{PROBE_USER}"))
        .unwrap_or_else(|| panic!("no probe: {}", ev["by_principal"]));
    assert_eq!(
        (&probe["events"], &probe["event_names"]),
        (
            &Value::from(PROBE_CALLS),
            &serde_json::json!(["DescribeKey"])
        ),
        "every event, none twice"
    );
    let counted: u64 = ev["by_principal"]
        .as_array()
        .expect("principals")
        .iter()
        .map(|p| p["events"].as_u64().expect("count"))
        .sum();
    assert_eq!(counted, events as u64);
    let by_event = &ev["by_event"];
    for name in [
        "DisableKey",
        "EnableKey",
        "DescribeKey",
        "RotateKeyOnDemand",
        "GenerateDataKey",
    ] {
        assert!(
            by_event[name].as_u64() >= Some(1),
            "{name} missing: {by_event}"
        );
    }
    let principals: Vec<(&str, bool)> = ev["by_principal"]
        .as_array()
        .expect("principals")
        .iter()
        .map(|p| {
            (
                p["principal"].as_str().expect("principal"),
                p["in_policy_access_lists"].as_bool().expect("flag"),
            )
        })
        .collect();
    assert!(
        principals.contains(&("xray.amazonaws.com", true)),
        "{principals:?}"
    );
    assert!(
        principals
            .iter()
            .any(|(p, ok)| p.contains("123456789012") && !ok),
        "the admin who erased is not in the access lists: {principals:?}"
    );
    assert!(
        ev["rotation"]["last_rotation"].is_string(),
        "rotate-now left a rotation"
    );
    assert!(ev["rotation"]["enabled"].as_bool() == Some(true));

    // The report shows the recorded evidence.
    let r = run(emu
        .xray_cmk()
        .args([
            "evidence", "--key", key_arn, "--days", "1", "--db", db_arg, "--policy",
        ])
        .arg(emu.policy()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("not in the policy file's access lists"),
        "{}",
        r.stdout
    );
    let html_path = emu.dir.path().join("report.html");
    let r = run(emu
        .xray_cmk()
        .args(["report", "--since", "1d", "--db", db_arg, "--out"])
        .arg(&html_path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&html_path).expect("report");
    assert!(html.contains("Key usage evidence (CloudTrail)"));
    assert!(
        html.contains("xray.amazonaws.com"),
        "the evidence section lists X-Ray's use"
    );
}

/// A policy file whose `[access]` roles are written `{account}` and that trusts no other account:
/// every key must be administered from inside its own account.
const SELF_CONTAINED_POLICY: &str = r#"
[rotation]
max_period_days = 365
[tags]
required = ["owner", "data-classification"]
values = { owner = "platform-security", "data-classification" = "confidential" }
[keys]
approved = ["alias/xray-cmk-*"]
alias = "alias/xray-cmk-traces"
[access]
key_admins = ["arn:aws:iam::{account}:role/KeyAdmin"]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
"#;

#[test]
fn members_are_planned_for_the_role_assumed_there_and_apply_refuses_another_principal() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let members: Vec<String> = seed["member_accounts"]
        .as_array()
        .expect("members")
        .iter()
        .filter(|m| m["assumable"] == true)
        .map(|m| m["account_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(members.len(), 3, "{members:?}");
    let accounts = std::iter::once(MGMT.to_owned())
        .chain(members.iter().cloned())
        .collect::<Vec<_>>()
        .join(",");
    let policy = emu.dir.path().join("self-contained.toml");
    std::fs::write(&policy, SELF_CONTAINED_POLICY).expect("policy");
    let scope = ["--accounts", &accounts, "--regions", "us-east-1,eu-west-1"];
    let plan_path = emu.dir.path().join("org-plan.json");
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--quiet", "--policy"])
        .arg(&policy)
        .args(scope)
        .arg("--out")
        .arg(&plan_path));
    assert_eq!(r.code, 0, "{}", said(&r));
    let plan_doc = json_file(&plan_path);
    for t in plan_doc["targets"].as_array().expect("targets") {
        let account = t["account"].as_str().expect("account");
        let expected = if account == MGMT {
            format!("arn:aws:iam::{MGMT}:root")
        } else {
            format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
        };
        assert_eq!(t["principal"], expected.as_str(), "{t}");
        assert!(
            t.get("note").is_none() || t["note"] == "nothing to change",
            "every member target is planned: {t}"
        );
    }
    // The members that need a change get steps (the security account's keys already comply).
    let planned = planned_targets(&plan_doc);
    let with_steps: BTreeSet<&str> = planned
        .iter()
        .filter(|(a, _, steps)| a != MGMT && !steps.is_empty())
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert_eq!(with_steps.len(), 2, "{plan_doc}");

    // Acting as anyone else in the members (another role name) is refused before anything runs.
    let apply_with = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args(["apply", "--yes", "--quiet", "--policy"])
            .arg(&policy)
            .arg(&plan_path)
            .args(extra))
    };
    let r = apply_with(&["--role-name", "SomeOtherRole"]);
    assert_eq!(r.code, 2, "{}", said(&r));
    assert!(
        said(&r).contains("the plan was made for arn:aws:iam::")
            && said(&r).contains("role/OrganizationAccountAccessRole to apply")
            && said(&r).contains("nothing was changed"),
        "{}",
        said(&r)
    );

    let r = apply_with(&[]);
    assert_eq!(r.code, 0, "{}", said(&r));
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--quiet", "--format", "json", "--policy"])
        .arg(&policy)
        .args(scope));
    let report: Value = serde_json::from_str(&r.stdout).expect("audit json");
    let fixable = [
        "xray-default-encryption",
        "xray-aws-managed-key",
        "xray-key-not-approved",
        "xray-key-unusable",
        "kms-rotation-disabled",
        "kms-key-policy-xray-access",
        "kms-key-policy-unapproved-cross-account",
        "kms-key-missing-tags",
    ];
    for ((account, region), rules) in failing(&report) {
        for rule in &rules {
            assert!(
                !fixable.contains(&rule.as_str()),
                "{account} {region} still fails {rule}"
            );
        }
    }
    let r = apply_with(&[]);
    assert_eq!(r.code, 0, "{}", said(&r));
    assert!(
        r.stdout.contains("nothing to change") || r.stdout.contains(" applied · "),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("created "),
        "a second apply creates nothing: {}",
        r.stdout
    );
}
