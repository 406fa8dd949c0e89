//! The least-privilege key policy remediation gives a new X-Ray CMK, generated from the policy
//! file's access lists. It must pass this project's own key-policy rules: a test holds it to that.

use serde_json::{json, Value};

use crate::policy::OrgPolicy;

/// The `Sid` of the account-root statement every generated policy starts with.
pub const ROOT_SID: &str = "EnableRootAccessForRecovery";

/// The `Sid` of the key administrators' statement.
pub const ADMIN_SID: &str = "KeyAdministrators";

/// Administrative actions: everything a key administrator needs, and nothing that uses the key
/// for data (no Encrypt, Decrypt, GenerateDataKey*, ReEncrypt*, CreateGrant for services).
const ADMIN_ACTIONS: &[&str] = &[
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
];

/// The IAM role behind an STS assumed-role session ARN (key policies name roles, not sessions);
/// any other ARN as it is. A role's path cannot be recovered from a session ARN, so a role with a
/// path must be named in `[access] key_admins` to keep its exact ARN.
pub fn principal_for_policy(caller_arn: &str) -> String {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    if let [arn, partition, "sts", _, account, resource] = parts.as_slice() {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or_default();
            return format!("{arn}:{partition}:iam::{account}:role/{role}");
        }
    }
    caller_arn.to_owned()
}

fn statement(sid: &str, principals: &[String], actions: Value, condition: Option<Value>) -> Value {
    let mut s = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "AWS": principals },
        "Action": actions,
        "Resource": "*",
    });
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

