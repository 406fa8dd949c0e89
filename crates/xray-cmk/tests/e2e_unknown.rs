//! End-to-end: unknown is never a pass, nor a clean exit. A target that could not be read gets an
//! `error` for every rule selected (key rules included), every command that reads targets exits
//! 3 when some could not be read, an `--only` that selects nothing is a usage error (2), and the
//! KPIs count only what an audit read.

mod common;

use std::collections::BTreeSet;

use common::{run, Emulator, Run};
use serde_json::Value;

const MGMT: &str = "123456789012";

fn said(r: &Run) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    )
}

fn member_id(emu: &Emulator, name: &str) -> String {
    common::member_id(&emu.seed(), name)
}

/// The seeded key of the management account in `region`.
fn mgmt_key(emu: &Emulator, region: &str) -> String {
    emu.seed()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["account_id"] == MGMT && k["region"] == region)
        .and_then(|k| k["key_arn"].as_str())
        .expect("a seeded key there")
        .to_owned()
}

/// What `--rules 'kms-*'` selects.
fn key_rules() -> BTreeSet<String> {
    xray_cmk_core::rules::ALL
        .iter()
        .map(|r| r.meta().id)
        .filter(|id| id.starts_with("kms-"))
        .map(|id| id.to_string())
        .collect()
}

fn results(r: &Run) -> Vec<Value> {
    let doc: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("audit JSON ({e}): {}", said(r)));
    doc["results"].as_array().expect("results").clone()
}

/// The rules of `results` at (`account`, `region`), each asserted to be an error saying `why`.
fn errors_at(results: &[Value], account: &str, region: &str, why: &str) -> BTreeSet<String> {
    let mut rules = BTreeSet::new();
    for x in results
        .iter()
        .filter(|x| x["account"] == account && x["region"] == region)
    {
        assert_eq!(x["status"], "error", "{x}");
        let message = x["message"].as_str().expect("message");
        assert!(message.contains(why), "{x}");
        let rule = x["rule"].as_str().expect("rule").to_owned();
        assert!(rules.insert(rule), "one result per rule: {x}");
    }
    rules
}

