//! `xray-default-encryption`: X-Ray encrypts with an AWS owned key (`Type: NONE`).

use super::builder;
use crate::finding::{Finding, Severity};
use crate::model::{EncryptionType, Observed, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct XrayDefaultEncryption;

/// This rule's id.
pub const ID: RuleId = RuleId::new("xray-default-encryption");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "X-Ray uses default encryption (an AWS owned key) instead of a KMS key",
    severity: Severity::High,
    since: "0.1.0",
    docs: DOCS,
    inputs: &[Input::Encryption],
};

const DOCS: &str = r#"# xray-default-encryption

## What it does
Reads the X-Ray encryption configuration of each account and region (`xray:GetEncryptionConfig`) and
fails when its `Type` is `NONE`, the default: trace data is then encrypted with a key that AWS owns.
A region whose configuration cannot be read gives an `error` result, never a pass.

## Why is this bad?
Traces carry user ids, URLs and payload fragments. With an AWS owned key you cannot restrict who may
decrypt them, rotate the key on your own schedule, see each use in CloudTrail, share access across
accounts on your terms, or disable the key to make leaked trace data unreadable (cryptographic
erasure). PCI DSS (requirement 3.6/3.7) and HIPAA (164.312(a)(2)(iv)) audits ask for that control.

## How to fix
Create a symmetric customer managed key whose key policy lets X-Ray use it, then point X-Ray at it:

    aws xray put-encryption-config --type KMS --key-id alias/xray-traces

`xray-cmk plan` and `xray-cmk apply` do this for you, with a reviewable plan.

## Example
    $ aws xray get-encryption-config
    { "EncryptionConfig": { "Status": "ACTIVE", "Type": "NONE" } }     # fails
    { "EncryptionConfig": { "KeyId": "arn:aws:kms:...:key/...", "Status": "ACTIVE", "Type": "KMS" } }  # passes

## References
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
- https://docs.aws.amazon.com/xray/latest/api/API_PutEncryptionConfig.html
- https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-mgmt
"#;

impl Rule for XrayDefaultEncryption {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, _cx: &Context<'_>) -> Option<Finding> {
        let b = builder(&META, target);
        Some(match &target.encryption {
            Observed::Unknown(err) => b.error(format!("X-Ray encryption config unreadable: {err}")),
            Observed::Known(enc) => match &enc.encryption_type {
                EncryptionType::None => b.fail(
                    "X-Ray uses default encryption (Type NONE): traces are encrypted with an AWS owned key",
                ),
                EncryptionType::Kms => b
                    .key(enc.key_id.as_deref())
                    .pass("X-Ray encrypts with a KMS key"),
                EncryptionType::Other(t) => {
                    b.error(format!("X-Ray reports an encryption type this version does not know: `{t}`"))
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use crate::Status;

    #[test]
    fn none_fails() {
        let f = run(&XrayDefaultEncryption, &none_config()).expect("finding");
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.account, ACCOUNT);
        assert_eq!(f.region, REGION);
    }

    #[test]
    fn kms_passes_with_the_key() {
        let f = run(&XrayDefaultEncryption, &with_key(|_| {})).expect("finding");
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.key.as_deref(), Some(KEY_ARN));
    }

    #[test]
    fn unreadable_is_error() {
        let f = run(&XrayDefaultEncryption, &unreadable_config()).expect("finding");
        assert_eq!(f.status, Status::Error);
        assert_eq!(f.confidence, crate::Confidence::Low);
    }
}
