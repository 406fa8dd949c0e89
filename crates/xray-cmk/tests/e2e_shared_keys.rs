//! End-to-end: keys shared across accounts are judged for each account that uses them, and access
//! the key policy leaves to IAM is decided by IAM's policy simulator.

mod common;

use common::{member_id, run, stable_json, Emulator};
use serde_json::Value;

const MANAGEMENT: &str = "123456789012";
/// A region the demo seed configures nowhere, so only what a test sets up is in it.
const REGION: &str = "us-west-1";

/// Python (boto3) that defines `session(account)`: the management account's root, or a member's
/// OrganizationAccountAccessRole, in [`REGION`].
fn python_prelude() -> String {
    format!(
        r#"
import boto3, json
def session(account):
    if account == "{MANAGEMENT}":
        return boto3.Session(region_name="{REGION}")
    c = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{{account}}:role/OrganizationAccountAccessRole",
        RoleSessionName="setup")["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"], region_name="{REGION}")
def allow(account, role, actions, key_arn):
    session(account).client("iam").put_role_policy(RoleName=role, PolicyName="xray-kms",
        PolicyDocument=json.dumps({{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Action": actions, "Resource": key_arn}}]}}))
"#
    )
}

fn results_of(stdout: &str) -> Vec<Value> {
    stable_json(stdout)["results"]
        .as_array()
        .expect("results")
        .clone()
}

fn rule_results<'a>(results: &'a [Value], rule: &str) -> Vec<&'a Value> {
    results.iter().filter(|x| x["rule"] == rule).collect()
}

/// A CMK owned by the `security` member, used by X-Ray in the management account, workload-prod
/// and workload-dev. The key policy leaves each user account's access to its IAM; workload-dev's
/// XrayAdmin may not create grants.
struct CentralKey {
    emu: Emulator,
    owner: String,
    users: [String; 3],
    denied_user: String,
    key_arn: String,
    policy: std::path::PathBuf,
}

fn central_key() -> CentralKey {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let owner = member_id(&seed, "security");
    let prod = member_id(&seed, "workload-prod");
    let dev = member_id(&seed, "workload-dev");
    let users = [MANAGEMENT.to_owned(), prod.clone(), dev.clone()];
    let key_file = emu.dir.path().join("central-key-arn");
    emu.python(&format!(
        r#"{prelude}
owner, users, denied = "{owner}", {users:?}, "{dev}"
policy = {{"Version": "2012-10-17", "Statement": [
    {{"Sid": "Owner", "Effect": "Allow", "Principal": {{"AWS": f"arn:aws:iam::{{owner}}:root"}},
     "Action": "kms:*", "Resource": "*"}},
    {{"Sid": "UsersDecideWithIam", "Effect": "Allow",
     "Principal": {{"AWS": [f"arn:aws:iam::{{u}}:root" for u in users]}},
     "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt", "kms:GetKeyRotationStatus"],
     "Resource": "*"}}]}}
kms = session(owner).client("kms")
arn = kms.create_key(Policy=json.dumps(policy), Description="central X-Ray key")["KeyMetadata"]["Arn"]
kms.enable_key_rotation(KeyId=arn)
for u in users:
    grants = ["kms:DescribeKey"] if u == denied else ["kms:CreateGrant", "kms:DescribeKey"]
    allow(u, "XrayAdmin", grants, arn)
    allow(u, "TraceReader", ["kms:Decrypt"], arn)
    session(u).client("xray").put_encryption_config(Type="KMS", KeyId=arn)
open({key_file:?}, "w").write(arn)
"#,
        prelude = python_prelude(),
    ));
    let key_arn = std::fs::read_to_string(&key_file).expect("key arn");
    let policy = emu.dir.path().join("central.toml");
    let mut trusted: Vec<&str> = users.iter().map(String::as_str).collect();
    trusted.push(&owner);
    std::fs::write(
        &policy,
        format!(
            "[access]\nxray_admins = [\"arn:aws:iam::{{account}}:role/XrayAdmin\"]\n\
             trace_readers = [\"arn:aws:iam::{{account}}:role/TraceReader\"]\n\
             trusted_accounts = {trusted:?}\n"
        ),
    )
    .expect("policy file");
    CentralKey {
        emu,
        owner,
        users,
        denied_user: dev,
        key_arn,
        policy,
    }
}

impl CentralKey {
    fn audit(&self, accounts: &[&str], concurrency: u32) -> common::Run {
        run(self
            .emu
            .xray_cmk()
            .args(["audit", "--profile", "xray-cmk-demo", "--format", "json"])
            .args(["--regions", REGION, "--quiet", "--accounts"])
            .arg(accounts.join(","))
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .arg("--policy")
            .arg(&self.policy))
    }
}