#[test]
fn key_rules_are_an_error_wherever_the_key_could_not_be_read() {
    let emu = Emulator::seeded();
    let legacy = member_id(&emu, "legacy");
    let audit = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args(["audit", "--rules", "kms-*", "--format", "json", "--policy"])
            .arg(emu.policy())
            .args(extra))
    };

    // A region the audit role is denied.
    let r = audit(&["--profile", "xray-cmk-demo", "--regions", "eu-north-1"]);
    assert_eq!(r.code, 3, "{}", said(&r));
    let got = errors_at(&results(&r), MGMT, "eu-north-1", "AccessDenied");
    assert_eq!(got, key_rules(), "{}", said(&r));

    // An account whose role cannot be assumed, with and without --regions.
    let r = audit(&["--accounts", &legacy]);
    assert_eq!(r.code, 3, "{}", said(&r));
    let got = errors_at(&results(&r), &legacy, "*", "sts:AssumeRole");
    assert_eq!(got, key_rules(), "{}", said(&r));
    let r = audit(&["--accounts", &legacy, "--regions", "us-east-1"]);
    assert_eq!(r.code, 3, "{}", said(&r));
    let got = errors_at(&results(&r), &legacy, "us-east-1", "sts:AssumeRole");
    assert_eq!(got, key_rules(), "{}", said(&r));

    // A key nobody but its named roles may describe: its key rules are errors, under the key.
    let locked = mgmt_key(&emu, "sa-east-1");
    // (The region's keys can be listed, so kms-orphaned-xray-cmk-key judges the region itself.)
    let r = audit(&["--regions", "sa-east-1"]);
    assert_eq!(r.code, 3, "{}", said(&r));
    let (listing, all): (Vec<Value>, Vec<Value>) = results(&r)
        .into_iter()
        .partition(|x| x["rule"] == "kms-orphaned-xray-cmk-key");
    assert!(listing.iter().all(|x| x["status"] == "pass"), "{listing:?}");
    let got = errors_at(&all, MGMT, "sa-east-1", "kms:DescribeKey");
    let of_the_key: BTreeSet<String> = xray_cmk_core::rules::KEY_RULES
        .iter()
        .map(|r| r.meta().id.to_string())
        .collect();
    assert_eq!(got, of_the_key, "{}", said(&r));
    assert!(all.iter().all(|x| x["key"] == locked.as_str()), "{all:?}");

    // Rules that read only what could be read still judge it: the CloudTrail rule reads trails
    // once per account, so the denied region is judged, never left without a result.
    let r = run(emu.xray_cmk().args([
        "audit",
        "--profile",
        "xray-cmk-demo",
        "--regions",
        "eu-north-1",
        "--rules",
        "cloudtrail-*",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 1, "{}", said(&r));
    assert_eq!(results(&r).len(), 1, "{}", said(&r));
}

#[test]
fn plan_exits_3_when_a_target_could_not_be_read() {
    let emu = Emulator::seeded();
    let legacy = member_id(&emu, "legacy");
    let out = emu.dir.path().join("plan.json");
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--profile", "xray-cmk-demo", "--policy"])
        .arg(emu.policy())
        .args(["--regions", "eu-north-1,us-east-2", "--out"])
        .arg(&out));
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stderr.contains("could not be read"), "{}", said(&r));
    // The plan is still written: what could be read is planned, the rest left alone and said so.
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("plan")).expect("json");
    let target = |region: &str| {
        plan["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["region"] == region)
            .cloned()
            .expect("target")
    };
    assert!(target("eu-north-1")["steps"]
        .as_array()
        .expect("steps")
        .is_empty());
    assert!(target("eu-north-1")["note"]
        .as_str()
        .expect("note")
        .starts_with("not planned"));
    assert!(!target("us-east-2")["steps"]
        .as_array()
        .expect("steps")
        .is_empty());

    let r = run(emu
        .xray_cmk()
        .args(["plan", "--format", "json", "--quiet", "--policy"])
        .arg(emu.policy())
        .args(["--accounts", &format!("{legacy},{MGMT}")])
        .args(["--regions", "us-east-1"]));
    assert_eq!(r.code, 3, "{}", said(&r));

    // Everything read: a plan with steps is still a clean exit.
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--quiet", "--policy"])
        .arg(emu.policy())
        .args(["--regions", "us-east-2"]));
    assert_eq!(r.code, 0, "{}", said(&r));
}

/// A plan of `regions` in `account`, as the seeded admin, saved in the emulator's directory.
fn saved_plan(emu: &Emulator, account: &str, regions: &str) -> std::path::PathBuf {
    saved_plan_as(emu, &[], account, regions)
}

/// [`saved_plan`], with `profile` (`--profile NAME`) planning: the principal that will apply.
fn saved_plan_as(
    emu: &Emulator,
    profile: &[&str],
    account: &str,
    regions: &str,
) -> std::path::PathBuf {
    let out = emu
        .dir
        .path()
        .join(format!("plan-{account}-{regions}.json"));
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--quiet", "--policy"])
        .arg(emu.policy())
        .args(profile)
        .args(["--accounts", account, "--regions", regions, "--out"])
        .arg(&out));
    assert_eq!(r.code, 0, "{}", said(&r));
    out
}

