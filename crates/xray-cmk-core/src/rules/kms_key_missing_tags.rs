//! `kms-key-missing-tags`: the key lacks a tag the policy requires.

use super::customer_key_builder;
use crate::finding::{Finding, Severity};
use crate::model::Observed;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsKeyMissingTags;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-key-missing-tags");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The key lacks a required tag, or has it with an empty value",
    severity: Severity::Low,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-key-missing-tags

## What it does
Reads the key's tags (`kms:ListResourceTags`) and fails when a tag listed in `[tags] required` of
the policy file is missing or has an empty value. With no required tags, every key passes.
AWS managed keys cannot be tagged and are not judged.

## Why is this bad?
Ownership tags are how an incident responder finds who to call before disabling a key, how FinOps
attributes the $1 per key-month, and how tag-based access control (ABAC) scopes key use.

## How to fix
    aws kms tag-resource --key-id "$KEY" --tags TagKey=owner,TagValue=platform-security

## Example
    # xray-cmk.toml: [tags] required = ["owner", "data-classification"]
    owner=platform-security, data-classification=confidential    # passes
    owner=""                                                     # fails: empty owner, no data-classification

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/tagging-keys.html
- https://docs.aws.amazon.com/kms/latest/developerguide/abac.html
"#;

impl Rule for KmsKeyMissingTags {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key(&self, key: &KeyRef<'_>, cx: &Context<'_>) -> Option<Finding> {
        let b = customer_key_builder(&META, key)?;
        let required = &cx.policy.tags.required;
        if required.is_empty() {
            return Some(b.pass("the policy requires no tags"));
        }
        let tags = match &key.key.tags {
            Observed::Known(tags) => tags,
            Observed::Unknown(err) => return Some(b.error(format!("tags unreadable: {err}"))),
        };
        let mut problems = Vec::new();
        for tag in required {
            match tags.get(tag).map(|v| v.trim()) {
                None => problems.push(format!("`{tag}` missing")),
                Some("") => problems.push(format!("`{tag}` empty")),
                Some(_) => {}
            }
        }
        Some(if problems.is_empty() {
            b.pass(format!("has every required tag ({})", required.join(", ")))
        } else {
            b.fail(format!("required tags: {}", problems.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use crate::Status;

    fn finding(tags: &[(&str, &str)], required: &str) -> crate::Finding {
        let inv = with_key(|k| {
            k.tags = Observed::Known(
                tags.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        });
        let pol = policy(&format!("[tags]\nrequired = [{required}]\n"));
        run_key(&KmsKeyMissingTags, &inv, &pol).expect("finding")
    }

    #[test]
    fn missing_and_empty_fail() {
        let f = finding(&[("owner", "")], r#""owner", "data-classification""#);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "required tags: `owner` empty, `data-classification` missing"
        );
        let f = finding(
            &[("owner", "sec"), ("data-classification", "c")],
            r#""owner", "data-classification""#,
        );
        assert_eq!(f.status, Status::Pass);
        assert_eq!(finding(&[], "").status, Status::Pass);
    }
}
