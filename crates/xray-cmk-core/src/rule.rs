//! The rule trait, its metadata and the evaluation loop.

use crate::finding::{Finding, Severity, Status, Suppression};
use crate::model::{Inventory, KmsKey, Observed, XrayTarget};
use crate::policy::{Date, ExemptionMatch, OrgPolicy};

/// A rule's stable kebab-case id (`xray-default-encryption`), never renamed or reused. Each rule's
/// module defines its own `ID`; [`crate::rules::ids`] exports them all. It serialises, displays
/// and compares as the plain string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(&'static str);

impl RuleId {
    pub(crate) const fn new(id: &'static str) -> Self {
        Self(id)
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so width and alignment (`{:<40}`) apply as they do to the plain string.
        f.pad(self.0)
    }
}

impl std::ops::Deref for RuleId {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for RuleId {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl std::borrow::Borrow<str> for RuleId {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for RuleId {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_str()
    }
}

impl PartialEq<RuleId> for str {
    fn eq(&self, other: &RuleId) -> bool {
        self == other.0
    }
}

impl PartialEq<RuleId> for &str {
    fn eq(&self, other: &RuleId) -> bool {
        *self == other.0
    }
}

impl PartialEq<RuleId> for String {
    fn eq(&self, other: &RuleId) -> bool {
        self.as_str() == other.0
    }
}

impl serde::Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// What every rule declares about itself. The `docs` live in the rule's own module, so
/// `xray-cmk explain` and the README cannot drift from the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case id; never renamed or reused.
    pub id: RuleId,
    /// One line: what the rule checks.
    pub summary: &'static str,
    pub severity: Severity,
    /// The xray-cmk version that introduced the rule.
    pub since: &'static str,
    /// Markdown with the sections *What it does*, *Why is this bad?*, *How to fix*, *Example*
    /// and *References*.
    pub docs: &'static str,
    /// What the rule reads, so a scan collects only what the selected rules need.
    pub inputs: &'static [Input],
}

/// A part of the inventory that costs API calls to collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `xray:GetEncryptionConfig`, per region.
    Encryption,
    /// `kms:DescribeKey`, per key in use.
    KeyMetadata,
    /// Rotation, key policy, tags and aliases, per key in use.
    KeyDetails,
    /// Trails covering each region, and each trail's status and selectors.
    Trails,
    /// `xray:GetTraceSegmentDestination` and the `aws/spans` log group, per region.
    SegmentDestination,
    /// `iam:SimulatePrincipalPolicy`, for the access a key policy leaves to IAM.
    IamSimulation,
    /// `kms:ListKeys` and `kms:ListAliases` per region, `kms:ListResourceTags` of each key no
    /// alias names, and `kms:DescribeKey` of those tagged as xray-cmk's.
    KeyListing,
    /// AWS Config's recorders and rules, and EventBridge's rules and their targets, per region.
    Guardrail,
    /// The SCPs on each account's path from the organization's root (an `--org` scan).
    Scp,
}

/// What a set of rules needs collected. The X-Ray configuration is always read: it is what
/// every target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub key_metadata: bool,
    pub key_details: bool,
    pub trails: bool,
    pub segment_destination: bool,
    pub iam_simulation: bool,
    pub key_listing: bool,
    pub guardrail: bool,
    pub scp: bool,
}

impl Needs {
    pub fn of(rules: &[&dyn Rule]) -> Self {
        let mut n = Needs::default();
        for input in rules.iter().flat_map(|r| r.meta().inputs) {
            match input {
                Input::Encryption => {}
                Input::KeyMetadata => n.key_metadata = true,
                Input::KeyDetails => n.key_details = true,
                Input::Trails => n.trails = true,
                Input::SegmentDestination => n.segment_destination = true,
                Input::IamSimulation => n.iam_simulation = true,
                Input::KeyListing => n.key_listing = true,
                Input::Guardrail => n.guardrail = true,
                Input::Scp => n.scp = true,
            }
        }
        n
    }
}

/// The rules whose ids match any of `include` and none of `exclude`; patterns may use `*`
/// (`kms-*`). An empty `include` means every rule but the opt-in ones
/// ([`crate::rules::OPT_IN`], which run only when `include` names them). A pattern that matches
/// no rule is an error, so typos do not silently narrow an audit.
pub fn select(
    include: &[String],
    exclude: &[String],
) -> Result<Vec<&'static dyn Rule>, SelectError> {
    let all: &[&'static dyn Rule] = &crate::rules::EVERY;
    for pattern in include.iter().chain(exclude) {
        if !all.iter().any(|r| glob(pattern, r.meta().id.as_str())) {
            return Err(SelectError::NoMatch(pattern.clone()));
        }
    }
    let chosen: Vec<&'static dyn Rule> = all
        .iter()
        .copied()
        .filter(|r| match include.is_empty() {
            true => !crate::rules::is_opt_in(*r),
            false => include.iter().any(|p| glob(p, r.meta().id.as_str())),
        })
        .filter(|r| !exclude.iter().any(|p| glob(p, r.meta().id.as_str())))
        .collect();
    if chosen.is_empty() {
        return Err(SelectError::NothingLeft);
    }
    Ok(chosen)
}

