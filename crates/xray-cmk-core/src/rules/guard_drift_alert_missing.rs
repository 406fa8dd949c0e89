//! `guard-drift-alert-missing`: no enabled EventBridge rule with a target catches a change of
//! X-Ray's encryption configuration.

use super::{builder, guardrail_of};
use crate::event_pattern::{matches, put_encryption_config_events};
use crate::finding::{Finding, Severity};
use crate::model::{EventRule, Observed, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct GuardDriftAlertMissing;

/// The resource of the result: the region's default event bus.
const RESOURCE: &str = "eventbridge-default-bus";

/// This rule's id.
pub const ID: RuleId = RuleId::new("guard-drift-alert-missing");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "No enabled EventBridge rule with a target matches X-Ray's PutEncryptionConfig",
    severity: Severity::Medium,
    since: "0.5.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::Guardrail],
};

const DOCS: &str = r#"# guard-drift-alert-missing

## What it does
Lists the rules of the default event bus in each account and region (`events:ListRules`) and the
targets of each enabled rule with an event pattern (`events:ListTargetsByRule`), and fails unless
one rule is enabled (`ENABLED` or `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`), has at least
one target, and has an event pattern that matches every CloudTrail event of
`xray:PutEncryptionConfig` (source `aws.xray`, detail-type `AWS API Call via CloudTrail`,
`detail.eventSource` `xray.amazonaws.com`, `detail.eventName` `PutEncryptionConfig`): to default
encryption, to `alias/aws/xray` and to a customer managed key. A pattern that catches only some of
them (say only `requestParameters.type` `NONE`) misses a drift to the AWS managed key.

