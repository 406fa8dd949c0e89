//! The rule trait, its metadata and the evaluation loop.

use crate::finding::{Finding, Severity, Status, Suppression};
use crate::model::{Inventory, KmsKey, Observed, XrayTarget};
use crate::policy::{Date, ExemptionMatch, OrgPolicy};

/// What every rule declares about itself. The `docs` live in the rule's own module, so
/// `xray-cmk explain` and the README cannot drift from the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case id; never renamed or reused.
    pub id: &'static str,
    /// One line: what the rule checks.
    pub summary: &'static str,
    pub severity: Severity,
    /// The xray-cmk version that introduced the rule.
    pub since: &'static str,
    /// Markdown with the sections *What it does*, *Why is this bad?*, *How to fix*, *Example*
    /// and *References*.
    pub docs: &'static str,
}

/// What rules judge against: the inventory, the organization's policy and today's date.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub policy: &'a OrgPolicy,
    pub today: Date,
}

/// A KMS key in use, with the account and region its findings are reported under.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    /// The id as the configuration referring to it reported it (a key ARN).
    pub id: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub key: &'a KmsKey,
}

/// A check. Target rules judge each account and region's X-Ray setup; key rules judge each KMS key
/// in use once, however many regions share it. A rule returns no finding when it does not apply
/// (the key rules on an AWS managed key), otherwise exactly one: pass, fail or error.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;

    fn check_target(&self, _target: &XrayTarget, _cx: &Context<'_>) -> Option<Finding> {
        None
    }

    fn check_key(&self, _key: &KeyRef<'_>, _cx: &Context<'_>) -> Option<Finding> {
        None
    }
}

/// Keys that were described, with where their findings belong: the key ARN's account and
/// region, else the first configuration using it. Keys `DescribeKey` could not read are left to the
/// target rules (`xray-key-unusable` reports them), so they do not repeat one error per key rule.
fn keys_in_use(inventory: &Inventory) -> Vec<KeyRef<'_>> {
    inventory
        .keys
        .iter()
        .filter(|(id, _)| !inventory.keys_judged_elsewhere.contains(*id))
        .filter_map(|(id, observed)| {
            let Observed::Known(key) = observed else {
                return None;
            };
            let (account, region) = key.account_region().or_else(|| {
                inventory
                    .targets_using(id)
                    .next()
                    .map(|t| (t.account.as_str(), t.region.as_str()))
            })?;
            Some(KeyRef {
                id,
                account,
                region,
                key,
            })
        })
        .collect()
}

/// Runs every rule over every target and key, applies the policy's exemptions, and orders the
/// results by account, region, then rule (registry order) and resource.
pub fn evaluate(cx: &Context<'_>) -> Vec<Finding> {
    let rules = crate::rules::ALL;
    let mut findings: Vec<Finding> = Vec::new();
    for target in &cx.inventory.targets {
        findings.extend(rules.iter().filter_map(|r| r.check_target(target, cx)));
    }
    for key in keys_in_use(cx.inventory) {
        findings.extend(rules.iter().filter_map(|r| r.check_key(&key, cx)));
    }
    let rank = |id: &str| rules.iter().position(|r| r.meta().id == id);
    findings.sort_by(|a, b| {
        (&a.account, &a.region, rank(a.rule), &a.resource).cmp(&(
            &b.account,
            &b.region,
            rank(b.rule),
            &b.resource,
        ))
    });
    for f in &mut findings {
        apply_exemption(f, cx.policy, cx.today);
    }
    findings
}

/// Marks a failure covered by an exemption. Suppressed results stay in the report; an expired
/// exemption is recorded on the finding, which stays a plain failure.
fn apply_exemption(f: &mut Finding, policy: &OrgPolicy, today: Date) {
    if f.status != Status::Fail {
        return;
    }
    let (exemption, expired) = match policy.exemption_for(&f.account, &f.region, f.rule, today) {
        ExemptionMatch::Active(e) => (e, false),
        ExemptionMatch::Expired(e) => (e, true),
        ExemptionMatch::None => return,
    };
    f.suppression = Some(Suppression {
        reason: exemption.reason.clone(),
        expires: exemption.expires.to_string(),
        expired,
    });
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::*;
    use crate::{Status, Summary};

    const EXEMPT: &str = r#"
[[exemptions]]
account = "111122223333"
region = "eu-west-1"
rule = "xray-default-encryption"
reason = "sandbox"
expires = EXPIRES
"#;

    fn evaluate_with(expires: &str) -> Vec<crate::Finding> {
        let inv = none_config();
        let pol = policy(&EXEMPT.replace("EXPIRES", expires));
        crate::evaluate(&context(&inv, &pol))
    }

    #[test]
    fn an_active_exemption_suppresses_but_keeps_the_result() {
        let findings = evaluate_with("2026-12-31");
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            f.status,
            Status::Fail,
            "never dropped, never turned into a pass"
        );
        assert!(f.is_suppressed());
        let s = Summary::from_findings(&findings);
        assert_eq!((s.compliant, s.failing, s.suppressed_results), (1, 0, 1));
        assert!(!Summary::has_failures_at_or_above(
            &findings,
            crate::Severity::Low
        ));
    }

    #[test]
    fn an_expired_exemption_stops_suppressing_and_says_so() {
        let findings = evaluate_with("2026-11-27");
        let f = &findings[0];
        assert!(!f.is_suppressed());
        let note = f
            .suppression
            .as_ref()
            .expect("the expired exemption is recorded");
        assert!(note.expired);
        assert_eq!(note.expires, "2026-11-27");
        let s = Summary::from_findings(&findings);
        assert_eq!((s.failing, s.suppressed_results), (1, 0));
    }
}
