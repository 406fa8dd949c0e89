//! `kms-rotation-disabled`: a customer managed key behind X-Ray does not rotate automatically.

use super::customer_key_builder;
use crate::finding::{Finding, Severity};
use crate::model::Observed;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsRotationDisabled;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-rotation-disabled");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "Automatic rotation is off for a customer managed key that X-Ray uses",
    severity: Severity::High,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-rotation-disabled

## What it does
Reads `kms:GetKeyRotationStatus` for each customer managed key in use and fails when
`KeyRotationEnabled` is false. AWS managed keys rotate on AWS's schedule and are not judged here;
nor are asymmetric and HMAC keys, which KMS cannot rotate automatically. On Terraform, it reads
`enable_key_rotation` of every `aws_kms_key` (absent means off, as in the provider).

## Why is this bad?
Without rotation the same key material protects every trace for the key's whole life, so one
exposure of it exposes everything. PCI DSS 3.7.4 asks for cryptoperiods; most auditors expect a
yearly rotation at most. Keys with imported material (`Origin: EXTERNAL`) cannot rotate
automatically: rotate them by hand and record an exemption.

## How to fix
    aws kms enable-key-rotation --key-id "$KEY" --rotation-period-in-days 365

## Example
    $ aws kms get-key-rotation-status --key-id "$KEY"
    { "KeyRotationEnabled": false }                                   # fails
    { "KeyRotationEnabled": true, "RotationPeriodInDays": 365 }       # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
- https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyRotationStatus.html
"#;

impl Rule for KmsRotationDisabled {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key(&self, key: &KeyRef<'_>, _cx: &Context<'_>) -> Option<Finding> {
        let b = customer_key_builder(&META, key)?;
        if !super::rotatable(key.key) {
            return None;
        }
        Some(match &key.key.rotation {
            Observed::Unknown(err) => b.error(format!("rotation status unreadable: {err}")),
            Observed::Known(r) if r.enabled => b.pass(match r.period_days {
                Some(days) => format!("automatic rotation is on, every {days} days"),
                None => "automatic rotation is on".to_owned(),
            }),
            Observed::Known(_) => b.fail("automatic rotation is off"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyManager, Rotation};
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(rotation: Observed<Rotation>) -> Option<Status> {
        let inv = with_key(|k| k.rotation = rotation);
        run_key(&KmsRotationDisabled, &inv, &DEFAULT_POLICY).map(|f| f.status)
    }

    #[test]
    fn asymmetric_keys_are_not_judged() {
        let inv = with_key(|k| {
            k.key_spec = Some("RSA_2048".into());
            k.rotation = Observed::Known(Rotation {
                enabled: false,
                period_days: None,
                next_rotation: None,
            });
        });
        assert_eq!(run_key(&KmsRotationDisabled, &inv, &DEFAULT_POLICY), None);
    }

    #[test]
    fn on_passes_off_fails_unknown_errors() {
        let r = |enabled| {
            Observed::Known(Rotation {
                enabled,
                period_days: Some(365),
                next_rotation: None,
            })
        };
        assert_eq!(status(r(true)), Some(Status::Pass));
        assert_eq!(status(r(false)), Some(Status::Fail));
        assert_eq!(
            status(Observed::Unknown(denied("kms:GetKeyRotationStatus"))),
            Some(Status::Error)
        );
    }

    #[test]
    fn aws_managed_keys_are_not_judged() {
        let inv = with_key(|k| k.key_manager = Some(KeyManager::Aws));
        assert_eq!(run_key(&KmsRotationDisabled, &inv, &DEFAULT_POLICY), None);
    }
}