#[test]
fn apply_exits_3_when_a_target_of_the_plan_could_not_be_read() {
    let emu = Emulator::seeded();
    let prod = member_id(&emu, "workload-prod");
    let plan = saved_plan(&emu, &prod, "eu-west-1");
    let apply = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args(["apply", "--yes", "--quiet", "--policy"])
            .arg(emu.policy())
            .arg(&plan)
            .args(extra))
    };
    // The account cannot be reached any more: its role no longer trusts anyone.
    emu.python(&format!(
        r#"
import boto3, json
creds = boto3.client("sts").assume_role(
    RoleArn="arn:aws:iam::{prod}:role/OrganizationAccountAccessRole", RoleSessionName="setup")["Credentials"]
iam = boto3.client("iam", aws_access_key_id=creds["AccessKeyId"],
    aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
iam.update_assume_role_policy(RoleName="OrganizationAccountAccessRole", PolicyDocument=json.dumps({{
    "Version": "2012-10-17",
    "Statement": [{{"Effect": "Deny", "Principal": {{"AWS": "*"}}, "Action": "sts:AssumeRole"}}]}}))
"#
    ));
    let r = apply(&[]);
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stderr.contains("sts:AssumeRole"), "{}", said(&r));
    assert!(r.stderr.contains("could not be read"), "{}", said(&r));
    assert!(r.stderr.contains("nothing was changed"), "{}", said(&r));

    // X-Ray's configuration cannot be read by the role that applies: a management target,
    // planned by the remediate role, applied by it after it is denied the region.
    let remediate = ["--profile", "xray-cmk-demo-remediate"];
    let plan = saved_plan_as(&emu, &remediate, MGMT, "us-east-2");
    emu.python(
        r#"
import boto3, json
boto3.client("iam").put_role_policy(RoleName="XrayCmkAdmin", PolicyName="deny-us-east-2",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Action": "*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-2"}}}]}))
"#,
    );
    let r = run(emu
        .xray_cmk()
        .args(["apply", "--yes", "--quiet"])
        .args(remediate)
        .arg("--policy")
        .arg(emu.policy())
        .arg(&plan));
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(
        r.stderr.contains("xray:GetEncryptionConfig") && r.stderr.contains("could not be read"),
        "{}",
        said(&r)
    );
    assert!(r.stderr.contains("nothing was changed"), "{}", said(&r));
}

#[test]
fn apply_exits_3_when_a_steps_key_could_not_be_read_in_the_pre_flight() {
    let emu = Emulator::seeded();
    // eu-west-1's key has rotation off: the plan turns it on, a step on an existing key.
    let remediate = ["--profile", "xray-cmk-demo-remediate"];
    let plan = saved_plan_as(&emu, &remediate, MGMT, "eu-west-1");
    let key = mgmt_key(&emu, "eu-west-1");
    let apply = || {
        run(emu
            .xray_cmk()
            .args(["apply", "--yes", "--quiet"])
            .args(remediate)
            .arg("--policy")
            .arg(emu.policy())
            .arg(&plan))
    };
    // The role that applies may no longer read the key's tags: whether the step may run is
    // unknown, which is exit 3 (incomplete), not a refusal (2).
    emu.python(&format!(
        r#"
import boto3, json
boto3.client("iam").put_role_policy(RoleName="XrayCmkAdmin", PolicyName="deny-tags",
    PolicyDocument=json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Deny",
        "Action": "kms:ListResourceTags", "Resource": "{key}"}}]}}))
