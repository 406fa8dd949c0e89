//! `guard-config-rule-missing`: AWS Config does not record and judge X-Ray's encryption
//! configuration in the account and region.

use super::{builder, guardrail_of};
use crate::finding::{Finding, Severity};
use crate::model::{ConfigRecorder, ConfigRule, Observed, RecordingScope, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct GuardConfigRuleMissing;

/// The resource of the result: the region's AWS Config setup.
const RESOURCE: &str = "aws-config";

/// The resource type AWS Config records X-Ray's encryption configuration as.
pub(crate) const XRAY_RESOURCE_TYPE: &str = "AWS::XRay::EncryptionConfig";

/// This rule's id.
pub const ID: RuleId = RuleId::new("guard-config-rule-missing");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary:
        "AWS Config does not record X-Ray's encryption configuration, or no Config rule judges it",
    severity: Severity::Medium,
    since: "0.5.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::Guardrail],
};

const DOCS: &str = r#"# guard-config-rule-missing

## What it does
Reads AWS Config's configuration recorders (`config:DescribeConfigurationRecorders`,
`config:DescribeConfigurationRecorderStatus`) and rules (`config:DescribeConfigRules`) in each
account and region, and fails unless both:
- a customer managed recorder (not a service-linked one) is **recording** and records
  `AWS::XRay::EncryptionConfig` (`allSupported`, the
  `ALL_SUPPORTED_RESOURCE_TYPES` strategy, the type in `resourceTypes`, or an exclusion strategy
  that does not exclude it);
- an `ACTIVE` Config rule has `AWS::XRay::EncryptionConfig` in its scope's
  `ComplianceResourceTypes` (a scope narrowed to a tag or to one resource id does not count: X-Ray's
  configuration has no tags, and its id is not chosen by you).

`xray-cmk guard generate` writes such a rule, `xray-cmk-encryption`. If any of the three reads
fails (access denied, throttled past the retries), the result is `error`: unknown is never a pass.

## Why is this bad?
Without a recorder, Config never sees X-Ray's encryption change; without a rule, nothing judges the
change. Either way a switch back to default encryption or to `aws/xray` goes unnoticed until the
next audit.

## How to fix
Deploy the guardrail (`xray-cmk guard generate`, then the StackSet it writes), and make sure a
recorder records the type:

    aws configservice put-configuration-recorder --configuration-recorder \
      name=default,roleARN=arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig \
      --recording-group allSupported=true
    aws configservice start-configuration-recorder --configuration-recorder-name default

## Example
    recorder default recording, allSupported; rule xray-cmk-encryption scope AWS::XRay::EncryptionConfig   # passes
    recorder default stopped                                                                               # fails
    recorder records only AWS::S3::Bucket                                                                  # fails
    no Config rule scoped to AWS::XRay::EncryptionConfig                                                   # fails

## References
- https://docs.aws.amazon.com/config/latest/developerguide/resource-config-reference.html
- https://docs.aws.amazon.com/config/latest/developerguide/select-resources.html
- https://docs.aws.amazon.com/config/latest/developerguide/evaluate-config_develop-rules_cfn-guard.html
- https://docs.aws.amazon.com/config/latest/APIReference/API_Scope.html
"#;

/// Whether the recorder's recording group takes in X-Ray's encryption configuration.
fn records_xray(scope: &RecordingScope) -> bool {
    match scope {
        RecordingScope::AllSupported => true,
        RecordingScope::Only(types) => types.iter().any(|t| t == XRAY_RESOURCE_TYPE),
        RecordingScope::AllExcept(types) => !types.iter().any(|t| t == XRAY_RESOURCE_TYPE),
        RecordingScope::Other(_) => false,
    }
}

fn recorder_problem(r: &ConfigRecorder) -> Option<String> {
    if let Some(service) = &r.service_principal {
        return Some(format!(
            "recorder {} is linked to {service}, which alone uses what it records",
            r.name
        ));
    }
    if !records_xray(&r.scope) {
        return Some(match &r.scope {
            RecordingScope::Other(s) => format!(
                "recorder {} uses the recording strategy `{s}`, which this version does not know",
                r.name
            ),
            _ => format!("recorder {} does not record {XRAY_RESOURCE_TYPE}", r.name),
        });
    }
    match r.recording {
        Some(true) => None,
        Some(false) => Some(format!("recorder {} is stopped", r.name)),
        None => Some(format!("recorder {} has no status", r.name)),
    }
}