/// The key policy for a new X-Ray CMK in `account`/`region`:
/// - the account root, for recovery (KMS's own safeguard against an unmanageable key);
/// - the policy's key administrators plus the caller creating the key, so the caller never locks
///   itself out (KMS lockout safety);
/// - X-Ray's configurers: `kms:CreateGrant` for AWS resources via X-Ray in this region, and
///   `kms:DescribeKey`;
/// - trace readers and cross-account readers: `kms:Decrypt` via X-Ray in this region.
///
/// Statements whose principal list is empty are left out.
pub fn generate(policy: &OrgPolicy, account: &str, region: &str, caller_arn: &str) -> Value {
    let partition = caller_arn.split(':').nth(1).unwrap_or("aws");
    let via_xray = json!({ "kms:ViaService": format!("xray.{region}.amazonaws.com") });
    let mut admins = policy.key_admins_for(account);
    let caller = principal_for_policy(caller_arn);
    if !admins.contains(&caller) {
        admins.push(caller);
    }
    let configurers = policy.xray_admins_for(account);
    let readers = policy.trace_readers_for(account);
    let cross = policy.access.cross_account_readers.clone();

    let mut statements = vec![
        statement(
            ROOT_SID,
            &[format!("arn:{partition}:iam::{account}:root")],
            json!("kms:*"),
            None,
        ),
        statement(ADMIN_SID, &admins, json!(ADMIN_ACTIONS), None),
    ];
    if !configurers.is_empty() {
        statements.push(statement(
            "XRayConfigureGrant",
            &configurers,
            json!("kms:CreateGrant"),
            Some(json!({
                "Bool": { "kms:GrantIsForAWSResource": "true" },
                "StringEquals": via_xray,
            })),
        ));
        statements.push(statement(
            "XRayConfigureDescribe",
            &configurers,
            json!("kms:DescribeKey"),
            None,
        ));
    }
    if !readers.is_empty() {
        statements.push(statement(
            "TraceReaders",
            &readers,
            json!("kms:Decrypt"),
            Some(json!({ "StringEquals": via_xray })),
        ));
    }
    if !cross.is_empty() {
        statements.push(statement(
            "CrossAccountTraceReaders",
            &cross,
            json!("kms:Decrypt"),
            Some(json!({ "StringEquals": via_xray })),
        ));
    }
    json!({
        "Version": "2012-10-17",
        "Id": "xray-cmk-generated",
        "Statement": statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        EncryptionType, Inventory, KmsKey, Observed, Origin, XrayEncryption, XrayTarget,
    };
    use crate::{Confidence, Status};

    const ACCOUNT: &str = "111122223333";
    const REGION: &str = "eu-west-1";
    const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/PlatformDeploy/xray-cmk";

    const DEMO: &str = r#"
[access]
key_admins = ["arn:aws:iam::{account}:role/KeyAdmin"]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
cross_account_readers = ["arn:aws:iam::444455556666:role/SecurityAudit"]
"#;

    fn policy(text: &str) -> OrgPolicy {
        let known: Vec<&str> = crate::rules::ALL
            .iter()
            .map(|r| r.meta().id.as_str())
            .collect();
        OrgPolicy::parse(text, "test.toml", &known).expect("valid")
    }

    /// Every key rule's verdict on a key carrying the generated policy, used by X-Ray here, judged
    /// on its own (as `plan` judges it).
    fn verdicts(org: &OrgPolicy) -> Vec<(&'static str, Status, Confidence)> {
        verdicts_in(org, crate::model::IamScope::KeyPolicyOnly)
    }

    /// [`verdicts`], with IAM's part of X-Ray's access judged as `scope` says.
    fn verdicts_in(
        org: &OrgPolicy,
        scope: crate::model::IamScope,
    ) -> Vec<(&'static str, Status, Confidence)> {
        let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/generated");
        let doc = generate(org, ACCOUNT, REGION, CALLER);
        let key = KmsKey {
            arn: Some(arn.clone()),
            key_manager: Some(crate::KeyManager::Customer),
            policy: Observed::Known(doc.to_string()),
            ..KmsKey::described("generated")
        };
        let inventory = Inventory {
            targets: vec![XrayTarget {
                account: ACCOUNT.into(),
                region: REGION.into(),
                origin: Origin::Live,
                encryption: Observed::Known(XrayEncryption {
                    encryption_type: EncryptionType::Kms,
                    key_id: Some(arn.clone()),
                    status: Some("ACTIVE".into()),
                }),
                trails: None,
                segment_destination: None,
            }],
            keys: [(arn, Observed::Known(key))].into_iter().collect(),
            iam_scope: scope,
            ..Inventory::default()
        };
        let rules = crate::select(&["kms-key-policy-*".into()], &[]).expect("rules");
        crate::evaluate(&crate::Context {
            inventory: &inventory,
            policy: org,
            today: crate::Date::new(2026, 11, 28).expect("date"),
            rules: &rules,
        })
        .into_iter()
        .map(|f| (f.rule.as_str(), f.status, f.confidence))
        .collect()
    }

    #[test]
    fn the_generated_policy_passes_every_key_policy_rule() {
        let v = verdicts(&policy(DEMO));
        assert_eq!(v.len(), 4, "{v:?}");
        for (rule, status, confidence) in v {
            assert_eq!(status, Status::Pass, "{rule}");
            assert_eq!(
                confidence,
                Confidence::High,
                "{rule}: explicit grants, not IAM delegation"
            );
        }
    }

    #[test]
    fn with_no_access_lists_it_still_passes_and_an_audit_says_iam_must_decide() {
        for (rule, status, _) in verdicts(&OrgPolicy::default()) {
            assert_eq!(status, Status::Pass, "{rule}");
        }
        // Deployed, the key leaves X-Ray's access to IAM and nobody is named to simulate: the
        // audit cannot call that a pass.
        for (rule, status, _) in verdicts_in(&OrgPolicy::default(), crate::model::IamScope::Judged)
        {
            let want = if rule == "kms-key-policy-xray-access" {
                Status::Error
            } else {
                Status::Pass
            };
            assert_eq!(status, want, "{rule}");
        }
    }

    #[test]
    fn the_caller_keeps_administering_the_key() {
        let doc = generate(&policy(DEMO), ACCOUNT, REGION, CALLER);
        let admins = &doc["Statement"][1];
        assert_eq!(admins["Sid"], "KeyAdministrators");
        let names: Vec<&str> = admins["Principal"]["AWS"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "arn:aws:iam::111122223333:role/KeyAdmin",
                "arn:aws:iam::111122223333:role/PlatformDeploy"
            ]
        );
        let parsed = crate::key_policy::PolicyDocument::parse(&doc.to_string()).expect("valid");
        let cx = crate::key_policy::Context::new();
        let put = crate::key_policy::Request::new(
            "arn:aws:sts::111122223333:assumed-role/PlatformDeploy/other-session",
            "kms:PutKeyPolicy",
            &cx,
        );
        assert!(matches!(
            parsed.evaluate(&put),
            crate::key_policy::Decision::Allowed { .. }
        ));
    }

    #[test]
    fn session_arns_become_role_arns() {
        assert_eq!(
            principal_for_policy(CALLER),
            "arn:aws:iam::111122223333:role/PlatformDeploy"
        );
        let user = "arn:aws:iam::111122223333:user/alice";
        assert_eq!(principal_for_policy(user), user);
        assert_eq!(
            principal_for_policy("arn:aws-us-gov:sts::111122223333:assumed-role/R/s"),
            "arn:aws-us-gov:iam::111122223333:role/R"
        );
    }
}
