//! `xray-cmk guard generate` end to end: the files it writes from the fixture policy and key list
//! in scripts/tests/guard (which scripts/check-guardrail runs through cfn-lint and cfn-guard),
//! `iac scan` finding the Terraform clean, the keys read back from a recorded audit, and the
//! refusals (exit 2, nothing written).

mod common;

use std::path::{Path, PathBuf};

use common::{bare_xray_cmk, member_id, repo_root, run};
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

/// The `[guard]` table the guardrail tests add to the demo policy file.
const GUARD_TABLE: &str = r#"
[guard]
automation_roles = ["arn:aws:iam::{account}:role/XrayCmkAdmin"]
break_glass_roles = ["arn:aws:iam::{account}:role/BreakGlass"]
"#;

fn guard_policy(emu: &common::Emulator) -> PathBuf {
    let path = emu.dir.path().join("guard-policy.toml");
    let text = std::fs::read_to_string(emu.policy()).expect("policy");
    std::fs::write(&path, format!("{text}{GUARD_TABLE}")).expect("write policy");
    path
}

/// `audit --rules 'guard-*'` as JSON: (account, rule) -> (status, message), and the exit code.
fn guard_audit(
    emu: &common::Emulator,
    policy: &Path,
    scope: &[&str],
    env: &[(&str, &str)],
) -> (i32, Vec<(String, String, String, String)>) {
    let mut cmd = emu.xray_cmk();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(cmd
        .args(["audit", "--rules", "guard-*", "--regions", "us-east-1"])
        .args(["--format", "json", "--quiet", "--policy"])
        .arg(policy)
        .args(scope));
    let report: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    let results = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or_default().to_owned();
            (s("account"), s("rule"), s("status"), s("message"))
        })
        .collect();
    (r.code, results)
}

/// The guardrail as `guard generate` writes it, deployed through the emulator's APIs: in each
/// member, a Config recorder recording every type and the Config rule with the generated Guard
/// rule, the EventBridge rule with the StackSet's pattern sending to an SNS topic; the SCP attached
/// to the organization's root.
fn deploy(emu: &common::Emulator, guard_dir: &Path, members: &[String]) {
    emu.python(&format!(
        r#"
import boto3, json, pathlib, yaml
guard = pathlib.Path({guard_dir:?})
class Cfn(yaml.SafeLoader): pass
Cfn.add_multi_constructor("!", lambda loader, suffix, node: None)
template = yaml.load((guard / "xray-cmk-guard.stackset.yaml").read_text(), Loader=Cfn)
patterns = [r["Properties"]["EventPattern"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Events::Rule" and r["Properties"]["EventPattern"].get("source") == ["aws.xray"]]
assert len(patterns) == 1, patterns
config_rule = next(r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule")
policy_text = (guard / "xray-cmk-encryption.guard").read_text()
for account in {members:?}:
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{{account}}:role/OrganizationAccountAccessRole", RoleSessionName="deploy")["Credentials"]
    s = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"], region_name="us-east-1")
    s3, config, events, sns = (s.client(n) for n in ("s3", "config", "events", "sns"))
    bucket = f"config-{{account}}"
    s3.create_bucket(Bucket=bucket)
    config.put_configuration_recorder(ConfigurationRecorder={{
        "name": "default", "roleARN": f"arn:aws:iam::{{account}}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
        "recordingGroup": {{"allSupported": True, "includeGlobalResourceTypes": False}}}})
    config.put_delivery_channel(DeliveryChannel={{"name": "default", "s3BucketName": bucket}})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    config.put_config_rule(ConfigRule={{
        "ConfigRuleName": config_rule["ConfigRuleName"],
        "Scope": {{"ComplianceResourceTypes": config_rule["Scope"]["ComplianceResourceTypes"]}},
        "Source": {{"Owner": "CUSTOM_POLICY",
                    "SourceDetails": [{{"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"}}],
                    "CustomPolicyDetails": {{"PolicyRuntime": "guard-2.x.x", "PolicyText": policy_text}}}}}})
    topic = sns.create_topic(Name="xray-cmk-guard-alerts")["TopicArn"]
    events.put_rule(Name="xray-cmk-put-encryption-config", EventPattern=json.dumps(patterns[0]), State="ENABLED")
    events.put_targets(Rule="xray-cmk-put-encryption-config", Targets=[{{"Id": "alerts", "Arn": topic}}])
org = boto3.client("organizations")
root = org.list_roots()["Roots"][0]
if not any(t["Type"] == "SERVICE_CONTROL_POLICY" and t["Status"] == "ENABLED" for t in root["PolicyTypes"]):
    org.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
root = root["Id"]
policy = org.create_policy(Name="xray-cmk-guard", Description="X-Ray encryption only by automation",
    Type="SERVICE_CONTROL_POLICY", Content=(guard / "xray-cmk-guard.scp.json").read_text().strip())["Policy"]
org.attach_policy(PolicyId=policy["PolicySummary"]["Id"], TargetId=root)
"#
    ));
}

/// Issue 16, done when: once the SCP is attached, the emulator (which applies SCPs to member
/// accounts as AWS does) denies `PutEncryptionConfig` to a principal outside `automation_roles`
/// and `break_glass_roles`, even one allowed every action, and lets the automation role
/// through; the managed keys' protected KMS actions are kept for the break-glass role.
fn scp_is_enforced(emu: &common::Emulator, member: &str) {
    emu.python(&format!(
        r#"
import boto3, json
from botocore.exceptions import ClientError
account = {member:?}
def session(role):
    c = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{{account}}:role/{{role}}", RoleSessionName="test")["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"], region_name="us-east-1")
admin = session("OrganizationAccountAccessRole")
iam = admin.client("iam")
trust = json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
    "Principal": {{"AWS": "arn:aws:iam::123456789012:root"}}, "Action": "sts:AssumeRole"}}]}})
