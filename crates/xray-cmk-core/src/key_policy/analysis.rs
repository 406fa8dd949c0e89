//! Structural analyses of a key policy for the rules: who is it open to, is it still the KMS
//! default, which accounts does it name. Pure functions over a parsed document.

use std::collections::BTreeSet;

use super::principal::is_account_id;
use super::wildcard::is_wildcard_only;
use super::{
    ActionElement, Condition, Effect, PolicyDocument, PrincipalElement, ResourceElement, Statement,
};

/// Condition keys that pin the caller to known accounts/orgs/resources.
pub const CALLER_PINNING_KEYS: &[&str] = &[
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "kms:CallerAccount",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
];

/// Keys whose values are the accounts of the caller.
const CALLER_ACCOUNT_KEYS: &[&str] = &["aws:PrincipalAccount", "kms:CallerAccount"];

/// Allow statements open to everyone (Principal "*" or {"AWS":"*"} or a NotPrincipal Allow) that no
/// positive condition on a caller-pinning key restricts. (A StringEquals/StringLike/ArnEquals/ArnLike
/// condition on a pinning key pins it; a wildcard-only value like "*" does not; IfExists variants and
/// negated operators do not pin.)
pub fn public_statements(doc: &PolicyDocument) -> Vec<&Statement> {
    doc.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && open_to_everyone(s))
        .filter(|s| !s.conditions.iter().any(pins_caller))
        .collect()
}

/// True when the policy holds only KMS's default statement: one Allow of kms:* on * to the key's own
/// account root (ARN or bare id) without conditions.
pub fn is_default_only(doc: &PolicyDocument, key_account: &str) -> bool {
    let [statement] = doc.statements.as_slice() else {
        return false;
    };
    let only_the_account = match &statement.principal {
        PrincipalElement::Principal(p) => {
            !p.entries.is_empty()
                && p.entries
                    .iter()
                    .all(|e| e.account_principal() == Some(key_account))
        }
        PrincipalElement::NotPrincipal(_) => false,
    };
    let all_kms_actions = matches!(&statement.action, ActionElement::Action(actions)
        if actions.iter().any(|a| a == "*" || a.eq_ignore_ascii_case("kms:*")));
    let on_the_key = matches!(&statement.resource, ResourceElement::Resource(r)
        if r.iter().any(|x| x == "*"));
    statement.effect == Effect::Allow
        && statement.conditions.is_empty()
        && only_the_account
        && all_kms_actions
        && on_the_key
}

/// Accounts named by Allow statements: principal ARNs' and bare ids' accounts, plus values of
/// positive aws:PrincipalAccount / kms:CallerAccount conditions on statements open to "*". Service
/// principals have no account.
pub fn allowed_accounts(doc: &PolicyDocument) -> BTreeSet<String> {
    let mut accounts = BTreeSet::new();
    for statement in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
        if let PrincipalElement::Principal(p) = &statement.principal {
            accounts.extend(
                p.entries
                    .iter()
                    .filter_map(|e| e.account())
                    .map(str::to_string),
            );
        }
        if open_to_everyone(statement) {
            accounts.extend(condition_accounts(&statement.conditions));
        }
    }
    accounts
}

fn open_to_everyone(statement: &Statement) -> bool {
    match &statement.principal {
        PrincipalElement::Principal(p) => p.is_everyone(),
        PrincipalElement::NotPrincipal(_) => true,
    }
}

fn pins_caller(condition: &Condition) -> bool {
    condition.parsed().requires_match()
        && is_one_of(condition.key(), CALLER_PINNING_KEYS)
        && !condition.values().is_empty()
        && !condition.values().iter().any(|v| is_wildcard_only(v))
}

fn condition_accounts(conditions: &[Condition]) -> impl Iterator<Item = String> + '_ {
    conditions
        .iter()
        .filter(|c| c.parsed().is_positive_string() && is_one_of(c.key(), CALLER_ACCOUNT_KEYS))
        .flat_map(|c| c.values().iter())
        .filter(|v| is_account_id(v))
        .cloned()
}

/// Condition key names are case-insensitive.
fn is_one_of(key: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| k.eq_ignore_ascii_case(key))
}

#[cfg(test)]
mod tests;