The match is decided by xray-cmk's own evaluator of EventBridge patterns (exact values, arrays as
OR, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`, `anything-but`, `numeric`, `exists`,
`cidr`, `$or`), checked against `events:TestEventPattern`. A pattern it cannot evaluate, or a read
that fails, makes the result `error` unless another rule already passes: unknown is never a pass.

## Why is this bad?
Without an alert, a change of X-Ray's key (by a person, a pipeline or an attacker) is seen only at
the next audit; traces written meanwhile are under the wrong key.

## How to fix
Deploy the guardrail (`xray-cmk guard generate`), whose StackSet holds such a rule sending to an
SNS topic, or add one:

    aws events put-rule --name xray-cmk-put-encryption-config --event-pattern '{"source":["aws.xray"],
      "detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["xray.amazonaws.com"],
      "eventName":["PutEncryptionConfig"]}}'
    aws events put-targets --rule xray-cmk-put-encryption-config --targets Id=sns,Arn="$TOPIC_ARN"

EventBridge sees CloudTrail's management events only in regions where a trail (or the rule's
`ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` state) delivers them; see
`cloudtrail-kms-events-not-logged` for the trails.

## Example
    rule xray-cmk-put-encryption-config ENABLED, pattern above, target an SNS topic   # passes
    the same rule DISABLED, or without a target                                       # fails
    pattern {"source":["aws.xray"],"detail":{"requestParameters":{"type":["NONE"]}}}  # fails

## References
- https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
- https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
- https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
- https://docs.aws.amazon.com/xray/latest/devguide/xray-api-cloudtrail.html
"#;

/// What one rule of the bus is, for the verdict.
enum Verdict {
    Alerts,
    /// It does not look at X-Ray's encryption at all (or has no pattern).
    Unrelated,
    /// It looks at it but does not alert; why.
    Not(String),
    /// Its targets could not be read, or its pattern evaluated.
    Unknown(String),
}

fn enabled(rule: &EventRule) -> bool {
    matches!(
        rule.state.as_deref(),
        Some("ENABLED" | "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
    )
}

fn judge(rule: &EventRule, events: &[serde_json::Value]) -> Verdict {
    let Some(pattern) = rule.event_pattern.as_deref() else {
        return Verdict::Unrelated;
    };
    let mut caught = 0;
    for event in events {
        match matches(pattern, event) {
            Ok(true) => caught += 1,
            Ok(false) => {}
            // A disabled rule alerts on nothing, whatever its pattern says.
            Err(_) if !enabled(rule) => return Verdict::Unrelated,
            Err(e) => {
                return Verdict::Unknown(format!(
                    "the pattern of {} could not be evaluated: {e}",
                    rule.name
                ))
            }
        }
    }
    if caught == 0 {
        return Verdict::Unrelated;
    }
    if caught < events.len() {
        return Verdict::Not(format!(
            "{} matches only some PutEncryptionConfig events ({caught} of the {} forms)",
            rule.name,
            events.len()
        ));
    }
    if !enabled(rule) {
        return Verdict::Not(format!(
            "{} matches but is {}",
            rule.name,
            rule.state.as_deref().unwrap_or("of unknown state")
        ));
    }
    match &rule.targets {
        Observed::Known(t) if t.is_empty() => {
            Verdict::Not(format!("{} matches but has no target", rule.name))
        }
        Observed::Known(_) => Verdict::Alerts,
        Observed::Unknown(err) => Verdict::Unknown(format!(
            "the targets of {} could not be read: {err}",
            rule.name
        )),
    }
}

impl Rule for GuardDriftAlertMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let guard = match guardrail_of(&META, target, cx.inventory, RESOURCE)? {
            Ok(g) => g,
            Err(f) => return Some(f),
        };
        let b = builder(&META, target).resource(RESOURCE);
        let rules = match &guard.event_rules {
            Observed::Known(r) => r,
            Observed::Unknown(err) => {
                return Some(b.error(format!(
                    "whether a rule alerts on PutEncryptionConfig is unknown: {err}"
                )))
            }
        };
        let events = put_encryption_config_events(&target.account, &target.region);
        let mut not = Vec::new();
        let mut unknown = Vec::new();
        for rule in rules {
            match judge(rule, &events) {
                Verdict::Alerts => {
                    let n = rule.targets.known().map_or(0, Vec::len);
                    return Some(b.pass(format!(
                        "EventBridge rule {} is enabled, matches every PutEncryptionConfig and sends to {n} target{}",
                        rule.name,
                        if n == 1 { "" } else { "s" }
                    )));
                }
                Verdict::Unrelated => {}
                Verdict::Not(why) => not.push(why),
                Verdict::Unknown(why) => unknown.push(why),
            }
        }
        if !unknown.is_empty() {
            return Some(b.error(format!(
                "whether a rule alerts on PutEncryptionConfig is unknown: {}",
                unknown.join("; ")
            )));
        }
        let named = not;
        Some(b.fail(format!(
            "no enabled EventBridge rule with a target matches X-Ray's PutEncryptionConfig ({} rule{} on the default bus{})",
            rules.len(),
            if rules.len() == 1 { "" } else { "s" },
            if named.is_empty() {
                String::new()
            } else {
                format!(": {}", named.join("; "))
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Guardrail, Inventory};
    use crate::rules::test_support::*;
    use crate::Status;

    pub(crate) const GUARD_PATTERN: &str = r#"{"source":["aws.xray"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["xray.amazonaws.com"],"eventName":["PutEncryptionConfig"]}}"#;

    pub(crate) fn alert_rule() -> EventRule {
        EventRule {
            name: "xray-cmk-put-encryption-config".into(),
            state: Some("ENABLED".into()),
            event_pattern: Some(GUARD_PATTERN.into()),
            targets: Observed::Known(vec!["arn:aws:sns:eu-west-1:111122223333:alerts".into()]),
        }
    }

    fn with(rules: Observed<Vec<EventRule>>) -> Inventory {
        let mut inv = none_config();
        inv.guardrails.insert(
            (ACCOUNT.into(), REGION.into()),
            Guardrail {
                recorders: Observed::Known(Vec::new()),
                config_rules: Observed::Known(Vec::new()),
                event_rules: rules,
            },
        );
        inv
    }

    fn status(rules: Vec<EventRule>) -> (Status, String) {
        let f = run(&GuardDriftAlertMissing, &with(Observed::Known(rules))).expect("a result");
        (f.status, f.message)
    }

    #[test]
    fn an_enabled_matching_rule_with_a_target_passes() {
        let (s, m) = status(vec![alert_rule()]);
        assert_eq!(s, Status::Pass, "{m}");
        assert!(m.contains("1 target"), "{m}");
        // Broader patterns catch it too; so does the CloudTrail-management-events state.
        for pattern in [
            r#"{"source":["aws.xray"]}"#,
            r#"{"detail":{"eventName":[{"prefix":"Put"}]}}"#,
        ] {
            let (s, m) = status(vec![EventRule {
                event_pattern: Some(pattern.into()),
                state: Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS".into()),
                ..alert_rule()
            }]);
            assert_eq!(s, Status::Pass, "{pattern}: {m}");
        }
    }

    #[test]
    fn what_does_not_alert_fails() {
        let cases: Vec<(EventRule, &str)> = vec![
            (EventRule { state: Some("DISABLED".into()), ..alert_rule() }, "is DISABLED"),
            (EventRule { targets: Observed::Known(vec![]), ..alert_rule() }, "has no target"),
            (
                EventRule {
                    event_pattern: Some(r#"{"source":["aws.xray"],"detail":{"requestParameters":{"type":["NONE"]}}}"#.into()),
                    ..alert_rule()
                },
                "only some PutEncryptionConfig events (1 of the 3",
            ),
            (
                EventRule { event_pattern: Some(r#"{"source":["aws.kms"]}"#.into()), ..alert_rule() },
                "(1 rule on the default bus)",
            ),
            (EventRule { event_pattern: None, ..alert_rule() }, "(1 rule on the default bus)"),
        ];
        for (rule, why) in cases {
            let (s, m) = status(vec![rule]);
            assert_eq!(s, Status::Fail, "{m}");
            assert!(m.contains(why), "{why}: {m}");
        }
        let (s, m) = status(vec![]);
        assert_eq!(s, Status::Fail);
        assert!(m.contains("0 rules"), "{m}");
    }

    #[test]
    fn unknown_is_an_error_unless_another_rule_alerts() {
        let unreadable = EventRule {
            targets: Observed::Unknown(denied("events:ListTargetsByRule")),
            ..alert_rule()
        };
        let (s, m) = status(vec![unreadable.clone()]);
        assert_eq!(s, Status::Error, "{m}");
        assert!(m.contains("events:ListTargetsByRule"), "{m}");
        let odd = EventRule {
            event_pattern: Some(r#"{"source":[{"starts-with":"aws."}]}"#.into()),
            ..alert_rule()
        };
        assert_eq!(status(vec![odd.clone()]).0, Status::Error);
        assert_eq!(status(vec![odd, unreadable, alert_rule()]).0, Status::Pass);
        let f = run(
            &GuardDriftAlertMissing,
            &with(Observed::Unknown(denied("events:ListRules"))),
        )
        .expect("a result");
        assert_eq!(f.status, Status::Error);
        assert_eq!(
            run(&GuardDriftAlertMissing, &none_config()).map(|f| f.status),
            Some(Status::Error)
        );
    }
}
