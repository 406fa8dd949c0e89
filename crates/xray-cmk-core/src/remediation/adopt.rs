//! Adoption: when `apply` may take an existing key as the key a `create_key` step plans instead
//! of creating one.
//!
//! Tags prove nothing: anyone allowed `kms:CreateKey` and `kms:TagResource` can make a key tagged
//! `managed-by=xray-cmk` with a policy of their own. So a key is taken only when it *is* the key
//! the plan would create: the same key policy (as canonical JSON), the same tags, the same kind
//! of key (`Enabled`, customer managed, KMS-generated key material, symmetric `ENCRYPT_DECRYPT`,
//! single-Region), and every rule the planner judged the planned key with passes on it. Anything
//! else is refused with what differs, for a person to decide.
//!
//! The same test applies to the key an alias already names when `create_key` runs (a re-run, or
//! the winner of a race for the alias: see [`decide_lost_race`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::apply::KeySnapshot;
use super::plan::{ALIAS_TAG, FIXABLE_RULES, MANAGED_BY_TAG, ORPHAN_TAG};
use crate::model::{
    arn_account_region, EncryptionType, KeyManager, KeyState, KmsKey, Observed, Origin, Rotation,
    XrayEncryption, XrayTarget,
};
use crate::{Date, OrgPolicy, Status};

/// What a `create_key` step plans, to compare an existing key with.
#[derive(Debug, Clone, Copy)]
pub struct PlannedKey<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub alias: &'a str,
    /// The step's tags, xray-cmk's own (`managed-by`, `xray-cmk-alias`) included.
    pub tags: &'a BTreeMap<String, String>,
    /// The step's key policy.
    pub policy: &'a Value,
    /// The rotation period the target's `enable_rotation` step sets: the rules judge the key as
    /// the plan leaves it, and turning rotation on is that later step's job.
    pub rotation_days: u32,
}

/// Whether `tags` mark a key as made by xray-cmk for `alias`.
pub fn tagged_for(tags: &BTreeMap<String, String>, alias: &str) -> bool {
    tags.get(MANAGED_BY_TAG.0).map(String::as_str) == Some(MANAGED_BY_TAG.1)
        && tags.get(ALIAS_TAG).map(String::as_str) == Some(alias)
}

/// Whether `tags` say a key is xray-cmk's, made for some alias or discarded: what
/// `kms-orphaned-xray-cmk-key` reports when no alias names the key.
pub fn claims_to_be_xray_cmks(tags: &BTreeMap<String, String>) -> bool {
    tags.get(MANAGED_BY_TAG.0).map(String::as_str) == Some(MANAGED_BY_TAG.1) || discarded(tags)
}

/// Whether `tags` mark a key xray-cmk discarded ([`ORPHAN_TAG`]): never adopted again.
pub fn discarded(tags: &BTreeMap<String, String>) -> bool {
    tags.contains_key(ORPHAN_TAG)
}

/// Everything in which `key` is not the key `planned` describes, one phrase each; empty when it
/// may be adopted. `policy` and `today` are what the rules judge with.
pub fn differences(
    key: &KeySnapshot,
    planned: &PlannedKey<'_>,
    policy: &OrgPolicy,
    today: Date,
) -> Vec<String> {
    let mut diffs = Vec::new();
    if arn_account_region(&key.arn) != Some((planned.account, planned.region)) {
        diffs.push(format!(
            "it is not a key of {}/{}",
            planned.account, planned.region
        ));
    }
    let manager = key.manager.as_ref().map(|m| match m {
        KeyManager::Aws => "AWS",
        KeyManager::Customer => "CUSTOMER",
        KeyManager::Other(o) => o.as_str(),
    });
    diffs.extend(
        [
            (
                "KeyState",
                key.state.as_ref().map(KeyState::as_str),
                "Enabled",
            ),
            ("KeyManager", manager, "CUSTOMER"),
            ("KeySpec", key.spec.as_deref(), "SYMMETRIC_DEFAULT"),
            ("KeyUsage", key.usage.as_deref(), "ENCRYPT_DECRYPT"),
        ]
        .into_iter()
        .filter_map(|(what, found, want)| unexpected(what, found, want)),
    );
    match key.origin.as_deref() {
        // Whoever imported the key material holds a copy of it.
        Some("EXTERNAL") => diffs.push(
            "Origin is EXTERNAL: a key with imported key material is never adopted".to_owned(),
        ),
        origin => diffs.extend(unexpected("Origin", origin, "AWS_KMS")),
    }
    match key.multi_region {
        Some(false) => {}
        Some(true) => {
            diffs.push("it is a multi-Region key; the plan creates a single-Region key".to_owned())
        }
        None => diffs.push("whether it is multi-Region is unknown".to_owned()),
    }
    diffs.extend(policy_differences(key.policy.as_deref(), planned.policy));
    diffs.extend(tag_differences(key.tags.as_ref(), planned.tags));
    let rules = rule_differences(key, planned, policy, today);
    if diffs.is_empty() && !rules.is_empty() {
        // The planner judged this very key policy and these tags and found them passing: apply's
        // policy file must not be the one the plan was made with.
        diffs.extend(rules);
        diffs.push("the rules judge with the policy file apply is given (--policy): give it the one the plan was made with".to_owned());
    } else {
        diffs.extend(rules);
    }
    diffs
}

