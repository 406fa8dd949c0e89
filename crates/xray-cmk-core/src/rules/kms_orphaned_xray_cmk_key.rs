//! `kms-orphaned-xray-cmk-key`: a key xray-cmk made (or that claims to be) is left without an alias.

use crate::finding::{Finding, FindingBuilder, Severity};
use crate::model::{KeyState, KeyStatus, Observed, Origin, UnaliasedKey};
use crate::remediation::plan::{ALIAS_TAG, MANAGED_BY_TAG, ORPHAN_TAG};
use crate::rule::{Context, Input, Rule, RuleId, RuleMeta};

pub struct KmsOrphanedXrayCmkKey;

/// The resource of a region-wide result: the region's KMS keys.
const KMS_KEYS: &str = "kms-keys";

/// This rule's id.
pub const ID: RuleId = RuleId::new("kms-orphaned-xray-cmk-key");

static META: RuleMeta = RuleMeta {
    id: ID,
    summary: "A key tagged as xray-cmk's has no alias: left by an interrupted or losing apply, or planted",
    severity: Severity::Low,
    since: "0.4.0",
    docs: DOCS,
    inputs: &[Input::Encryption, Input::KeyListing],
};

const DOCS: &str = r#"# kms-orphaned-xray-cmk-key

## What it does
Lists the keys of each account and region (`kms:ListKeys`, one `kms:ListAliases`), reads the tags
of each key that no alias names (`kms:ListResourceTags`), and fails for each such key tagged
`managed-by=xray-cmk` or `xray-cmk-orphan`; `kms:DescribeKey` of those says their state and, when
pending deletion, the date KMS deletes them. Aliased keys are not tag-read: every key xray-cmk
uses has its alias, and so does every AWS managed key (`alias/aws/*`), which is therefore never
read. A region whose keys cannot be listed, or an unaliased key whose tags cannot be read, is an
`error`: unknown is never a pass. A region with no such key passes.

Such a key is one of:
- left by an `apply` interrupted between `CreateKey` and `CreateAlias` (enabled, tagged
  `xray-cmk-alias`): the next `apply` of the plan adopts it if it is exactly the key the plan
  would create, and refuses it, saying what differs, if not;
- discarded by an `apply` that lost the race for the alias to another run at the same time
  (tagged `xray-cmk-orphan=lost-alias-race`, disabled, pending deletion in 30 days): it fails
  with the deletion date until KMS deletes it;
- made by someone else and tagged to look like xray-cmk's.

## Why is this bad?
An enabled key costs $1 a month and holds a key policy nobody reviews; a key that claims to be
xray-cmk's could be adopted by mistake if it were not checked (xray-cmk checks it). A discarded key
is harmless, and reported so a person knows why a key is pending deletion.

## How to fix
For a discarded key, nothing: KMS deletes it on the date shown (to keep it:
`aws kms cancel-key-deletion --key-id "$KEY"`). For an enabled one, run `xray-cmk apply` again
with its plan, or delete the key if nothing uses it:

    aws kms schedule-key-deletion --key-id "$KEY" --pending-window-in-days 30

## Example
    key 1234abcd-... tags managed-by=xray-cmk, xray-cmk-alias=alias/xray-cmk-traces, no alias    # fails
    key 5678efgh-... tags xray-cmk-orphan=lost-alias-race, PendingDeletion until 2026-12-28     # fails, low
    only aliased keys, or unaliased keys of others                                               # passes

## References
- https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html
- https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html
- https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html
"#;

fn state_phrase(described: Option<&Observed<KeyStatus>>) -> String {
    match described {
        Some(Observed::Known(KeyStatus {
            state: Some(KeyState::PendingDeletion),
            deletion_date,
        })) => format!(
            "it is pending deletion: KMS deletes it on {} (aws kms cancel-key-deletion to keep it)",
            deletion_date.as_deref().unwrap_or("a date it did not say")
        ),
        Some(Observed::Known(KeyStatus {
            state: Some(state), ..
        })) => format!("it is {}", state.as_str()),
        Some(Observed::Known(KeyStatus { state: None, .. })) => {
            "its state was not reported".to_owned()
        }
        Some(Observed::Unknown(err)) => format!("its state could not be read: {err}"),
        None => "its state was not read".to_owned(),
    }
}

fn judge(key: &UnaliasedKey, b: FindingBuilder) -> Option<Finding> {
    let id = key.arn.as_deref().unwrap_or(&key.key_id);
    let tags = match &key.tags {
        Observed::Known(tags) => tags,
        Observed::Unknown(err) => {
            return Some(b.error(format!(
                "{id} has no alias and its tags could not be read, so whether xray-cmk left it behind is unknown: {err}"
            )))
        }
    };
    if !crate::remediation::adopt::claims_to_be_xray_cmks(tags) {
        return None;
    }
    let state = state_phrase(key.described.as_ref());
    let alias = tags
        .get(ALIAS_TAG)
        .map(|a| format!(" for {a}"))
        .unwrap_or_default();
    Some(match tags.get(ORPHAN_TAG) {
        Some(why) => b.fail(format!(
            "{id}, made by xray-cmk{alias}, was discarded ({ORPHAN_TAG}={why}) and has no alias; {state}"
        )),
        None => b.fail(format!(
            "{id} is tagged {}={}{alias} but no alias names it (an interrupted apply left it, or someone else made it); {state}. `xray-cmk apply` adopts it only if it is exactly the key its plan would create; otherwise delete it",
            MANAGED_BY_TAG.0, MANAGED_BY_TAG.1
        )),
    })
}

impl Rule for KmsOrphanedXrayCmkKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_inventory(&self, cx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for t in &cx.inventory.targets {
            if !matches!(t.origin, Origin::Live) {
                continue;
            }
            let region = || FindingBuilder::new(&META, &t.account, &t.region, KMS_KEYS);
            let listed = cx
                .inventory
                .unaliased_keys
                .get(&(t.account.clone(), t.region.clone()));
            let keys = match (listed, &t.encryption) {
                (Some(Observed::Known(keys)), _) => keys,
                (Some(Observed::Unknown(err)), _) => {
                    out.push(region().error(format!("the keys could not be listed: {err}")));
                    continue;
                }
                (None, Observed::Unknown(err)) => {
                    out.push(region().error(format!("the target could not be read: {err}")));
                    continue;
                }
                (None, Observed::Known(_)) => {
                    out.push(region().error("the keys were not listed (kms:ListKeys)"));
                    continue;
                }
            };
            let before = out.len();
            for key in keys {
                let id = key.arn.as_deref().unwrap_or(&key.key_id);
                let b = FindingBuilder::new(&META, &t.account, &t.region, id).key(Some(id));
                out.extend(judge(key, b));
            }
            if out.len() == before {
                out.push(region().pass(format!(
                    "no key tagged as xray-cmk's is left without an alias ({} key{} without an alias)",
                    keys.len(),
                    if keys.len() == 1 { "" } else { "s" }
                )));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observed;
    use crate::rules::test_support::*;
    use crate::Status;
    use std::collections::BTreeMap;

    fn tags(pairs: &[(&str, &str)]) -> Observed<BTreeMap<String, String>> {
        Observed::Known(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn key(id: &str, tags: Observed<BTreeMap<String, String>>) -> UnaliasedKey {
        UnaliasedKey {
            key_id: id.into(),
            arn: Some(format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}")),
            tags,
            described: None,
        }
    }

    fn findings(listing: Observed<Vec<UnaliasedKey>>) -> Vec<Finding> {
        let mut inv = none_config();
        inv.unaliased_keys
            .insert((ACCOUNT.into(), REGION.into()), listing);
        KmsOrphanedXrayCmkKey.check_inventory(&context(&inv, &DEFAULT_POLICY))
    }

    #[test]
    fn passes_where_no_unaliased_key_claims_to_be_ours() {
        let f = findings(Observed::Known(vec![key(
            "theirs",
            tags(&[("owner", "data-team")]),
        )]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(f[0].resource, KMS_KEYS);
        assert_eq!(
            f[0].message,
            "no key tagged as xray-cmk's is left without an alias (1 key without an alias)"
        );
    }

    #[test]
    fn a_key_left_by_a_crash_and_a_discarded_one_fail_each_with_its_state() {
        let mut crashed = key(
            "crashed",
            tags(&[
                ("managed-by", "xray-cmk"),
                ("xray-cmk-alias", "alias/xray-cmk-traces"),
            ]),
        );
        crashed.described = Some(Observed::Known(KeyStatus {
            state: Some(KeyState::Enabled),
            deletion_date: None,
        }));
        let mut lost = key(
            "lost",
            tags(&[
                ("managed-by", "xray-cmk"),
                ("xray-cmk-alias", "alias/xray-cmk-traces"),
                ("xray-cmk-orphan", "lost-alias-race"),
            ]),
        );
        lost.described = Some(Observed::Known(KeyStatus {
            state: Some(KeyState::PendingDeletion),
            deletion_date: Some("2026-12-28T00:00:00Z".into()),
        }));
        let f = findings(Observed::Known(vec![crashed, lost]));
        assert_eq!(f.len(), 2, "one result per key, no pass: {f:#?}");
        assert!(f
            .iter()
            .all(|f| f.status == Status::Fail && f.severity == Severity::Low));
        assert_eq!(
            f[0].key.as_deref(),
            Some("arn:aws:kms:eu-west-1:111122223333:key/crashed")
        );
        assert!(
            f[0].message.contains(
                "is tagged managed-by=xray-cmk for alias/xray-cmk-traces but no alias names it"
            ) && f[0].message.contains("it is Enabled"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[1].message,
            "arn:aws:kms:eu-west-1:111122223333:key/lost, made by xray-cmk for alias/xray-cmk-traces, was discarded (xray-cmk-orphan=lost-alias-race) and has no alias; it is pending deletion: KMS deletes it on 2026-12-28T00:00:00Z (aws kms cancel-key-deletion to keep it)"
        );
    }

    #[test]
    fn unknown_is_an_error_never_a_pass() {
        // A key whose tags could not be read.
        let f = findings(Observed::Known(vec![key(
            "locked",
            Observed::Unknown(denied("kms:ListResourceTags")),
        )]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Error);
        assert!(
            f[0].message.contains("AccessDeniedException"),
            "{}",
            f[0].message
        );
        // Keys that could not be listed.
        let f = findings(Observed::Unknown(denied("kms:ListKeys")));
        assert_eq!((f.len(), f[0].status), (1, Status::Error));
        // Not listed at all, or the target could not be read.
        let inv = none_config_unlisted();
        let f = KmsOrphanedXrayCmkKey.check_inventory(&context(&inv, &DEFAULT_POLICY));
        assert_eq!((f.len(), f[0].status), (1, Status::Error));
        let inv = unreadable_config();
        let f = KmsOrphanedXrayCmkKey.check_inventory(&context(&inv, &DEFAULT_POLICY));
        assert_eq!((f.len(), f[0].status), (1, Status::Error));
        assert!(
            f[0].message.contains("AccessDeniedException"),
            "{}",
            f[0].message
        );
    }

    fn none_config_unlisted() -> crate::Inventory {
        let mut inv = none_config();
        inv.unaliased_keys.clear();
        inv
    }
}
