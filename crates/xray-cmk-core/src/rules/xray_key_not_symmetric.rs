//! `xray-key-not-symmetric`: X-Ray is configured with a key that is not a symmetric encryption key.

use super::{described_key, Described};
use crate::finding::{Finding, Severity};
use crate::model::XrayTarget;
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct XrayKeyNotSymmetric;

/// This rule's id.
pub const ID: RuleId = RuleId::new("xray-key-not-symmetric");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The KMS key X-Ray uses is not a symmetric encryption key",
    severity: Severity::Critical,
    since: "0.1.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata],
};

const DOCS: &str = r#"# xray-key-not-symmetric

## What it does
For a `KMS` configuration, describes the key and fails unless its `KeySpec` is `SYMMETRIC_DEFAULT`
and its `KeyUsage` (when reported) is `ENCRYPT_DECRYPT`. The deprecated `CustomerMasterKeySpec` is
used when `KeySpec` is absent; when neither is reported the result is `error`.

## Why is this bad?
X-Ray supports only symmetric encryption KMS keys. Asymmetric keys (RSA, ECC, SM2) and HMAC keys
cannot wrap X-Ray's data keys, so X-Ray cannot store traces with them.

## How to fix
Create a symmetric key and switch X-Ray to it; a key's spec cannot be changed:

    aws kms create-key --key-spec SYMMETRIC_DEFAULT --key-usage ENCRYPT_DECRYPT
    aws xray put-encryption-config --type KMS --key-id <new key ARN>

## Example
    $ aws kms describe-key --key-id "$KEY" --query KeyMetadata.KeySpec
    "RSA_2048"            # fails
    "SYMMETRIC_DEFAULT"   # passes

## References
- https://docs.aws.amazon.com/xray/latest/devguide/xray-console-encryption.html
- https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html
"#;

impl Rule for XrayKeyNotSymmetric {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let inventory = cx.inventory;
        let (b, key) = match described_key(&META, target, inventory, "spec") {
            Described::Judge(b, key) => (b, key),
            Described::Decided(finding) => return finding,
        };
        Some(match (key.key_spec.as_deref(), key.key_usage.as_deref()) {
            (None, _) => b.error("DescribeKey did not report a KeySpec"),
            (Some("SYMMETRIC_DEFAULT"), None | Some("ENCRYPT_DECRYPT")) => {
                b.pass("the key is a symmetric encryption key")
            }
            (Some(spec), usage) => b.fail(format!(
                "the key is {spec}{}: X-Ray needs a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key",
                usage.map(|u| format!(" / {u}")).unwrap_or_default()
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(spec: Option<&str>, usage: Option<&str>) -> Option<Status> {
        let inv = with_key(|k| {
            k.key_spec = spec.map(Into::into);
            k.key_usage = usage.map(Into::into);
        });
        run(&XrayKeyNotSymmetric, &inv).map(|f| f.status)
    }

    #[test]
    fn specs() {
        assert_eq!(
            status(Some("SYMMETRIC_DEFAULT"), Some("ENCRYPT_DECRYPT")),
            Some(Status::Pass)
        );
        assert_eq!(status(Some("SYMMETRIC_DEFAULT"), None), Some(Status::Pass));
        assert_eq!(
            status(Some("RSA_2048"), Some("ENCRYPT_DECRYPT")),
            Some(Status::Fail)
        );
        assert_eq!(
            status(Some("HMAC_256"), Some("GENERATE_VERIFY_MAC")),
            Some(Status::Fail)
        );
        assert_eq!(
            status(Some("ECC_NIST_P256"), Some("SIGN_VERIFY")),
            Some(Status::Fail)
        );
        assert_eq!(status(None, None), Some(Status::Error));
    }

    #[test]
    fn not_applicable_to_default_encryption() {
        assert_eq!(run(&XrayKeyNotSymmetric, &none_config()), None);
    }
}