/// `what` is `found`, not `want` (unknown is never what is wanted).
fn unexpected(what: &str, found: Option<&str>, want: &str) -> Option<String> {
    match found {
        Some(v) if v == want => None,
        Some(v) => Some(format!("{what} is {v}, not {want}")),
        None => Some(format!("{what} is unknown, not {want}")),
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

fn describe_statement(s: &Value) -> String {
    match s.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("\"{sid}\" {}", crate::canonical_json(s)),
        None => crate::canonical_json(s),
    }
}

/// How the key policy `text` differs from `planned`, compared as canonical JSON: statements it
/// has that the plan does not, planned statements it lacks, and other members.
fn policy_differences(text: Option<&str>, planned: &Value) -> Vec<String> {
    let Some(text) = text else {
        return vec!["its key policy was not read".to_owned()];
    };
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return vec!["its key policy is not JSON".to_owned()];
    };
    if crate::canonical_json(&doc) == crate::canonical_json(planned) {
        return Vec::new();
    }
    let mut diffs = Vec::new();
    let have: Vec<String> = statements(&doc)
        .into_iter()
        .map(crate::canonical_json)
        .collect();
    let want: Vec<String> = statements(planned)
        .into_iter()
        .map(crate::canonical_json)
        .collect();
    let mut unmatched = want.clone();
    for (s, canonical) in statements(&doc).into_iter().zip(&have) {
        match unmatched.iter().position(|w| w == canonical) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => diffs.push(format!(
                "its key policy has a statement the plan does not: {}",
                describe_statement(s)
            )),
        }
    }
    let mut extra = have.clone();
    for s in statements(planned) {
        let canonical = crate::canonical_json(s);
        match extra.iter().position(|h| *h == canonical) {
            Some(i) => {
                extra.remove(i);
            }
            None => diffs.push(format!(
                "its key policy lacks the planned statement {}",
                describe_statement(s)
            )),
        }
    }
    if diffs.is_empty() && have != want {
        diffs.push("its key policy has the planned statements in another order".to_owned());
    }
    let empty = serde_json::Map::new();
    let members = |v: &Value| v.as_object().unwrap_or(&empty).clone();
    let (ours, theirs) = (members(&doc), members(planned));
    let mut names: Vec<&String> = ours.keys().chain(theirs.keys()).collect();
    names.sort();
    names.dedup();
    for name in names.into_iter().filter(|n| *n != "Statement") {
        match (ours.get(name), theirs.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => diffs.push(format!(
                "its key policy's {name} is {}, planned {}",
                crate::canonical_json(a),
                crate::canonical_json(b)
            )),
            (Some(a), None) => diffs.push(format!(
                "its key policy has {name} {}, which the plan does not",
                crate::canonical_json(a)
            )),
            (None, Some(b)) => diffs.push(format!(
                "its key policy lacks the planned {name} {}",
                crate::canonical_json(b)
            )),
            (None, None) => {}
        }
    }
    if diffs.is_empty() {
        diffs.push("its key policy differs from the planned one".to_owned());
    }
    diffs
}

/// How `have` differs from the planned tags: exactly these, no more, no fewer.
fn tag_differences(
    have: Option<&BTreeMap<String, String>>,
    want: &BTreeMap<String, String>,
) -> Vec<String> {
    let Some(have) = have else {
        return vec!["its tags were not read".to_owned()];
    };
    let mut diffs = Vec::new();
    for (k, v) in want {
        match have.get(k) {
            None => diffs.push(format!("it lacks the planned tag {k}={v}")),
            Some(h) if h != v => diffs.push(format!("its tag {k} is `{h}`, planned `{v}`")),
            Some(_) => {}
        }
    }
    for (k, v) in have {
        if !want.contains_key(k) {
            diffs.push(format!("it has the tag {k}={v}, which the plan does not"));
        }
    }
    diffs
}