#[test]
fn a_central_key_is_judged_for_each_account_that_uses_it_whatever_the_order() {
    let c = central_key();
    let mut accounts: Vec<&str> = c.users.iter().map(String::as_str).collect();
    accounts.push(&c.owner);
    let mut first: Option<Vec<Value>> = None;
    for concurrency in [1, 8, 64] {
        for attempt in 0..5 {
            let r = c.audit(&accounts, concurrency);
            assert_eq!(r.code, 1, "findings, none unknown: {}", r.stderr);
            let results = results_of(&r.stdout);
            match &first {
                None => first = Some(results),
                Some(expected) => assert_eq!(
                    &results, expected,
                    "run {attempt} at --concurrency {concurrency} differs"
                ),
            }
        }
    }
    let results = first.expect("results");
    let access = rule_results(&results, "kms-key-policy-xray-access");
    assert_eq!(
        access.len(),
        3,
        "one per account using the key: {access:#?}"
    );
    for x in &access {
        assert_eq!(x["region"], REGION);
        assert_eq!(x["key"], c.key_arn.as_str());
        let message = x["message"].as_str().expect("message");
        assert!(
            message.contains("IAM policy simulator"),
            "{}: {message}",
            x["account"]
        );
        if x["account"] == c.denied_user.as_str() {
            assert_eq!(x["status"], "fail", "{x}");
            assert!(
                message.contains(&format!(
                    "arn:aws:iam::{}:role/XrayAdmin kms:CreateGrant",
                    c.denied_user
                )),
                "{message}"
            );
        } else {
            assert_eq!(x["status"], "pass", "{x}");
            assert_eq!(x["confidence"], "high", "{x}");
        }
    }
    // The key's own findings are reported once, under its owner.
    let rotation = rule_results(&results, "kms-rotation-disabled");
    assert_eq!(rotation.len(), 1, "{rotation:#?}");
    assert_eq!(rotation[0]["account"], c.owner.as_str());
    assert_eq!(rotation[0]["status"], "pass");
}

#[test]
fn a_key_whose_owner_is_not_in_the_scan_is_read_across_accounts_and_says_what_is_missing() {
    let c = central_key();
    let users: Vec<&str> = c.users.iter().map(String::as_str).collect();
    let mut first: Option<Vec<Value>> = None;
    for concurrency in [1, 8] {
        let r = c.audit(&users, concurrency);
        assert_eq!(r.code, 3, "the key policy cannot be read: {}", r.stderr);
        let results = results_of(&r.stdout);
        match &first {
            None => first = Some(results),
            Some(expected) => assert_eq!(&results, expected, "--concurrency {concurrency}"),
        }
    }
    let results = first.expect("results");
    assert!(
        results.iter().all(|x| x["account"] != c.owner.as_str()),
        "nothing is reported for an account outside the scan"
    );
    for user in &c.users {
        let mine = |rule: &str| {
            results
                .iter()
                .find(|x| x["rule"] == rule && x["account"] == user.as_str())
                .unwrap_or_else(|| panic!("no {rule} for {user}"))
        };
        // DescribeKey and GetKeyRotationStatus work with the key ARN from another account.
        assert_eq!(mine("xray-key-unusable")["status"], "pass");
        assert_eq!(mine("kms-rotation-disabled")["status"], "pass");
        // GetKeyPolicy does not: the rules that need the policy say which account to add.
        for rule in [
            "kms-key-policy-xray-access",
            "kms-key-policy-public",
            "kms-key-policy-unapproved-cross-account",
        ] {
            let x = mine(rule);
            assert_eq!(x["status"], "error", "{x}");
            let message = x["message"].as_str().expect("message");
            assert!(
                message.contains(&c.owner) && message.contains("in the scan"),
                "{message}"
            );
        }
    }
}

/// The management account's own key in [`REGION`], with KMS's default key policy (root
/// delegation), used by X-Ray there. XrayAdmin may configure it; TraceReader has no IAM policy.
fn root_delegated_key() -> (Emulator, String) {
    let emu = Emulator::seeded();
    let key_file = emu.dir.path().join("key-arn");
    emu.python(&format!(
        r#"{prelude}
kms = session("{MANAGEMENT}").client("kms")
arn = kms.create_key(Description="root-delegated X-Ray key")["KeyMetadata"]["Arn"]
kms.enable_key_rotation(KeyId=arn)
allow("{MANAGEMENT}", "XrayAdmin", ["kms:CreateGrant", "kms:DescribeKey"], arn)
session("{MANAGEMENT}").client("xray").put_encryption_config(Type="KMS", KeyId=arn)
open({key_file:?}, "w").write(arn)
"#,
        prelude = python_prelude(),
    ));
    let arn = std::fs::read_to_string(&key_file).expect("key arn");
    (emu, arn)
}

fn audit_with(emu: &Emulator, trace_readers: &[&str]) -> Value {
    let policy = emu.dir.path().join("access.toml");
    std::fs::write(
        &policy,
        format!(
            "[access]\nxray_admins = [\"arn:aws:iam::{{account}}:role/XrayAdmin\"]\n\
             trace_readers = {trace_readers:?}\n"
        ),
    )
    .expect("policy file");
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--profile", "xray-cmk-demo", "--format", "json"])
        .args(["--regions", REGION, "--accounts", MANAGEMENT, "--policy"])
        .arg(&policy));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let results = results_of(&r.stdout);
    let access = rule_results(&results, "kms-key-policy-xray-access");
    assert_eq!(access.len(), 1, "{access:#?}");
    access[0].clone()
}

