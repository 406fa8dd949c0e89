//! `kms-key-policy-xray-access`: the key policy cannot be shown to let X-Ray's principals use it.

use std::collections::BTreeSet;

use super::{customer_key_builder, key_policy};
use crate::finding::{Confidence, Finding, Severity};
use crate::key_policy::{Context as RequestContext, Decision, PolicyDocument, Request};
use crate::rule::{Context, Input, KeyRef, Rule, RuleMeta};

pub struct KmsKeyPolicyXrayAccess;

static META: RuleMeta = RuleMeta {
    id: "kms-key-policy-xray-access",
    summary: "The key policy does not let X-Ray's configurers (CreateGrant, DescribeKey) or trace readers (Decrypt) use the key",
    severity: Severity::High,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-key-policy-xray-access

## What it does
Per the AWS page "Data protection in AWS X-Ray", principals that configure X-Ray encryption need
`kms:CreateGrant` and `kms:DescribeKey` on the key, and principals that read traces need
`kms:Decrypt`. For every account and region whose X-Ray configuration uses the key, this rule
evaluates the key policy (a model of IAM policy evaluation: Deny first, principals, wildcard actions,
conditions) for:
- each `[access] xray_admins` principal: `kms:CreateGrant` with `kms:GrantIsForAWSResource=true`
  and `kms:ViaService=xray.REGION.amazonaws.com`, and `kms:DescribeKey`;
- each `trace_readers` and `cross_account_readers` principal: `kms:Decrypt` via X-Ray.

When the policy file names nobody, it asks the same for "any principal of the account".
It fails when a request is denied or not allowed. When every request is allowed only because the
key policy delegates to the account root, the result is a **pass with low confidence**: the
principals' IAM policies decide, and this tool does not read them. AWS managed keys are not judged.

## Why is this bad?
If X-Ray cannot create grants on the key, `PutEncryptionConfig` fails or X-Ray drops traces with
KMS access-denied errors; if readers cannot decrypt, the console and APIs show no trace data.
Both look like an outage of tracing, usually found during an incident.

## How to fix
Add statements like these (the generated policy of `xray-cmk plan` has them):

    {"Sid":"XRayConfigure","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::ACCOUNT:role/XrayAdmin"},
     "Action":["kms:CreateGrant","kms:DescribeKey"],"Resource":"*"}
    {"Sid":"TraceReaders","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::ACCOUNT:role/TraceReader"},
     "Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEquals":{"kms:ViaService":"xray.REGION.amazonaws.com"}}}

## Example
A policy with key administrators and trace readers but no statement for `XrayAdmin` and no root
delegation fails: `XrayAdmin cannot kms:CreateGrant`.

## References
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
- https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"#;

/// Stands for "some principal of the account that the key policy does not name".
fn any_principal(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/xray-cmk-any-principal")
}

fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// One question to the key policy: may `principal` call `action` as X-Ray would in `region`?
fn ask(doc: &PolicyDocument, principal: &str, action: &str, region: &str) -> Decision {
    let account = account_of(principal);
    let mut cx = RequestContext::new()
        .with("kms:ViaService", format!("xray.{region}.amazonaws.com"))
        .with("kms:CallerAccount", account)
        .with("aws:PrincipalAccount", account)
        .with("aws:PrincipalArn", principal);
    if action == "kms:CreateGrant" {
        cx = cx.with_bool("kms:GrantIsForAWSResource", true);
    }
    doc.evaluate(&Request::new(principal, action, &cx))
}

/// Who must be able to do what, for X-Ray in `account`/`region`.
fn questions(cx: &Context<'_>, account: &str) -> Vec<(String, &'static str)> {
    let policy = cx.policy;
    let mut admins = policy.xray_admins_for(account);
    if admins.is_empty() {
        admins.push(any_principal(account));
    }
    let mut readers = policy.trace_readers_for(account);
    readers.extend(policy.access.cross_account_readers.iter().cloned());
    if readers.is_empty() {
        readers.push(any_principal(account));
    }
    let mut q = Vec::new();
    for a in admins {
        q.push((a.clone(), "kms:CreateGrant"));
        q.push((a, "kms:DescribeKey"));
    }
    q.extend(readers.into_iter().map(|r| (r, "kms:Decrypt")));
    q
}

fn who(principal: &str) -> String {
    match principal.strip_suffix(":role/xray-cmk-any-principal") {
        Some(prefix) => format!("any principal of {}", account_of(prefix)),
        None => principal.to_owned(),
    }
}