/// What the rules the planner judged the planned key with say about `key`, as the plan would
/// leave it (with its alias, rotation on). An exemption counts as it does for the planner.
fn rule_differences(
    key: &KeySnapshot,
    planned: &PlannedKey<'_>,
    policy: &OrgPolicy,
    today: Date,
) -> Vec<String> {
    let id = key.arn.rsplit('/').next().unwrap_or(&key.arn).to_owned();
    let model = KmsKey {
        arn: Some(key.arn.clone()),
        key_manager: key.manager.clone(),
        key_state: key.state.clone(),
        key_spec: key.spec.clone(),
        key_usage: key.usage.clone(),
        origin: key.origin.clone(),
        multi_region: key.multi_region,
        rotation: Observed::Known(Rotation {
            enabled: true,
            period_days: Some(planned.rotation_days),
            next_rotation: None,
        }),
        policy: key.policy.clone().map_or_else(
            || Observed::not_collected("kms:GetKeyPolicy"),
            Observed::Known,
        ),
        tags: key.tags.clone().map_or_else(
            || Observed::not_collected("kms:ListResourceTags"),
            Observed::Known,
        ),
        aliases: Observed::Known(vec![planned.alias.to_owned()]),
        ..KmsKey::described(id)
    };
    let target = XrayTarget {
        account: planned.account.to_owned(),
        region: planned.region.to_owned(),
        origin: Origin::Live,
        encryption: Observed::Known(XrayEncryption {
            encryption_type: EncryptionType::None,
            key_id: None,
            status: None,
        }),
        trails: None,
        segment_destination: None,
    };
    super::judge_key_in_use(&target, model, FIXABLE_RULES, policy, today)
        .into_iter()
        .filter(|f| !f.is_suppressed())
        .map(|f| {
            let verdict = if f.status == Status::Error {
                "cannot decide"
            } else {
                "fails"
            };
            format!("{} {verdict}: {}", f.rule, f.message)
        })
        .collect()
}

/// `key` refused, and why, in one sentence.
pub fn refusal(key: &KeySnapshot, diffs: &[String]) -> String {
    format!("{}: {}", key.arn, diffs.join("; "))
}

/// The key among `candidates` (keys of ours tagged for the alias that no alias names) to adopt:
/// the first that is the planned key. `Ok(None)` when there are none; `Err` names each
/// candidate and what differs when none may be adopted.
pub fn choose<'k>(
    candidates: &'k [KeySnapshot],
    planned: &PlannedKey<'_>,
    policy: &OrgPolicy,
    today: Date,
) -> Result<Option<&'k KeySnapshot>, String> {
    let mut refused = Vec::new();
    for key in candidates {
        let diffs = differences(key, planned, policy, today);
        if diffs.is_empty() {
            return Ok(Some(key));
        }
        refused.push(refusal(key, &diffs));
    }
    if refused.is_empty() {
        return Ok(None);
    }
    Err(format!(
        "refused to adopt {} tagged {}={} and {}={} that no alias names, because {} not the key the plan would create: {}. Delete {}, or tag {} {}=<why> so apply leaves {} alone, then apply again",
        if refused.len() == 1 { "a key" } else { "keys" },
        MANAGED_BY_TAG.0,
        MANAGED_BY_TAG.1,
        ALIAS_TAG,
        planned.alias,
        if refused.len() == 1 { "it is" } else { "they are" },
        refused.join(" | "),
        if refused.len() == 1 { "it" } else { "them" },
        if refused.len() == 1 { "it" } else { "them" },
        ORPHAN_TAG,
        if refused.len() == 1 { "it" } else { "them" },
    ))
}

/// The key another run aliased is not the key the plan would create: how it differs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{alias} names {winner}, which is not the key the plan would create, so this target stops here: {}", differences.join("; "))]
pub struct NotThePlannedKey {
    pub alias: String,
    pub winner: String,
    pub differences: Vec<String>,
}

/// What to do when `CreateAlias` finds the alias taken: another run got there first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostRace {
    /// The alias names the key this run was aliasing: another run adopted it. Carry on with it.
    AliasIsOurs,
    /// Another key won. The key this run created (if it created one) is discarded; the target
    /// carries on with the winner when it is the planned key (`Ok`), else fails (`Err` says why).
    Lost {
        winner: String,
        usable: Result<(), NotThePlannedKey>,
    },
    /// The alias was taken when `CreateAlias` ran, and is gone now.
    Vanished,
}

/// The race for `planned.alias` was lost by `ours`; `winner` is the key the alias names now.
pub fn decide_lost_race(
    ours: &str,
    winner: Option<&KeySnapshot>,
    planned: &PlannedKey<'_>,
    policy: &OrgPolicy,
    today: Date,
) -> LostRace {
    let Some(winner) = winner else {
        return LostRace::Vanished;
    };
    if winner.arn == ours {
        return LostRace::AliasIsOurs;
    }
    let diffs = differences(winner, planned, policy, today);
    LostRace::Lost {
        winner: winner.arn.clone(),
        usable: if diffs.is_empty() {
            Ok(())
        } else {
            Err(NotThePlannedKey {
                alias: planned.alias.to_owned(),
                winner: winner.arn.clone(),
                differences: diffs,
            })
        },
    }
}

#[cfg(test)]
mod tests;