for role in ("XrayCmkAdmin", "BreakGlass"):
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=role, PolicyName="admin", PolicyDocument=json.dumps({{"Version": "2012-10-17",
        "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}]}}))

def denied(call):
    try:
        call()
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied"), e.response
        assert "service control policy" in str(e), str(e)
        return True
    return False

# X-Ray's encryption: only the automation (and break-glass) roles.
assert denied(lambda: admin.client("xray").put_encryption_config(Type="NONE")), "an administrator outside the automation roles was let through"
assert not denied(lambda: session("XrayCmkAdmin").client("xray").put_encryption_config(Type="NONE"))

# A managed key: disabling it is kept for the break-glass role.
key = admin.client("kms").create_key(Tags=[{{"TagKey": "managed-by", "TagValue": "xray-cmk"}}])["KeyMetadata"]["KeyId"]
assert denied(lambda: admin.client("kms").disable_key(KeyId=key)), "an administrator disabled a managed key"
assert denied(lambda: session("XrayCmkAdmin").client("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=7))
assert not denied(lambda: session("BreakGlass").client("kms").disable_key(KeyId=key))
# An unmanaged key is not the SCP's business.
other = admin.client("kms").create_key()["KeyMetadata"]["KeyId"]
assert not denied(lambda: admin.client("kms").disable_key(KeyId=other))
"#
    ));
}

/// Issue 16, done when: `audit --rules 'guard-*'` fails everywhere before the guardrail is
/// deployed; once the generated resources are deployed every guard rule passes; the management
/// account, which SCPs do not restrict, still fails the SCP rule.
#[test]
fn the_guard_rules_fail_before_the_guardrail_and_pass_once_it_is_deployed() {
    let emu = common::Emulator::seeded();
    let seed = emu.seed();
    let policy = guard_policy(&emu);
    let management = seed["management_account_id"]
        .as_str()
        .expect("management")
        .to_owned();
    let members: Vec<String> = ["workload-prod", "workload-dev", "security"]
        .iter()
        .map(|n| member_id(&seed, n))
        .collect();
    let excluded = format!("{},{}", member_id(&seed, "legacy"), management);
    let scope = ["--org", "--exclude-accounts", excluded.as_str()];

    let (code, before) = guard_audit(&emu, &policy, &scope, &[]);
    assert_eq!(code, 1, "{before:#?}");
    assert_eq!(before.len(), 3 * members.len(), "{before:#?}");
    assert!(before.iter().all(|(_, _, s, _)| s == "fail"), "{before:#?}");
    for rule in [
        "guard-config-rule-missing",
        "guard-drift-alert-missing",
        "guard-scp-missing",
    ] {
        let accounts: Vec<&String> = before
            .iter()
            .filter(|(_, r, _, _)| r == rule)
            .map(|(a, _, _, _)| a)
            .collect();
        assert_eq!(accounts.len(), members.len(), "{rule}");
    }

    let dir = tempfile::tempdir().expect("dir");
    let guard_dir = dir.path().join("guard");
    // Generated from the policy file the audit judges with: the SCP lets its roles through.
    let r = run(bare_xray_cmk()
        .args(["guard", "generate", "--out"])
        .arg(&guard_dir)
        .arg("--policy")
        .arg(&policy)
        .args(["--key-arns", &key_arns()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    deploy(&emu, &guard_dir, &members);

    let (code, after) = guard_audit(&emu, &policy, &scope, &[]);
    assert_eq!(code, 0, "{after:#?}");
    assert_eq!(after.len(), 3 * members.len());
    assert!(after.iter().all(|(_, _, s, _)| s == "pass"), "{after:#?}");
    let scp = after
        .iter()
        .find(|(_, r, _, _)| r == "guard-scp-missing")
        .expect("scp result");
    assert!(scp.3.contains("xray-cmk-guard"), "{}", scp.3);
    scp_is_enforced(&emu, &members[1]);

    // The management account: the SCP does not restrict it.
    let (code, mgmt) = guard_audit(
        &emu,
        &policy,
        &[
            "--org",
            "--accounts",
            &management,
            "--exclude-accounts",
            &members.join(","),
        ],
        &[],
    );
    let scp_here: Vec<_> = mgmt
        .iter()
        .filter(|(a, r, _, _)| a == &management && r == "guard-scp-missing")
        .collect();
    assert_eq!(scp_here.len(), 1, "{mgmt:#?} (exit {code})");
    assert_eq!(scp_here[0].2, "fail");
    assert!(
        scp_here[0].3.contains("management account"),
        "{}",
        scp_here[0].3
    );

    // `plan` lists the guardrail's failures as not fixed by apply.
    let r = run(emu
        .xray_cmk()
        .args([
            "plan",
            "--rules",
            "guard-*",
            "--regions",
            "us-east-1",
            "--policy",
        ])
        .arg(&policy)
        .args(["--accounts", &management]));
    assert!(
        r.stdout.contains("not fixed by apply"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.contains("guard-config-rule-missing"),
        "{}",
        r.stdout
    );
}

/// An input that cannot be read makes the guard rules `error` (exit 3), never a pass: a caller
/// denied `config:DescribeConfigRules`, then one denied `organizations:DescribePolicy`.
#[test]
fn an_unreadable_guardrail_input_is_an_error_and_exit_3() {
    let emu = common::Emulator::seeded();
    let seed = emu.seed();
    let policy = guard_policy(&emu);
    let management = seed["management_account_id"]
        .as_str()
        .expect("management")
        .to_owned();
    let keys = emu.dir.path().join("keys.json");
    emu.python(&format!(
        r#"
import boto3, json
iam = boto3.client("iam")
out = {{}}
for name, denied in (("no-config-rules", "config:DescribeConfigRules"), ("no-scp-content", "organizations:DescribePolicy")):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({{"Version": "2012-10-17",
        "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}},
                      {{"Effect": "Deny", "Action": denied, "Resource": "*"}}]}}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    out[name] = {{"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}}
open({keys:?}, "w").write(json.dumps(out))
"#
    ));
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keys).expect("keys")).expect("json");
    let creds = |user: &str| -> [(&'static str, String); 2] {
        [
            (
                "AWS_ACCESS_KEY_ID",
                keys[user]["AccessKeyId"].as_str().expect("id").to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                keys[user]["SecretAccessKey"]
                    .as_str()
                    .expect("secret")
                    .to_owned(),
            ),
        ]
    };
    let env = |c: &[(&'static str, String); 2]| -> Vec<(&'static str, String)> { c.to_vec() };

    let c = env(&creds("no-config-rules"));
    let pairs: Vec<(&str, &str)> = c.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, results) = guard_audit(&emu, &policy, &["--accounts", &management], &pairs);
    assert_eq!(code, 3, "{results:#?}");
    let config = results
        .iter()
        .find(|(_, r, _, _)| r == "guard-config-rule-missing")
        .expect("config result");
    assert_eq!(config.2, "error", "{config:?}");
    assert!(
        config.3.contains("config:DescribeConfigRules"),
        "{}",
        config.3
    );
    // The drift alert was readable: judged, not an error.
    let drift = results
        .iter()
        .find(|(_, r, _, _)| r == "guard-drift-alert-missing")
        .expect("drift result");
    assert_eq!(drift.2, "fail", "{drift:?}");

    // Attach an SCP so that there is one to read, then read it without DescribePolicy.
    emu.python(
        r#"
import boto3
org = boto3.client("organizations")
root = org.list_roots()["Roots"][0]["Id"]
org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
p = org.create_policy(Name="deny-nothing", Description="d", Type="SERVICE_CONTROL_POLICY",
    Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"xray:DeleteGroup","Resource":"*"}]}')["Policy"]
org.attach_policy(PolicyId=p["PolicySummary"]["Id"], TargetId=root)
"#,
    );
    let c = env(&creds("no-scp-content"));
    let pairs: Vec<(&str, &str)> = c.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let prod = member_id(&seed, "workload-prod");
    let (code, results) = guard_audit(
        &emu,
        &policy,
        &[
            "--ou",
            seed["organizational_units"][0]["id"].as_str().expect("ou"),
            "--accounts",
            &prod,
        ],
        &pairs,
    );
    assert_eq!(code, 3, "{results:#?}");
    let scp: Vec<_> = results
        .iter()
        .filter(|(a, r, _, _)| a == &prod && r == "guard-scp-missing")
        .collect();
    assert_eq!(scp.len(), 1, "{results:#?}");
    assert_eq!(scp[0].2, "error");
    assert!(
        scp[0].3.contains("organizations:DescribePolicy"),
        "{}",
        scp[0].3
    );
}

/// Issue 16, done when: the generated Config rule, evaluated by the real Guard engine, goes
/// `NON_COMPLIANT` when X-Ray drifts to the default; EventBridge gets the compliance change the
/// StackSet's rule matches; and with `auto_remediate` the runbook, run as the generated
/// remediation role under the generated SCP, puts X-Ray back on the approved key, after which the
/// rule is `COMPLIANT` again.
#[test]
fn drift_is_non_compliant_and_the_automatic_remediation_puts_x_ray_back_on_the_approved_key() {
    let emu = common::Emulator::seeded();
    let seed = emu.seed();
    let dev = member_id(&seed, "workload-dev");
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("approved-keys.txt");
    // The approved key, in the member, with KMS's default key policy (IAM decides).
    emu.python(&format!(
        r#"
import boto3
c = boto3.client("sts").assume_role(RoleArn="arn:aws:iam::{dev}:role/OrganizationAccountAccessRole",
                                    RoleSessionName="setup")["Credentials"]
kms = boto3.client("kms", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                   aws_session_token=c["SessionToken"])
key = kms.create_key(Description="approved X-Ray key")["KeyMetadata"]["Arn"]
open({keys:?}, "w").write(key + "\n")
"#
    ));
    let key = std::fs::read_to_string(&keys)
        .expect("keys")
        .trim()
        .to_owned();
    let policy = dir.path().join("policy.toml");
    let text = std::fs::read_to_string(emu.policy()).expect("policy");
    std::fs::write(
        &policy,
        format!("{text}{GUARD_TABLE}auto_remediate = true\n"),
    )
    .expect("policy");
    let guard_dir = dir.path().join("guard");
    let r = run(bare_xray_cmk()
        .args(["guard", "generate", "--out"])
        .arg(&guard_dir)
        .arg("--policy")
        .arg(&policy)
        .arg("--key-arns")
        .arg(&keys));
    assert_eq!(r.code, 0, "{}", r.stderr);

    emu.python(&format!(
        r#"
import boto3, json, pathlib, time, yaml
guard = pathlib.Path({guard_dir:?})
account, key = {dev:?}, {key:?}
class Cfn(yaml.SafeLoader): pass
Cfn.add_multi_constructor("!", lambda loader, suffix, node: None)
resources = yaml.load((guard / "xray-cmk-guard.stackset.yaml").read_text(), Loader=Cfn)["Resources"]
def of_type(t):
    (props,) = [r["Properties"] for r in resources.values() if r["Type"] == t]
    return props

root = boto3.Session(region_name="us-east-1")
org = root.client("organizations")
org_root = org.list_roots()["Roots"][0]
if not any(t["Type"] == "SERVICE_CONTROL_POLICY" and t["Status"] == "ENABLED" for t in org_root["PolicyTypes"]):
    org.enable_policy_type(RootId=org_root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
policy = org.create_policy(Name="xray-cmk-guard", Description="d", Type="SERVICE_CONTROL_POLICY",
    Content=(guard / "xray-cmk-guard.scp.json").read_text().strip())["Policy"]
org.attach_policy(PolicyId=policy["PolicySummary"]["Id"], TargetId=account)

def session(role):
    c = root.client("sts").assume_role(RoleArn=f"arn:aws:iam::{{account}}:role/{{role}}", RoleSessionName="test")["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"], region_name="us-east-1")
admin = session("OrganizationAccountAccessRole")
iam, config, events, sqs = (admin.client(n) for n in ("iam", "config", "events", "sqs"))
trust = json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
    "Principal": {{"AWS": "arn:aws:iam::123456789012:root"}}, "Action": "sts:AssumeRole"}}]}})
iam.create_role(RoleName="XrayCmkAdmin", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="XrayCmkAdmin", PolicyName="admin", PolicyDocument=json.dumps({{"Version": "2012-10-17",
    "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}]}}))

# The StackSet's resources, as CloudFormation would create them in this account-region.
role = of_type("AWS::IAM::Role")
role_trust = role["AssumeRolePolicyDocument"]
role_trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = account
role_policy = role["Policies"][0]["PolicyDocument"]
for s in role_policy["Statement"]:
    if s["Resource"] is None:  # !Ref ApprovedKeyArns
        s["Resource"] = [key]
role_arn = iam.create_role(RoleName="xray-cmk-guard-remediation-us-east-1",
                           AssumeRolePolicyDocument=json.dumps(role_trust))["Role"]["Arn"]
iam.put_role_policy(RoleName="xray-cmk-guard-remediation-us-east-1", PolicyName=role["Policies"][0]["PolicyName"],
                    PolicyDocument=json.dumps(role_policy))
config.put_configuration_recorder(ConfigurationRecorder={{"name": "default",
    "roleARN": f"arn:aws:iam::{{account}}:role/config", "recordingGroup": {{"allSupported": True}}}})
config.put_delivery_channel(DeliveryChannel={{"name": "default", "s3BucketName": f"config-{{account}}"}})
config.start_configuration_recorder(ConfigurationRecorderName="default")
rule = of_type("AWS::Config::ConfigRule")
source = dict(rule["Source"])
source["CustomPolicyDetails"] = dict(source["CustomPolicyDetails"], PolicyText=(guard / "xray-cmk-encryption.guard").read_text())
queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
(pattern,) = [r["Properties"]["EventPattern"] for r in resources.values()
              if r["Type"] == "AWS::Events::Rule" and r["Properties"]["EventPattern"]["source"] == ["aws.config"]]
events.put_rule(Name="xray-cmk-encryption-non-compliant", EventPattern=json.dumps(pattern), State="ENABLED")
events.put_targets(Rule="xray-cmk-encryption-non-compliant", Targets=[{{"Id": "alerts", "Arn": queue_arn}}])
# X-Ray on the approved key first, then the rule (evaluated at once) and its remediation.
session("XrayCmkAdmin").client("xray").put_encryption_config(Type="KMS", KeyId=key)
config.put_config_rule(ConfigRule={{"ConfigRuleName": rule["ConfigRuleName"], "Scope": rule["Scope"], "Source": source}})
def compliance():
    (row,) = config.describe_compliance_by_config_rule(ConfigRuleNames=["xray-cmk-encryption"])["ComplianceByConfigRules"]
    return row["Compliance"]["ComplianceType"]
assert compliance() == "COMPLIANT", compliance()
remediation = of_type("AWS::Config::RemediationConfiguration")
remediation["ConfigRuleName"] = "xray-cmk-encryption"
remediation["Parameters"]["AutomationAssumeRole"]["StaticValue"]["Values"] = [role_arn]
remediation["Parameters"]["KeyId"]["StaticValue"]["Values"] = [key]
assert config.put_remediation_configurations(RemediationConfigurations=[remediation])["FailedBatches"] == []

from botocore.exceptions import ClientError
try:
    admin.client("xray").put_encryption_config(Type="NONE")
    raise AssertionError("the SCP let a principal outside the automation roles change X-Ray")
except ClientError as e:
    assert "service control policy" in str(e), e
# Drift: the automation role, which the SCP lets through, puts X-Ray on the default.
session("XrayCmkAdmin").client("xray").put_encryption_config(Type="NONE")
messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
event = json.loads(messages[0]["Body"])
assert event["detail-type"] == "Config Rules Compliance Change", event
assert event["detail"]["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT", event
assert event["detail"]["resourceType"] == "AWS::XRay::EncryptionConfig"

deadline = time.monotonic() + 60
while True:
    statuses = config.describe_remediation_execution_status(ConfigRuleName="xray-cmk-encryption")["RemediationExecutionStatuses"]
    if statuses and statuses[0]["State"] in ("SUCCEEDED", "FAILED"):
        break
    assert time.monotonic() < deadline, statuses
    time.sleep(0.2)
assert statuses[0]["State"] == "SUCCEEDED", statuses
now = admin.client("xray").get_encryption_config()["EncryptionConfig"]
assert (now["Type"], now["KeyId"], now["Status"]) == ("KMS", key, "ACTIVE"), now
assert compliance() == "COMPLIANT", compliance()
"#
    ));
}
