//! `xray-aws-managed-key`: X-Ray uses the AWS managed key `aws/xray`, decided from `KeyManager`.

use super::{described_key, Described};
use crate::finding::{Finding, Severity};
use crate::model::{KeyManager, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct XrayAwsManagedKey;

/// This rule's id.
pub const ID: RuleId = RuleId::new("xray-aws-managed-key");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "X-Ray uses an AWS managed KMS key (aws/xray) instead of a customer managed key",
    severity: Severity::High,
    since: "0.1.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata],
};

const DOCS: &str = r#"# xray-aws-managed-key

## What it does
For a `KMS` configuration, describes the key (`kms:DescribeKey`) and fails when its `KeyManager` is
`AWS`. The decision comes from `DescribeKey`, never from the alias text: a configuration that names a
key ARN can still point at `aws/xray`, and an alias containing `aws` can be a customer key. When the
key cannot be described, the result is `error`.

## Why is this bad?
The AWS managed key `aws/xray` is better than nothing, but its key policy is written by AWS and cannot
be changed: you cannot restrict who decrypts traces, rotate on your own schedule, share it across
accounts, or disable it in an incident to make leaked trace data unreadable.

## How to fix
Create a customer managed key (symmetric, `ENCRYPT_DECRYPT`, rotation on, a key policy granting X-Ray
`kms:CreateGrant` and `kms:DescribeKey` and trace readers `kms:Decrypt`), then:

    aws xray put-encryption-config --type KMS --key-id arn:aws:kms:REGION:ACCOUNT:key/KEY_ID

## Example
    $ aws kms describe-key --key-id alias/aws/xray --query KeyMetadata.KeyManager
    "AWS"          # fails
    "CUSTOMER"     # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
- https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html
"#;

impl Rule for XrayAwsManagedKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let inventory = cx.inventory;
        let (b, key) = match described_key(&META, target, inventory, "manager") {
            Described::Judge(b, key) => (b, key),
            Described::Decided(finding) => return finding,
        };
        Some(match &key.key_manager {
            Some(KeyManager::Aws) => b.fail(
                "X-Ray uses an AWS managed key: its policy cannot be restricted and it cannot be disabled",
            ),
            Some(KeyManager::Customer) => b.pass("X-Ray uses a customer managed key"),
            Some(KeyManager::Other(m)) => b.error(format!("the key has an unknown KeyManager `{m}`")),
            None => b.error("DescribeKey did not report a KeyManager"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observed;
    use crate::rules::test_support::*;
    use crate::Status;

    #[test]
    fn aws_managed_fails() {
        let inv = with_key(|k| k.key_manager = Some(KeyManager::Aws));
        assert_eq!(
            run(&XrayAwsManagedKey, &inv).map(|f| f.status),
            Some(Status::Fail)
        );
    }

    #[test]
    fn customer_managed_passes() {
        let f = run(&XrayAwsManagedKey, &with_key(|_| {})).expect("finding");
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.key.as_deref(), Some(KEY_ARN));
    }

    #[test]
    fn decided_by_key_manager_not_alias_text() {
        // A customer key whose description and id mention aws/xray is still a customer key.
        let inv = with_key(|k| {
            k.description = Some("alias/aws/xray lookalike".into());
            k.key_id = "alias/aws/xray".into();
        });
        assert_eq!(
            run(&XrayAwsManagedKey, &inv).map(|f| f.status),
            Some(Status::Pass)
        );
    }

    #[test]
    fn missing_key_manager_or_unreadable_key_is_error() {
        let inv = with_key(|k| k.key_manager = None);
        assert_eq!(
            run(&XrayAwsManagedKey, &inv).map(|f| f.status),
            Some(Status::Error)
        );
        let inv = kms_config(Observed::Unknown(denied("kms:DescribeKey")));
        assert_eq!(
            run(&XrayAwsManagedKey, &inv).map(|f| f.status),
            Some(Status::Error)
        );
    }

    #[test]
    fn not_applicable_to_default_encryption() {
        assert_eq!(run(&XrayAwsManagedKey, &none_config()), None);
    }
}