/// Why `--rules` / `--skip-rules` select nothing runnable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("`{0}` matches no rule (see `xray-cmk rules`)")]
    NoMatch(String),
    #[error("no rule left to run")]
    NothingLeft,
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob(rest, &tail[i..]))
        }
    }
}

/// What rules judge against: the inventory, the organization's policy and today's date.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub policy: &'a OrgPolicy,
    pub today: Date,
    /// The rules to run: [`crate::rules::ALL`], or a selection from [`select`].
    pub rules: &'a [&'a dyn Rule],
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("targets", &self.inventory.targets.len())
            .field("today", &self.today)
            .field("rules", &self.rules.len())
            .finish()
    }
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
/// in use once, however many regions share it; key-use rules judge a key for each target whose
/// X-Ray uses it, since who must be able to use a key depends on the account using it. A rule
/// returns no finding when it does not apply (the key rules on an AWS managed key), otherwise
/// exactly one: pass, fail or error.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;

    fn check_target(&self, _target: &XrayTarget, _cx: &Context<'_>) -> Option<Finding> {
        None
    }

    fn check_key(&self, _key: &KeyRef<'_>, _cx: &Context<'_>) -> Option<Finding> {
        None
    }

    /// The key `key` as X-Ray in `target` uses it; the finding is the target's.
    fn check_key_use(
        &self,
        _key: &KeyRef<'_>,
        _target: &XrayTarget,
        _cx: &Context<'_>,
    ) -> Option<Finding> {
        None
    }

    /// Rules that judge the inventory as a whole (Terraform root modules).
    fn check_inventory(&self, _cx: &Context<'_>) -> Vec<Finding> {
        Vec::new()
    }
}

/// The key rules that judge every key an inventory holds. The others judge keys X-Ray uses: a
/// Terraform module also declares keys for other services, whose policies need not let X-Ray in
/// and whose tags the X-Ray policy does not govern. (A live inventory holds only keys in use.)
const ANY_KEY_RULES: &[RuleId] = &[
    crate::rules::ids::KMS_ROTATION_DISABLED,
    crate::rules::ids::KMS_ROTATION_PERIOD_TOO_LONG,
    crate::rules::ids::KMS_KEY_POLICY_PUBLIC,
];

/// Whether the key rule `meta` judges every key an inventory holds, not only keys X-Ray uses.
pub(crate) fn judges_any_key(meta: &RuleMeta) -> bool {
    ANY_KEY_RULES.contains(&meta.id)
}

/// Keys that were described, with where their findings belong: the key ARN's account and
/// region, else the first configuration using it; a key read across accounts because its owner is
/// not in the scan, under the account that read it. Keys that could not be described get an error
/// of every key rule instead ([`crate::rules::unknown_keys`]).
fn described_keys(inventory: &Inventory) -> impl Iterator<Item = KeyRef<'_>> {
    inventory.keys.iter().filter_map(|(id, observed)| {
        let Observed::Known(key) = observed else {
            return None;
        };
        let first_use = || {
            inventory
                .targets_using(id)
                .next()
                .map(|t| (t.account.as_str(), t.region.as_str()))
        };
        let (account, region) = if inventory.keys_read_across_accounts.contains(id) {
            let (reader, used_in) = first_use()?;
            (reader, key.account_region().map_or(used_in, |(_, r)| r))
        } else {
            key.account_region().or_else(first_use)?
        };
        Some(KeyRef {
            id,
            account,
            region,
            key,
        })
    })
}

/// The keys whose own findings this inventory reports: another account's inventory of the same
/// scan reports those in `keys_judged_elsewhere`.
fn keys_in_use(inventory: &Inventory) -> Vec<KeyRef<'_>> {
    described_keys(inventory)
        .filter(|k| !inventory.keys_judged_elsewhere.contains(k.id))
        .collect()
}

