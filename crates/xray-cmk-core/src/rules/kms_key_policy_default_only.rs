//! `kms-key-policy-default-only`: the key has only KMS's default key policy.

use super::{customer_key_builder, key_policy};
use crate::finding::{Finding, Severity};
use crate::key_policy::is_default_only;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsKeyPolicyDefaultOnly;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-key-policy-default-only");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The key has only the default root-delegation statement: no custom key policy",
    severity: Severity::Medium,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-key-policy-default-only

## What it does
Fails when the key policy of a customer managed key consists of KMS's default statement alone:
one `Allow` of `kms:*` to the key's own account root, with no condition.

## Why is this bad?
The default statement hands every decision to IAM: any principal of the account whose IAM policy
allows `kms:*` on `*` (administrators, broad automation roles) can decrypt traces, disable or
schedule the deletion of the key. The key policy, which is the one place KMS lets you scope access
to this key, says nothing about who should use it.

## How to fix
Add statements naming the key administrators, the principals that configure X-Ray
(`kms:CreateGrant`, `kms:DescribeKey`) and the trace readers (`kms:Decrypt` with `kms:ViaService`),
as `xray-cmk plan` generates; keep the root statement for recovery.

## Example
    {"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",
     "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}   # fails

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
- https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
"#;

impl Rule for KmsKeyPolicyDefaultOnly {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key(&self, key: &KeyRef<'_>, _cx: &Context<'_>) -> Option<Finding> {
        let b = customer_key_builder(&META, key)?;
        Some(match key_policy(key.key) {
            Err(why) => b.error(why.to_string()),
            Ok(doc) if is_default_only(&doc, key.account) => b.fail(
                "the key policy is KMS's default: it only delegates to the account's IAM policies",
            ),
            Ok(doc) => b.pass(format!(
                "custom key policy with {} statements",
                doc.statements.len()
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observed;
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(policy_json: String) -> Option<Status> {
        let inv = with_key(|k| k.policy = Observed::Known(policy_json));
        run_key(&KmsKeyPolicyDefaultOnly, &inv, &DEFAULT_POLICY).map(|f| f.status)
    }

    #[test]
    fn default_fails_custom_passes() {
        let default = format!(
            r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
        );
        assert_eq!(status(default), Some(Status::Fail));
        let custom = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        );
        assert_eq!(status(custom), Some(Status::Pass));
    }
}