"#
    ));
    let r = apply();
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(
        r.stderr.contains("kms:ListResourceTags") && r.stderr.contains("could not be read"),
        "{}",
        said(&r)
    );
    assert!(r.stderr.contains("nothing was changed"), "{}", said(&r));
    let rotation = |emu: &Emulator| {
        run(emu
            .xray_cmk()
            .args([
                "audit",
                "--format",
                "json",
                "--rules",
                "kms-rotation-disabled",
            ])
            .args(["--policy"])
            .arg(emu.policy())
            .args(["--accounts", MGMT, "--regions", "eu-west-1"]))
    };
    let before = results(&rotation(&emu));
    assert!(
        before.iter().any(|f| f["status"] == "fail"),
        "nothing changed: rotation is still off: {before:?}"
    );

    // The role may read the key, but not ask IAM's simulator whether it may make the calls:
    // unknown too, so 3.
    emu.python(
        r#"
import boto3, json
iam = boto3.client("iam")
iam.delete_role_policy(RoleName="XrayCmkAdmin", PolicyName="deny-tags")
iam.put_role_policy(RoleName="XrayCmkAdmin", PolicyName="deny-simulate",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Action": "iam:SimulatePrincipalPolicy", "Resource": "*"}]}))
"#,
    );
    let r = apply();
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(
        r.stderr.contains("iam:SimulatePrincipalPolicy")
            && r.stderr.contains("could not be read or checked"),
        "{}",
        said(&r)
    );
    assert!(r.stderr.contains("nothing was changed"), "{}", said(&r));

    // Once the role may do both again, the same plan applies.
    emu.python(
        r#"
import boto3
boto3.client("iam").delete_role_policy(RoleName="XrayCmkAdmin", PolicyName="deny-simulate")
"#,
    );
    let r = apply();
    assert_eq!(r.code, 0, "{}", said(&r));
}

#[test]
fn only_that_selects_nothing_is_a_usage_error() {
    let emu = Emulator::seeded();
    let verify = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args(["verify", "--timeout", "10"])
            .args(extra))
    };
    // An account outside the scope (the caller's own account, without --accounts).
    let r = verify(&["--only", "999999999999"]);
    assert_eq!(r.code, 2, "{}", said(&r));
    assert!(r.stderr.contains("999999999999"), "{}", said(&r));
    // A region the account has not enabled (ap-east-1 is opt-in).
    let r = verify(&["--only", &format!("{MGMT}/ap-east-1")]);
    assert_eq!(r.code, 2, "{}", said(&r));
    // Each entry must select something, as each --rules pattern must.
    let r = verify(&[
        "--regions",
        "us-east-1",
        "--only",
        &format!("{MGMT}/us-east-1,{MGMT}/eu-west-1"),
    ]);
    assert_eq!(r.code, 2, "{}", said(&r));
    assert!(
        r.stderr.contains(&format!("{MGMT}/eu-west-1")),
        "{}",
        said(&r)
    );
    // What selects something still runs.
    let r = verify(&["--regions", "us-east-1", "--only", MGMT]);
    assert_eq!(r.code, 0, "{}", said(&r));

    let plan = saved_plan(&emu, MGMT, "us-east-1,us-east-2");
    let apply = |only: &str| {
        run(emu
            .xray_cmk()
            .args(["apply", "--yes", "--quiet", "--policy"])
            .arg(emu.policy())
            .arg(&plan)
            .args(["--only", only]))
    };
    let r = apply("999999999999");
    assert_eq!(r.code, 2, "{}", said(&r));
    let r = apply(&format!("{MGMT}/eu-west-1"));
    assert_eq!(r.code, 2, "{}", said(&r));
    // A target of the plan with nothing to do is a selection, and a clean no-op.
    let r = apply(&format!("{MGMT}/us-east-1"));
    assert_eq!(r.code, 0, "{}", said(&r));
    assert!(r.stdout.contains("nothing to apply"), "{}", said(&r));
}

#[test]
fn verify_exits_3_when_a_target_could_not_be_read() {
    let emu = Emulator::seeded();
    let legacy = member_id(&emu, "legacy");
    let dev = member_id(&emu, "workload-dev");
    let r = run(emu.xray_cmk().args([
        "verify",
        "--timeout",
        "10",
        "--accounts",
        &format!("{legacy},{MGMT}"),
        "--regions",
        "us-east-1",
    ]));
    assert_eq!(r.code, 3, "{}", said(&r));
    let line = |account: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(account))
            .unwrap_or_else(|| panic!("no line for {account}: {}", said(&r)))
            .to_owned()
    };
    assert!(line(MGMT).contains(" ok "), "{}", said(&r));
    assert!(line(&legacy).contains("sts:AssumeRole"), "{}", said(&r));
    assert!(
        !line(&legacy).contains("FAILED"),
        "unknown, not failed: {}",
        said(&r)
    );

    // The region workload-dev's role is denied: the segment could not even be written.
    let r = run(emu.xray_cmk().args([
        "verify",
        "--timeout",
        "10",
        "--accounts",
        &dev,
        "--regions",
        "ap-northeast-1",
    ]));
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stdout.contains("xray:PutTraceSegments"), "{}", said(&r));
}

