//! `kms-rotation-period-too-long`: rotation is on, but less often than the policy requires.

use super::customer_key_builder;
use crate::finding::{Finding, Severity};
use crate::model::Observed;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsRotationPeriodTooLong;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-rotation-period-too-long");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The key rotates less often than the policy's maximum period",
    severity: Severity::Medium,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-rotation-period-too-long

## What it does
For a customer managed key with automatic rotation on, compares `RotationPeriodInDays` from
`kms:GetKeyRotationStatus` with `[rotation] max_period_days` of the policy file (default 365) and
fails when the period is longer. A key with rotation off is `kms-rotation-disabled`'s business and
gets no result here; rotation on without a reported period is an `error`.

## Why is this bad?
KMS lets a key rotate as rarely as every 2560 days (seven years). The organization's cryptoperiod,
which PCI DSS 3.6.4 asks it to define, is what auditors check against.

## How to fix
    aws kms enable-key-rotation --key-id "$KEY" --rotation-period-in-days 365

## Example
    # xray-cmk.toml: [rotation] max_period_days = 365
    "RotationPeriodInDays": 730     # fails
    "RotationPeriodInDays": 365     # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html#rotation-period
- https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html
"#;

impl Rule for KmsRotationPeriodTooLong {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key(&self, key: &KeyRef<'_>, cx: &Context<'_>) -> Option<Finding> {
        let b = customer_key_builder(&META, key)?;
        if !super::rotatable(key.key) {
            return None;
        }
        let max = cx.policy.rotation.max_period_days;
        Some(match &key.key.rotation {
            Observed::Unknown(err) => b.error(format!("rotation status unreadable: {err}")),
            Observed::Known(r) if !r.enabled => return None,
            Observed::Known(r) => match r.period_days {
                None => b.error("rotation is on but KMS reported no RotationPeriodInDays"),
                Some(days) if days > max => b.fail(format!(
                    "the key rotates every {days} days; the policy allows at most {max}"
                )),
                Some(days) => b.pass(format!("the key rotates every {days} days (at most {max})")),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Rotation;
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(enabled: bool, period: Option<u32>, max: Option<u32>) -> Option<Status> {
        let inv = with_key(|k| {
            k.rotation = Observed::Known(Rotation {
                enabled,
                period_days: period,
                next_rotation: None,
            })
        });
        let pol = match max {
            Some(m) => policy(&format!("[rotation]\nmax_period_days = {m}\n")),
            None => crate::OrgPolicy::default(),
        };
        run_key(&KmsRotationPeriodTooLong, &inv, &pol).map(|f| f.status)
    }

    #[test]
    fn compares_with_the_policy_maximum() {
        assert_eq!(status(true, Some(365), None), Some(Status::Pass));
        assert_eq!(status(true, Some(366), None), Some(Status::Fail));
        assert_eq!(status(true, Some(730), Some(730)), Some(Status::Pass));
        assert_eq!(status(true, Some(180), Some(90)), Some(Status::Fail));
        assert_eq!(status(true, None, None), Some(Status::Error));
        assert_eq!(
            status(false, None, None),
            None,
            "rotation off is another rule's"
        );
    }
}
