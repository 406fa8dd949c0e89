//! `xray-spans-not-cmk`: Transaction Search stores spans in `aws/spans` without an approved CMK.

use super::builder;
use crate::finding::{Finding, Severity};
use crate::model::{KeyManager, Observed, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct XraySpansNotCmk;

/// This rule's id.
pub const ID: RuleId = RuleId::new("xray-spans-not-cmk");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "Transaction Search sends spans to CloudWatch Logs and aws/spans is not encrypted with an approved CMK",
    severity: Severity::High,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::SegmentDestination, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# xray-spans-not-cmk

## What it does
Reads `xray:GetTraceSegmentDestination`. With Transaction Search on (`CloudWatchLogs`), spans are
stored in the CloudWatch Logs log group `aws/spans`, protected by that group's own KMS key, not by
X-Ray's encryption configuration. The rule reads the group (`logs:DescribeLogGroups`) and fails
when it has no KMS key, when its key is AWS managed, or when the policy file has an approved list
and the key is not on it. With the destination `XRay` the rule passes. A missing `aws/spans`
group fails with low confidence: X-Ray will create it unencrypted by a CMK.

## Why is this bad?
A CMK on X-Ray protects nothing once spans go to CloudWatch Logs: the same user ids and payload
fragments then sit in a log group encrypted with an AWS owned key, out of reach of the key policy,
rotation rules and cryptographic erasure.

## How to fix
    aws logs associate-kms-key --log-group-name aws/spans --kms-key-id "$KEY_ARN"

The key policy must allow the CloudWatch Logs service principal `logs.REGION.amazonaws.com`.

## Example
    Destination CloudWatchLogs, aws/spans kmsKeyId = arn:aws:kms:…:key/… (approved CMK)   # passes
    Destination CloudWatchLogs, aws/spans without kmsKeyId                                # fails

## References
- https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Transaction-Search.html
- https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
- https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSegmentDestination.html
"#;

impl Rule for XraySpansNotCmk {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        let b = builder(&META, target).resource("aws/spans");
        let dest = match target.segment_destination.as_ref()? {
            Observed::Known(d) => d,
            Observed::Unknown(err) => {
                return Some(b.error(format!("trace segment destination unreadable: {err}")))
            }
        };
        if dest.destination != "CloudWatchLogs" {
            return Some(b.pass(format!(
                "spans go to {}, protected by X-Ray's encryption configuration",
                dest.destination
            )));
        }
        let group = match &dest.spans_log_group {
            Some(Observed::Known(Some(group))) => group,
            Some(Observed::Known(None)) => {
                return Some(b.confidence(crate::Confidence::Low).fail(
                    "Transaction Search sends spans to CloudWatch Logs but aws/spans does not exist: X-Ray will create it without a CMK",
                ))
            }
            Some(Observed::Unknown(err)) => {
                return Some(b.error(format!("aws/spans unreadable: {err}")))
            }
            None => return Some(b.error("aws/spans was not collected")),
        };
        let Some(key_id) = group.kms_key_id.as_deref() else {
            return Some(b.fail(
                "Transaction Search stores spans in aws/spans, which is not encrypted with a KMS key",
            ));
        };
        let b = b.key(Some(key_id));
        let key = match cx.inventory.keys.get(key_id) {
            Some(Observed::Known(k)) => k,
            Some(Observed::Unknown(err)) => {
                return Some(b.error(format!(
                    "the key of aws/spans could not be described: {err}"
                )))
            }
            None => return Some(b.error("the key of aws/spans was not collected")),
        };
        if key.key_manager == Some(KeyManager::Aws) {
            return Some(b.fail("aws/spans is encrypted with an AWS managed key, not a CMK"));
        }
        let aliases = key.aliases.known().cloned().unwrap_or_default();
        let arn = key.arn.as_deref().unwrap_or(key_id);
        Some(
            match cx.policy.is_approved(arn, &aliases, &target.account) {
                Some(false) => b.fail(format!(
                "aws/spans is encrypted with a CMK that is not on the approved list (aliases: {})",
                if aliases.is_empty() { "none".to_owned() } else { aliases.join(", ") }
            )),
                Some(true) | None => {
                    b.pass("aws/spans is encrypted with an approved customer managed key")
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogGroup, SegmentDestination};
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(
        destination: &str,
        group: Option<Observed<Option<LogGroup>>>,
        approved: &str,
    ) -> Status {
        let mut inv = with_key(|_| {});
        inv.targets[0].segment_destination = Some(Observed::Known(SegmentDestination {
            destination: destination.to_owned(),
            status: Some("ACTIVE".into()),
            spans_log_group: group,
        }));
        let pol = policy(&format!("[keys]\napproved = [{approved}]\n"));
        XraySpansNotCmk
            .check_target(&inv.targets[0], &context(&inv, &pol))
            .expect("finding")
            .status
    }

    fn group(key: Option<&str>) -> Option<Observed<Option<LogGroup>>> {
        Some(Observed::Known(Some(LogGroup {
            name: "aws/spans".into(),
            kms_key_id: key.map(str::to_owned),
        })))
    }

    #[test]
    fn destinations_and_keys() {
        assert_eq!(status("XRay", None, ""), Status::Pass);
        assert_eq!(
            status("CloudWatchLogs", group(Some(KEY_ARN)), ""),
            Status::Pass
        );
        assert_eq!(
            status(
                "CloudWatchLogs",
                group(Some(KEY_ARN)),
                r#""alias/xray-cmk""#
            ),
            Status::Pass
        );
        assert_eq!(
            status("CloudWatchLogs", group(Some(KEY_ARN)), r#""alias/other""#),
            Status::Fail
        );
        assert_eq!(status("CloudWatchLogs", group(None), ""), Status::Fail);
        assert_eq!(
            status("CloudWatchLogs", Some(Observed::Known(None)), ""),
            Status::Fail
        );
        assert_eq!(
            status(
                "CloudWatchLogs",
                Some(Observed::Unknown(denied("logs:DescribeLogGroups"))),
                ""
            ),
            Status::Error
        );
        assert_eq!(
            status(
                "CloudWatchLogs",
                group(Some("arn:aws:kms:eu-west-1:1:key/uncollected")),
                ""
            ),
            Status::Error
        );
    }
}