fn kpi(emu: &Emulator, db: &std::path::Path) -> Value {
    let r = run(emu
        .xray_cmk()
        .args(["kpi", "--since", "1d", "--format", "json", "--db"])
        .arg(db));
    assert_eq!(r.code, 0, "{}", said(&r));
    serde_json::from_str(&r.stdout).expect("kpi json")
}

fn audit_into(emu: &Emulator, db: &std::path::Path, extra: &[&str]) -> Run {
    run(emu
        .xray_cmk()
        .args(["audit", "--quiet", "--policy"])
        .arg(emu.policy())
        .arg("--db")
        .arg(db)
        .args(extra))
}

#[test]
fn mttr_counts_a_finding_remediated_only_when_a_later_audit_read_it_and_it_passed() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let key = mgmt_key(&emu, "eu-north-1");
    let rotation = |on: bool| {
        emu.python(&format!(
            r#"
import boto3
kms = boto3.client("kms", region_name="eu-north-1")
kms.{}_key_rotation(KeyId="{key}")
"#,
            if on { "enable" } else { "disable" }
        ))
    };
    // eu-north-1's key with rotation off: the admin's audit fails it.
    rotation(false);
    let r = audit_into(&emu, &db, &["--regions", "eu-north-1"]);
    assert_eq!(r.code, 1, "{}", said(&r));
    // The audit role is denied the region: the finding is unknown now, not fixed.
    let r = audit_into(
        &emu,
        &db,
        &["--profile", "xray-cmk-demo", "--regions", "eu-north-1"],
    );
    assert_eq!(r.code, 3, "{}", said(&r));
    let k = kpi(&emu, &db);
    let rules = |list: &Value| -> BTreeSet<String> {
        list.as_array()
            .expect("list")
            .iter()
            .map(|m| m["rule"].as_str().expect("rule").to_owned())
            .collect()
    };
    assert!(
        !rules(&k["mttr"]["remediated"]).contains("kms-rotation-disabled"),
        "{}",
        k["mttr"]
    );
    assert!(
        rules(&k["mttr"]["open"]).contains("kms-rotation-disabled"),
        "{}",
        k["mttr"]
    );

    // Fixed, and read again: remediated, at the audit that read it.
    rotation(true);
    let r = audit_into(&emu, &db, &["--regions", "eu-north-1"]);
    assert!(matches!(r.code, 0 | 1), "{}", said(&r));
    let k = kpi(&emu, &db);
    let fixed: Vec<&Value> = k["mttr"]["remediated"]
        .as_array()
        .expect("remediated")
        .iter()
        .filter(|m| m["rule"] == "kms-rotation-disabled")
        .collect();
    assert_eq!(fixed.len(), 1, "{}", k["mttr"]);
    let trend = k["compliance"]["trend"].as_array().expect("trend");
    assert_eq!(fixed[0]["failed_at"], trend[0]["started_at"]);
    assert_eq!(fixed[0]["passed_at"], trend[2]["started_at"]);
}