/// Runs every rule over every target and key, applies the policy's exemptions, and orders the
/// results by account, region, then rule (registry order) and resource. Every target gets a
/// result of every rule that applies to it; where its input could not be read, an `error`:
/// key rules included, for a key that could not be seen.
pub fn evaluate(cx: &Context<'_>) -> Vec<Finding> {
    let rules = cx.rules;
    let mut findings: Vec<Finding> = Vec::new();
    // A live audit says where each result was read: the target's X-Ray configuration from an
    // AWS Config item for the results about it (and about its use of a key), otherwise live.
    let live = cx
        .inventory
        .targets
        .iter()
        .any(|t| matches!(t.origin, crate::Origin::Live));
    let read_from = |target: Option<&crate::XrayTarget>| -> Option<crate::model::ReadFrom> {
        if !live {
            return None;
        }
        let captured = target.and_then(|t| {
            cx.inventory
                .config_sourced
                .get(&(t.account.clone(), t.region.clone()))
        });
        Some(captured.map_or(crate::model::ReadFrom::Live, |c| {
            crate::model::ReadFrom::Config(c.clone())
        }))
    };
    let stamped = |mut f: Finding, target: Option<&crate::XrayTarget>| {
        f.source = read_from(target);
        f
    };
    for target in &cx.inventory.targets {
        findings.extend(
            rules
                .iter()
                .filter_map(|r| r.check_target(target, cx))
                .map(|f| stamped(f, Some(target))),
        );
    }
    for key in keys_in_use(cx.inventory) {
        let used = cx.inventory.targets_using(key.id).next().is_some();
        findings.extend(
            rules
                .iter()
                .filter(|r| used || judges_any_key(r.meta()))
                .filter_map(|r| r.check_key(&key, cx))
                .map(|f| stamped(f, None)),
        );
    }
    for key in described_keys(cx.inventory) {
        for target in cx.inventory.targets_using(key.id) {
            findings.extend(
                rules
                    .iter()
                    .filter_map(|r| r.check_key_use(&key, target, cx))
                    .map(|f| stamped(f, Some(target))),
            );
        }
    }
    findings.extend(
        crate::rules::unknown_keys(cx.inventory, rules)
            .into_iter()
            .map(|f| stamped(f, None)),
    );
    for rule in rules {
        findings.extend(
            rule.check_inventory(cx)
                .into_iter()
                .map(|f| stamped(f, None)),
        );
    }
    sort_findings(&mut findings);
    for f in &mut findings {
        apply_exemption(f, cx.policy, cx.today);
    }
    findings
}

/// The report order: account, region, rule (registry order), resource. Accounts of an
/// organization scan finish in any order; reports read in this one.
pub fn sort_findings(findings: &mut [Finding]) {
    let rank = |id: &str| crate::rules::EVERY.iter().position(|r| r.meta().id == id);
    findings.sort_by(|a, b| {
        (&a.account, &a.region, rank(a.rule.as_str()), &a.resource).cmp(&(
            &b.account,
            &b.region,
            rank(b.rule.as_str()),
            &b.resource,
        ))
    });
}

/// Marks a failure covered by an exemption. Suppressed results stay in the report; an expired
/// exemption is recorded on the finding, which stays a plain failure.
fn apply_exemption(f: &mut Finding, policy: &OrgPolicy, today: Date) {
    if f.status != Status::Fail {
        return;
    }
    let (exemption, expired) =
        match policy.exemption_for(&f.account, &f.region, f.rule.as_str(), today) {
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
    use super::{glob, select, Needs};
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
        // xray-default-encryption's failure, and kms-orphaned-xray-cmk-key's pass.
        assert_eq!(findings.len(), 2);
        let f = &findings[0];
        assert_eq!(f.rule, "xray-default-encryption");
        // Displayed like the plain string, width and alignment included.
        assert_eq!(
            format!("[{:<25}]", f.rule),
            format!("[{:<25}]", "xray-default-encryption")
        );
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
    fn selection_by_pattern_and_what_it_needs() {
        assert!(glob("kms-*", "kms-rotation-disabled"));
        assert!(glob("*-managed-*", "xray-aws-managed-key"));
        assert!(!glob("*-key-*", "xray-aws-managed-key"));
        assert!(!glob("kms-*", "xray-key-unusable"));
        let xray = select(&["xray-*".into()], &["xray-spans-not-cmk".into()]).expect("rules");
        assert!(xray.iter().all(|r| r.meta().id.starts_with("xray-")));
        let needs = Needs::of(&xray);
        assert!(
            needs.key_metadata && needs.key_details,
            "xray-key-not-approved reads aliases"
        );
        assert!(!needs.trails && !needs.segment_destination);
        let core = select(
            &[
                "xray-default-encryption".into(),
                "xray-key-unusable".into(),
                "xray-aws-managed-key".into(),
            ],
            &[],
        )
        .expect("rules");
        assert_eq!(
            Needs::of(&core),
            Needs {
                key_metadata: true,
                ..Needs::default()
            }
        );
        assert!(select(&["no-such-*".into()], &[]).is_err());
        assert!(select(&[], &["*".into()]).is_err());
        assert_eq!(
            select(&[], &[]).expect("all").len(),
            crate::rules::ALL.len()
        );
        let guard = select(&["guard-*".into()], &[]).expect("rules");
        let ids: Vec<&str> = guard.iter().map(|r| r.meta().id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "guard-config-rule-missing",
                "guard-drift-alert-missing",
                "guard-scp-missing"
            ]
        );
        assert_eq!(
            Needs::of(&guard),
            Needs {
                guardrail: true,
                scp: true,
                ..Needs::default()
            }
        );
        assert!(select(&[], &[])
            .expect("defaults")
            .iter()
            .all(|r| !r.meta().id.starts_with("guard-")));
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