/// Whether the rule judges X-Ray's encryption configuration on every change.
fn judges_xray(rule: &ConfigRule) -> bool {
    rule.state.as_deref() == Some("ACTIVE")
        && rule.resource_types.iter().any(|t| t == XRAY_RESOURCE_TYPE)
        && rule.tag_key.is_none()
        && rule.resource_id.is_none()
}

impl Rule for GuardConfigRuleMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let guard = match guardrail_of(&META, target, cx.inventory, RESOURCE)? {
            Ok(g) => g,
            Err(f) => return Some(f),
        };
        let b = builder(&META, target).resource(RESOURCE);
        let (recorders, rules) = match (&guard.recorders, &guard.config_rules) {
            (Observed::Known(rec), Observed::Known(rules)) => (rec, rules),
            (Observed::Unknown(err), _) | (_, Observed::Unknown(err)) => {
                return Some(b.error(format!(
                    "whether AWS Config records and judges X-Ray's encryption is unknown: {err}"
                )))
            }
        };
        let recording = recorders.iter().find(|r| recorder_problem(r).is_none());
        let judging = rules.iter().find(|r| judges_xray(r));
        Some(match (recording, judging) {
            (Some(rec), Some(rule)) => b.pass(format!(
                "recorder {} records {XRAY_RESOURCE_TYPE} and Config rule {}{} judges it",
                rec.name,
                rule.name,
                rule.owner
                    .as_deref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default()
            )),
            (recording, judging) => {
                let mut why = Vec::new();
                if recording.is_none() {
                    if recorders.is_empty() {
                        why.push("there is no configuration recorder".to_owned());
                    } else {
                        why.extend(recorders.iter().filter_map(recorder_problem));
                    }
                }
                if judging.is_none() {
                    why.push(format!(
                        "no ACTIVE Config rule has {XRAY_RESOURCE_TYPE} in its scope"
                    ));
                }
                b.fail(format!(
                    "AWS Config would not catch X-Ray's encryption drifting: {}",
                    why.join("; ")
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Guardrail, Inventory};
    use crate::rules::test_support::*;
    use crate::Status;

    pub(crate) fn recorder(scope: RecordingScope, recording: Option<bool>) -> ConfigRecorder {
        ConfigRecorder {
            name: "default".into(),
            scope,
            recording,
            service_principal: None,
        }
    }

    pub(crate) fn xray_rule() -> ConfigRule {
        ConfigRule {
            name: "xray-cmk-encryption".into(),
            state: Some("ACTIVE".into()),
            owner: Some("CUSTOM_POLICY".into()),
            resource_types: vec![XRAY_RESOURCE_TYPE.into()],
            resource_id: None,
            tag_key: None,
        }
    }

    fn with(
        recorders: Observed<Vec<ConfigRecorder>>,
        rules: Observed<Vec<ConfigRule>>,
    ) -> Inventory {
        let mut inv = none_config();
        inv.guardrails.insert(
            (ACCOUNT.into(), REGION.into()),
            Guardrail {
                recorders,
                config_rules: rules,
                event_rules: Observed::Known(Vec::new()),
            },
        );
        inv
    }

    fn status(inv: &Inventory) -> (Status, String) {
        let f = run(&GuardConfigRuleMissing, inv).expect("a result");
        (f.status, f.message)
    }

    #[test]
    fn a_recording_recorder_and_a_scoped_rule_pass() {
        let all = with(
            Observed::Known(vec![recorder(RecordingScope::AllSupported, Some(true))]),
            Observed::Known(vec![xray_rule()]),
        );
        let (s, m) = status(&all);
        assert_eq!(s, Status::Pass, "{m}");
        assert!(m.contains("xray-cmk-encryption (CUSTOM_POLICY)"), "{m}");
        for scope in [
            RecordingScope::Only(vec!["AWS::S3::Bucket".into(), XRAY_RESOURCE_TYPE.into()]),
            RecordingScope::AllExcept(vec!["AWS::S3::Bucket".into()]),
        ] {
            let inv = with(
                Observed::Known(vec![recorder(scope, Some(true))]),
                Observed::Known(vec![xray_rule()]),
            );
            assert_eq!(status(&inv).0, Status::Pass);
        }
    }

    #[test]
    fn each_missing_part_fails_and_says_which() {
        let cases: Vec<(Vec<ConfigRecorder>, Vec<ConfigRule>, &str)> = vec![
            (
                vec![],
                vec![xray_rule()],
                "there is no configuration recorder",
            ),
            (
                vec![recorder(RecordingScope::AllSupported, Some(false))],
                vec![xray_rule()],
                "recorder default is stopped",
            ),
            (
                vec![recorder(RecordingScope::AllSupported, None)],
                vec![xray_rule()],
                "has no status",
            ),
            (
                vec![recorder(
                    RecordingScope::Only(vec!["AWS::S3::Bucket".into()]),
                    Some(true),
                )],
                vec![xray_rule()],
                "does not record AWS::XRay::EncryptionConfig",
            ),
            (
                vec![recorder(
                    RecordingScope::AllExcept(vec![XRAY_RESOURCE_TYPE.into()]),
                    Some(true),
                )],
                vec![xray_rule()],
                "does not record",
            ),
            (
                vec![recorder(RecordingScope::Other("FUTURE".into()), Some(true))],
                vec![xray_rule()],
                "does not know",
            ),
            (
                vec![recorder(RecordingScope::AllSupported, Some(true))],
                vec![],
                "no ACTIVE Config rule",
            ),
            (
                vec![ConfigRecorder {
                    service_principal: Some("securityhub.amazonaws.com".into()),
                    ..recorder(RecordingScope::AllSupported, Some(true))
                }],
                vec![xray_rule()],
                "is linked to securityhub.amazonaws.com",
            ),
            (
                vec![recorder(RecordingScope::AllSupported, Some(true))],
                vec![ConfigRule {
                    state: Some("DELETING".into()),
                    ..xray_rule()
                }],
                "no ACTIVE Config rule",
            ),
            (
                vec![recorder(RecordingScope::AllSupported, Some(true))],
                vec![ConfigRule {
                    resource_types: vec!["AWS::S3::Bucket".into()],
                    ..xray_rule()
                }],
                "no ACTIVE Config rule",
            ),
            (
                vec![recorder(RecordingScope::AllSupported, Some(true))],
                vec![ConfigRule {
                    tag_key: Some("team".into()),
                    ..xray_rule()
                }],
                "no ACTIVE Config rule",
            ),
        ];
        for (recorders, rules, why) in cases {
            let (s, m) = status(&with(Observed::Known(recorders), Observed::Known(rules)));
            assert_eq!(s, Status::Fail, "{m}");
            assert!(m.contains(why), "{why}: {m}");
        }
    }

    #[test]
    fn an_unreadable_part_is_an_error_never_a_pass() {
        let good_recorders =
            || Observed::Known(vec![recorder(RecordingScope::AllSupported, Some(true))]);
        let good_rules = || Observed::Known(vec![xray_rule()]);
        for inv in [
            with(
                Observed::Unknown(denied("config:DescribeConfigurationRecorders")),
                good_rules(),
            ),
            with(
                good_recorders(),
                Observed::Unknown(denied("config:DescribeConfigRules")),
            ),
        ] {
            let (s, m) = status(&inv);
            assert_eq!(s, Status::Error, "{m}");
            assert!(m.contains("AccessDeniedException"), "{m}");
        }
        // Not collected at all, and an account that could not be scanned.
        assert_eq!(status(&none_config()).0, Status::Error);
        let (s, m) = status(&unreadable_config());
        assert_eq!(s, Status::Error);
        assert!(m.contains("xray:GetEncryptionConfig"), "{m}");
    }

    #[test]
    fn a_terraform_target_is_not_judged() {
        let mut inv = none_config();
        inv.targets[0].origin = crate::Origin::Terraform {
            address: "a".into(),
            location: crate::SourceLocation {
                file: "main.tf".into(),
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 2,
            },
        };
        assert!(run(&GuardConfigRuleMissing, &inv).is_none());
    }
}
