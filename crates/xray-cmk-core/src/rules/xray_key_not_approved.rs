//! `xray-key-not-approved`: X-Ray uses a key the policy's approved list does not name.

use super::builder;
use crate::finding::{Finding, Severity};
use crate::model::{EncryptionType, Observed, XrayTarget};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct XrayKeyNotApproved;

/// This rule's id.
pub const ID: RuleId = RuleId::new("xray-key-not-approved");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "The policy lists approved keys and the key X-Ray uses is not one of them",
    severity: Severity::Medium,
    since: "0.2.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyMetadata, Input::KeyDetails],
};

const DOCS: &str = r#"# xray-key-not-approved

## What it does
When `[keys] approved` in the policy file is not empty, checks that the key of each `KMS`
configuration matches an entry: a key ARN, an alias ARN or an alias name, with `*` wildcards and
`{account}` replaced by the account id. Aliases come from `kms:ListAliases`. Without an approved
list the rule does not apply. If the aliases could not be read and the key ARN matches nothing,
the result is `error`.

## Why is this bad?
Teams create their own keys: unreviewed policies, no owner, no rotation, keys that will be
deleted with a sandbox account. An approved list keeps trace data on the keys the security team
reviews and monitors.

## How to fix
Point X-Ray at an approved key, or add the key to the list after review:

    aws xray put-encryption-config --type KMS --key-id alias/xray-cmk

## Example
    # xray-cmk.toml: [keys] approved = ["alias/xray-cmk-*"]
    alias/xray-cmk-prod     # passes
    alias/team-x-traces     # fails

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html
"#;

impl Rule for XrayKeyNotApproved {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_target(&self, target: &XrayTarget, cx: &Context<'_>) -> Option<Finding> {
        if cx.policy.keys.approved.is_empty() {
            return None;
        }
        let b = builder(&META, target);
        let enc = match &target.encryption {
            Observed::Known(enc) => enc,
            Observed::Unknown(err) => {
                return Some(b.error(format!("X-Ray encryption config unreadable: {err}")))
            }
        };
        let (EncryptionType::Kms, Some(key_id)) = (&enc.encryption_type, enc.key_id.as_deref())
        else {
            return None;
        };
        let b = b.key(Some(key_id));
        let key = cx.inventory.key_for(enc).and_then(Observed::known);
        let arn = key.and_then(|k| k.arn.as_deref()).unwrap_or(key_id);
        let aliases = key.and_then(|k| k.aliases.known());
        let empty = Vec::new();
        let approved = cx
            .policy
            .is_approved(arn, aliases.unwrap_or(&empty), &target.account);
        Some(match (approved, aliases) {
            (Some(true), _) => b.pass("the key is on the approved list"),
            (Some(false), Some(names)) => b.fail(format!(
                "the key is not on the approved list (aliases: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )),
            (Some(false), None) => match key.map(|k| &k.aliases) {
                // Read across accounts, say, when the key's owner is not in the scan.
                Some(Observed::Unknown(err)) => b.error(format!(
                    "the key ARN is not on the approved list and its aliases could not be read: {err}"
                )),
                _ => b.error(
                    "the key ARN is not on the approved list and its aliases could not be read",
                ),
            },
            (None, _) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use crate::Status;

    fn status(aliases: Observed<Vec<String>>, approved: &str) -> Option<Status> {
        let inv = with_key(|k| k.aliases = aliases);
        let pol = policy(&format!("[keys]\napproved = [{approved}]\n"));
        XrayKeyNotApproved
            .check_target(&inv.targets[0], &context(&inv, &pol))
            .map(|f| f.status)
    }

    #[test]
    fn alias_patterns_and_arns() {
        let names = |v: &[&str]| Observed::Known(v.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(
            status(names(&["alias/xray-cmk-prod"]), r#""alias/xray-cmk-*""#),
            Some(Status::Pass)
        );
        assert_eq!(
            status(names(&["alias/team-x"]), r#""alias/xray-cmk-*""#),
            Some(Status::Fail)
        );
        assert_eq!(
            status(names(&[]), &format!("\"{KEY_ARN}\"")),
            Some(Status::Pass)
        );
        assert_eq!(
            status(
                Observed::Unknown(denied("kms:ListAliases")),
                r#""alias/xray-cmk-*""#
            ),
            Some(Status::Error)
        );
        assert_eq!(
            status(names(&["alias/x"]), ""),
            None,
            "no approved list, no result"
        );
    }
}
