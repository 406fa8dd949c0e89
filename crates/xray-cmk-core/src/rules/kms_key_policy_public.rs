//! `kms-key-policy-public`: the key policy lets anyone use the key.

use super::{key_builder, key_policy};
use crate::finding::{Finding, Severity};
use crate::key_policy::public_statements;
use crate::rule::{Context, Input, KeyRef, Rule, RuleId, RuleMeta};

pub struct KmsKeyPolicyPublic;

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-key-policy-public");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The key policy allows everyone (*) without a condition that pins the caller",
    severity: Severity::Critical,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# kms-key-policy-public

## What it does
Parses the key's `default` key policy and fails when an `Allow` statement is open to everyone
(`"Principal": "*"`, `{"AWS": "*"}`, or a `NotPrincipal` allow) and no condition pins the caller
to known accounts or resources: a positive `StringEquals`/`StringLike`/`ArnEquals`/`ArnLike` on
`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:PrincipalAccount`, `aws:PrincipalArn`,
`kms:CallerAccount`, `aws:SourceAccount`, `aws:SourceArn`, `aws:SourceOrgID` or
`aws:SourceOrgPaths` with a concrete value. `kms:ViaService` alone does not pin the caller: any
account can call through the service. AWS managed keys are judged too.

## Why is this bad?
Any principal of any AWS account can then use the key, for example to decrypt trace data that was
copied out of X-Ray. The key no longer limits who reads traces.

## How to fix
Remove the statement, name the principals, or add a condition such as
`"StringEquals": {"aws:PrincipalOrgID": "o-…"}`, then `aws kms put-key-policy`.

## Example
    { "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*" }   # fails
    { "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
      "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}} }                        # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"#;

impl Rule for KmsKeyPolicyPublic {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_key(&self, key: &KeyRef<'_>, _cx: &Context<'_>) -> Option<Finding> {
        let b = key_builder(&META, key);
        let doc = match key_policy(key.key) {
            Ok(doc) => doc,
            Err(why) => return Some(b.error(why.to_string())),
        };
        let open = public_statements(&doc);
        Some(if open.is_empty() {
            b.pass("no statement opens the key to everyone")
        } else {
            let list: Vec<String> = open.iter().map(|s| s.summary()).collect();
            b.fail(format!(
                "the key policy allows everyone without pinning the caller: {}",
                list.join("; ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observed;
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(policy_json: &str) -> Option<Status> {
        let inv = with_key(|k| k.policy = Observed::Known(policy_json.to_owned()));
        run_key(&KmsKeyPolicyPublic, &inv, &DEFAULT_POLICY).map(|f| f.status)
    }

    #[test]
    fn open_statement_fails_pinned_passes() {
        let open = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}"#;
        assert_eq!(status(open), Some(Status::Fail));
        let pinned = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}}"#;
        assert_eq!(status(pinned), Some(Status::Pass));
        let via_only = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"xray.eu-west-1.amazonaws.com"}}}}"#;
        assert_eq!(status(via_only), Some(Status::Fail));
    }

    #[test]
    fn unreadable_or_invalid_policy_is_error() {
        assert_eq!(status("{not json"), Some(Status::Error));
        let inv = with_key(|k| k.policy = Observed::Unknown(denied("kms:GetKeyPolicy")));
        assert_eq!(
            run_key(&KmsKeyPolicyPublic, &inv, &DEFAULT_POLICY).map(|f| f.status),
            Some(Status::Error)
        );
    }
}