#[test]
fn kpi_key_counts_come_from_the_recorded_inventory() {
    let emu = Emulator::seeded();
    // us-east-1 and eu-west-1 use customer managed keys; us-west-2 uses aws/xray, which costs
    // nothing.
    let regions = ["--regions", "us-east-1,eu-west-1,us-west-2"];

    let db = emu.dir.path().join("xray-rules.db");
    let r = audit_into(
        &emu,
        &db,
        &[&["--rules", "xray-*"][..], &regions[..]].concat(),
    );
    assert!(matches!(r.code, 1), "{}", said(&r));
    let cost = kpi(&emu, &db)["cost"].clone();
    assert_eq!(cost["keys"], 2, "{cost}");
    assert_eq!(cost["keys_usd_month"], 2.0, "{cost}");
    assert_eq!(cost["keys_unknown"], 0, "{cost}");
    assert_eq!(cost["targets_unread"], 0, "{cost}");

    // Rules that need no key read leave the keys unknown: counted as such, never as $0 of keys.
    let db = emu.dir.path().join("no-key-rules.db");
    let r = audit_into(
        &emu,
        &db,
        &[&["--rules", "xray-default-encryption"][..], &regions[..]].concat(),
    );
    assert!(matches!(r.code, 0), "{}", said(&r));
    let k = kpi(&emu, &db);
    assert_eq!(k["cost"]["keys"], 0, "{}", k["cost"]);
    assert_eq!(k["cost"]["keys_unknown"], 3, "{}", k["cost"]);
    let r = run(emu
        .xray_cmk()
        .args(["kpi", "--since", "1d", "--db"])
        .arg(&db));
    assert_eq!(r.code, 0, "{}", said(&r));
    assert!(
        r.stdout
            .contains("3 keys X-Ray uses could not be described"),
        "{}",
        said(&r)
    );

    // A target that could not be read, and a key nobody may describe.
    let db = emu.dir.path().join("unread.db");
    let r = audit_into(
        &emu,
        &db,
        &[
            "--profile",
            "xray-cmk-demo",
            "--regions",
            "us-east-1,eu-north-1,sa-east-1",
        ],
    );
    assert_eq!(r.code, 3, "{}", said(&r));
    let cost = kpi(&emu, &db)["cost"].clone();
    assert_eq!(cost["keys"], 1, "{cost}");
    assert_eq!(cost["keys_unknown"], 1, "{cost}");
    assert_eq!(cost["targets_unread"], 1, "{cost}");
}

#[test]
fn evidence_and_erase_exit_3_when_their_target_could_not_be_read() {
    let emu = Emulator::seeded();
    let legacy = member_id(&emu, "legacy");
    let evidence = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args(["evidence", "--days", "1", "--format", "json", "--policy"])
            .arg(emu.policy())
            .args(extra))
    };
    let r = evidence(&["--account", &legacy, "--region", "us-east-1"]);
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stderr.contains("sts:AssumeRole"), "{}", said(&r));
    let locked = mgmt_key(&emu, "sa-east-1");
    let r = evidence(&["--key", &locked]);
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stderr.contains("kms:DescribeKey"), "{}", said(&r));

    let erase = |account: &str, region: &str, extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args(["erase", "--account", account, "--region", region])
            .args(["--reason", "test", "--no-history"])
            .args(extra))
    };
    let r = erase(&legacy, "us-east-1", &["--confirm", "x"]);
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stderr.contains("nothing was changed"), "{}", said(&r));
    // Nothing to act on is still a refusal.
    let r = erase(MGMT, "us-east-2", &["--confirm", "x"]);
    assert_eq!(r.code, 2, "{}", said(&r));
    // The blast radius could not be read everywhere: the key is disabled, and the exit code
    // says the radius shown was incomplete.
    let key = mgmt_key(&emu, "us-east-1");
    let r = erase(MGMT, "us-east-1", &["--org", "--confirm", &key]);
    assert_eq!(r.code, 3, "{}", said(&r));
    assert!(r.stdout.contains("is now Disabled"), "{}", said(&r));
    assert!(
        r.stderr
            .contains(&format!("{legacy}/us-east-1 (not checked")),
        "{}",
        said(&r)
    );
}