impl Rule for KmsKeyPolicyXrayAccess {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key(&self, key: &KeyRef<'_>, cx: &Context<'_>) -> Option<Finding> {
        let b = customer_key_builder(&META, key)?;
        let uses: BTreeSet<(&str, &str)> = cx
            .inventory
            .targets_using(key.id)
            .map(|t| (t.account.as_str(), t.region.as_str()))
            .collect();
        if uses.is_empty() {
            return None;
        }
        let doc = match key_policy(key.key) {
            Ok(doc) => doc,
            Err(message) => return Some(b.error(message)),
        };
        let (mut denied, mut delegated, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
        for (account, region) in uses {
            for (principal, action) in questions(cx, account) {
                let line = format!("{} {action} in {region}", who(&principal));
                match ask(&doc, &principal, action, region) {
                    Decision::Allowed { .. } => {}
                    Decision::DelegatedToIam { .. } => delegated.push(line),
                    d @ (Decision::ExplicitDeny { .. } | Decision::NotAllowed) => {
                        denied.push(format!("{line}: {d}"))
                    }
                    Decision::Undetermined { reason } => unknown.push(format!("{line}: {reason}")),
                }
            }
        }
        dedup(&mut denied);
        dedup(&mut delegated);
        dedup(&mut unknown);
        Some(if !denied.is_empty() {
            b.fail(format!("X-Ray cannot use the key: {}", denied.join("; ")))
        } else if !unknown.is_empty() {
            b.error(format!("cannot decide: {}", unknown.join("; ")))
        } else if !delegated.is_empty() {
            b.confidence(Confidence::Low).pass(format!(
                "IAM decides: the key policy delegates to the account root for {}",
                delegated.join("; ")
            ))
        } else {
            b.pass("the key policy lets X-Ray's configurers and trace readers use the key")
        })
    }
}

fn dedup(v: &mut Vec<String>) {
    v.sort();
    v.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observed;
    use crate::rules::test_support::*;
    use crate::Status;

    const ACCESS: &str = r#"[access]
xray_admins = ["arn:aws:iam::{account}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{account}:role/TraceReader"]
"#;

    fn finding(policy_json: String, pol: &crate::OrgPolicy) -> crate::Finding {
        let inv = with_key(|k| k.policy = Observed::Known(policy_json));
        run_key(&KmsKeyPolicyXrayAccess, &inv, pol).expect("finding")
    }

    fn explicit() -> String {
        format!(
            r#"{{"Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/XrayAdmin"}},"Action":"kms:CreateGrant","Resource":"*","Condition":{{"Bool":{{"kms:GrantIsForAWSResource":"true"}},"StringEquals":{{"kms:ViaService":"xray.{REGION}.amazonaws.com"}}}}}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/XrayAdmin"}},"Action":"kms:DescribeKey","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:ViaService":"xray.{REGION}.amazonaws.com"}}}}}}]}}"#
        )
    }

    #[test]
    fn named_principals_allowed_pass_with_high_confidence() {
        let f = finding(explicit(), &policy(ACCESS));
        assert_eq!(
            (f.status, f.confidence),
            (Status::Pass, Confidence::High),
            "{}",
            f.message
        );
    }

    #[test]
    fn root_delegation_is_a_low_confidence_pass_saying_iam_decides() {
        let default = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
        );
        for pol in [policy(ACCESS), crate::OrgPolicy::default()] {
            let f = finding(default.clone(), &pol);
            assert_eq!((f.status, f.confidence), (Status::Pass, Confidence::Low));
            assert!(f.message.starts_with("IAM decides"), "{}", f.message);
        }
    }

    #[test]
    fn missing_create_grant_fails_and_names_who() {
        let locked = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        );
        let f = finding(locked, &policy(ACCESS));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains(&format!(
                "arn:aws:iam::{ACCOUNT}:role/XrayAdmin kms:CreateGrant"
            )),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_deny_wins() {
        let mut doc: serde_json::Value = serde_json::from_str(&explicit()).expect("json");
        doc["Statement"]
            .as_array_mut()
            .expect("array")
            .push(serde_json::json!({"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}));
        let f = finding(doc.to_string(), &policy(ACCESS));
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("explicitly denied"), "{}", f.message);
    }

    #[test]
    fn not_applicable_when_no_xray_config_uses_the_key() {
        let mut inv = with_key(|_| {});
        inv.targets.clear();
        assert_eq!(
            run_key(&KmsKeyPolicyXrayAccess, &inv, &DEFAULT_POLICY),
            None
        );
    }
}