#[test]
fn root_delegation_is_decided_by_the_iam_policy_simulator() {
    let (emu, arn) = root_delegated_key();
    let x = audit_with(&emu, &["arn:aws:iam::{account}:role/TraceReader"]);
    assert_eq!(x["key"], arn.as_str());
    assert_eq!(
        (&x["status"], &x["confidence"]),
        (&"fail".into(), &"high".into()),
        "{x}"
    );
    let message = x["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "arn:aws:iam::{MANAGEMENT}:role/TraceReader kms:Decrypt in {REGION}"
        )) && message.contains("IAM policy simulator"),
        "{message}"
    );
    assert!(!message.contains("XrayAdmin"), "XrayAdmin may: {message}");

    // A principal that does not exist is a failure that says so.
    let x = audit_with(&emu, &["arn:aws:iam::{account}:role/NoSuchReader"]);
    assert_eq!(x["status"], "fail", "{x}");
    let message = x["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("arn:aws:iam::{MANAGEMENT}:role/NoSuchReader"))
            && message.contains("does not exist"),
        "{message}"
    );
}

#[test]
fn a_reader_of_another_account_named_by_the_key_policy_is_decided_by_its_own_iam() {
    // The management account's key names the security account's reader directly. Across
    // accounts KMS needs the reader's own IAM policies to allow kms:Decrypt too.
    let emu = Emulator::seeded();
    let security = member_id(&emu.seed(), "security");
    let key_file = emu.dir.path().join("key-arn");
    emu.python(&format!(
        r#"{prelude}
role = lambda account, name: f"arn:aws:iam::{{account}}:role/{{name}}"
policy = {{"Version": "2012-10-17", "Statement": [
    {{"Sid": "Root", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{MANAGEMENT}:root"}},
     "Action": "kms:*", "Resource": "*"}},
    {{"Sid": "Configure", "Effect": "Allow", "Principal": {{"AWS": role("{MANAGEMENT}", "XrayAdmin")}},
     "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": "*"}},
    {{"Sid": "Readers", "Effect": "Allow",
     "Principal": {{"AWS": [role("{MANAGEMENT}", "TraceReader"), role("{security}", "SecurityAudit")]}},
     "Action": "kms:Decrypt", "Resource": "*"}}]}}
kms = session("{MANAGEMENT}").client("kms")
arn = kms.create_key(Policy=json.dumps(policy), Description="X-Ray key read from the security account")["KeyMetadata"]["Arn"]
kms.enable_key_rotation(KeyId=arn)
session("{MANAGEMENT}").client("xray").put_encryption_config(Type="KMS", KeyId=arn)
open({key_file:?}, "w").write(arn)
"#,
        prelude = python_prelude(),
    ));
    let arn = std::fs::read_to_string(&key_file).expect("key arn");
    let policy = emu.dir.path().join("cross.toml");
    std::fs::write(
        &policy,
        format!(
            "[access]\nxray_admins = [\"arn:aws:iam::{{account}}:role/XrayAdmin\"]\n\
             trace_readers = [\"arn:aws:iam::{{account}}:role/TraceReader\"]\n\
             cross_account_readers = [\"arn:aws:iam::{security}:role/SecurityAudit\"]\n\
             trusted_accounts = [\"{security}\"]\n"
        ),
    )
    .expect("policy file");
    let access = || {
        let r = run(emu
            .xray_cmk()
            .args(["audit", "--profile", "xray-cmk-demo", "--format", "json"])
            .args(["--regions", REGION, "--accounts", MANAGEMENT])
            .args(["--rules", "kms-key-policy-xray-access", "--policy"])
            .arg(&policy));
        let results = results_of(&r.stdout);
        let found = rule_results(&results, "kms-key-policy-xray-access");
        assert_eq!(found.len(), 1, "{}\n{found:#?}", r.stderr);
        assert_eq!(found[0]["key"], arn.as_str());
        (r.code, found[0].clone())
    };
    let reader = format!("arn:aws:iam::{security}:role/SecurityAudit");

    // The seeded reader's IAM policies allow it: the simulator, asked in the security account,
    // decides.
    let (code, x) = access();
    assert_eq!((code, &x["status"]), (0, &"pass".into()), "{x}");
    let message = x["message"].as_str().expect("message");
    assert!(
        message.contains("decided by the IAM policy simulator") && message.contains(&reader),
        "{message}"
    );

    // Without them, the key policy's Allow is not enough.
    emu.python(&format!(
        r#"{prelude}
session("{security}").client("iam").delete_role_policy(RoleName="SecurityAudit",
    PolicyName="ReadOrganizationTraces")
"#,
        prelude = python_prelude(),
    ));
    let (code, x) = access();
    assert_eq!((code, &x["status"]), (1, &"fail".into()), "{x}");
    let message = x["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "{reader} kms:Decrypt in {REGION}: not allowed by the IAM policies of {security}"
        )),
        "{message}"
    );
}
