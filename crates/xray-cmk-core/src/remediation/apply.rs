//! Applying a plan, the pure half: what each step's precondition means against what is observed
//! when the step is about to run, and the result document `apply --out` writes.
//!
//! The executor (in `xray-cmk-aws`) reads the current state, asks a `decide_*` function here, and
//! acts only on [`Decision::Run`]. A step whose effect is already in place is skipped, which is
//! what makes a re-run after a crash converge; a step whose precondition no longer holds is
//! refused, which stops its target.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::adopt::PlannedKey;
use super::key_policy::principal_for_policy;
use super::plan::{sha256_hex, Precondition, MANAGED_BY_TAG};
use crate::key_policy::{Context, Decision as PolicyDecision, PolicyDocument, Request};
use crate::model::{
    EncryptionType, KeyManager, KeyState, KmsKey, Observed, Origin, XrayEncryption, XrayTarget,
};
use crate::policy::{OrgPolicy, REVIEW_TAG_VALUE};
use crate::rules::ids;
use crate::{Date, RuleId};

/// Bumped when the result document changes incompatibly.
pub const RESULT_SCHEMA_VERSION: u32 = 2;

/// What to do with a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<T = ()> {
    Run(T),
    /// Its effect is already in place.
    Skip(String),
    /// Its precondition does not hold; the target stops here.
    Refuse(String),
}

/// A key as `DescribeKey` (and, for ours, `ListResourceTags`) shows it now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySnapshot {
    pub arn: String,
    pub state: Option<KeyState>,
    pub manager: Option<KeyManager>,
    pub spec: Option<String>,
    /// `KeyUsage`.
    pub usage: Option<String>,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`.
    pub origin: Option<String>,
    pub multi_region: Option<bool>,
    /// `None` when not read.
    pub tags: Option<BTreeMap<String, String>>,
    /// The `default` key policy; read only for a key `apply` might adopt (see [`super::adopt`]).
    pub policy: Option<String>,
}

impl KeySnapshot {
    /// Tagged `managed-by=xray-cmk`: claimed to be ours, which proves nothing by itself.
    pub fn is_ours(&self) -> bool {
        self.tags
            .as_ref()
            .and_then(|t| t.get(MANAGED_BY_TAG.0))
            .is_some_and(|v| v == MANAGED_BY_TAG.1)
    }

    fn state_name(&self) -> &str {
        self.state.as_ref().map_or("unknown", KeyState::as_str)
    }
}

/// How to satisfy a `create_key` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Create {
    /// Create the key, then its alias.
    New,
    /// A key made for this alias that no alias names (a crash between CreateKey and
    /// CreateAlias), and that is exactly the planned key: give it the alias instead of creating
    /// another.
    Adopt(String),
}

/// Why a step must not run, said to a person (it becomes [`Decision::Refuse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The deep checks' verdict that X-Ray could not use a key: the first rule that failed on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused: X-Ray could not use the key ({rule}: {message})")]
pub struct KeyUnusable {
    pub rule: RuleId,
    pub message: String,
}

/// Why an `--only` value is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnlyError {
    #[error("`{0}`: expected ACCOUNT or ACCOUNT/REGION with a 12-digit account id")]
    Account(String),
    #[error("`{only}`: {err}")]
    Region {
        only: String,
        err: crate::region::InvalidRegion,
    },
}

/// Tags a person still has to choose are never written.
pub fn review_tags(tags: &BTreeMap<String, String>) -> Result<(), Refusal> {
    let unset: Vec<&str> = tags
        .iter()
        .filter(|(_, v)| v.as_str() == REVIEW_TAG_VALUE)
        .map(|(k, _)| k.as_str())
        .collect();
    if unset.is_empty() {
        Ok(())
    } else {
        Err(Refusal(format!(
            "tag value{} for {} still `{REVIEW_TAG_VALUE}`: set them in the policy file's `[tags] values` and plan again",
            if unset.len() == 1 { "" } else { "s" },
            unset.join(", ")
        )))
    }
}

/// `create_key` under [`Precondition::AliasFreeOrOurs`]: `aliased` is the key the alias names
/// now, `candidates` the keys of ours tagged for this alias that no alias names (see
/// [`super::adopt`]: a key is reused or adopted only when it is the planned key).
pub fn decide_create_key(
    planned: &PlannedKey<'_>,
    aliased: Option<&KeySnapshot>,
    candidates: &[KeySnapshot],
    policy: &OrgPolicy,
    today: Date,
) -> Decision<Create> {
    let alias = planned.alias;
    if alias.starts_with("alias/aws/") {
        return Decision::Refuse(format!(
            "{alias} is reserved for AWS managed keys; set [keys] alias in the policy file"
        ));
    }
    match aliased {
        Some(key) if key.is_ours() && key.state != Some(KeyState::Enabled) => {
            Decision::Refuse(format!(
                "{alias} names xray-cmk's key {}, but it is {}: enable it (xray-cmk restore) or pick another alias",
                key.arn,
                key.state_name()
            ))
        }
        Some(key) if key.is_ours() => {
            let diffs = super::adopt::differences(key, planned, policy, today);
            if diffs.is_empty() {
                Decision::Skip(format!("{alias} already names xray-cmk's key {}", key.arn))
            } else {
                Decision::Refuse(format!(
                    "{alias} names a key tagged {}={}, but it is not the key the plan would create, so it is not used: {}. Make it the planned key again, or move the alias off it (aws kms delete-alias) so that apply creates one",
                    MANAGED_BY_TAG.0,
                    MANAGED_BY_TAG.1,
                    super::adopt::refusal(key, &diffs)
                ))
            }
        }
        Some(key) => Decision::Refuse(format!(
            "{alias} is already taken by another key, {} (not tagged {}={}): choose another [keys] alias, or point X-Ray at that key yourself",
            key.arn, MANAGED_BY_TAG.0, MANAGED_BY_TAG.1
        )),
        None => {
            if let Err(why) = review_tags(planned.tags) {
                return Decision::Refuse(why.0);
            }
            match super::adopt::choose(candidates, planned, policy, today) {
                Ok(Some(key)) => Decision::Run(Create::Adopt(key.arn.clone())),
                Ok(None) => Decision::Run(Create::New),
                Err(why) => Decision::Refuse(why),
            }
        }
    }
}

fn require_enabled(key: &KeySnapshot) -> Result<(), Refusal> {
    if key.state == Some(KeyState::Enabled) {
        Ok(())
    } else {
        Err(Refusal(format!(
            "precondition failed: key {} is {}, not Enabled",
            key.arn,
            key.state_name()
        )))
    }
}

/// `enable_rotation` under [`Precondition::KeyEnabled`].
pub fn decide_rotation(
    key: &KeySnapshot,
    enabled: bool,
    period_days: Option<u32>,
    planned_days: u32,
) -> Decision {
    if let Err(why) = require_enabled(key) {
        return Decision::Refuse(why.0);
    }
    if enabled && period_days == Some(planned_days) {
        Decision::Skip(format!("rotation is already on every {planned_days} days"))
    } else {
        Decision::Run(())
    }
}

/// `tag_key` under [`Precondition::KeyEnabled`]: `Run` carries the tags still missing.
pub fn decide_tags(
    key: &KeySnapshot,
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Decision<BTreeMap<String, String>> {
    if let Err(why) = require_enabled(key) {
        return Decision::Refuse(why.0);
    }
    let missing: BTreeMap<String, String> = want
        .iter()
        .filter(|(k, _)| have.get(*k).is_none_or(|v| v.trim().is_empty()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if missing.is_empty() {
        return Decision::Skip("the key already has these tags".to_owned());
    }
    match review_tags(&missing) {
        Ok(()) => Decision::Run(missing),
        Err(why) => Decision::Refuse(why.0),
    }
}

fn statement_sids(doc: &Value) -> Vec<String> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|s| s.get("Sid").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        Some(one) => one
            .get("Sid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

/// `merge_key_policy` under [`Precondition::KeyPolicyIs`]: `Run` carries the merged document.
/// The merge only appends, and is refused if the result would not let `caller` (who is about to
/// call `PutKeyPolicy`) administer the key any more.
pub fn decide_merge(
    key: &KeySnapshot,
    current: &str,
    statements: &[Value],
    planned_sha256: &str,
    caller: &str,
) -> Decision<Value> {
    if let Err(why) = require_enabled(key) {
        return Decision::Refuse(why.0);
    }
    let Ok(doc) = serde_json::from_str::<Value>(current) else {
        return Decision::Refuse(format!("the key policy of {} is not JSON", key.arn));
    };
    let have = statement_sids(&doc);
    let all_there = statements.iter().all(|s| {
        s.get("Sid")
            .and_then(Value::as_str)
            .is_some_and(|sid| have.iter().any(|h| h == sid))
    });
    if all_there {
        return Decision::Skip("the key policy already has these statements".to_owned());
    }
    if sha256_hex(current.as_bytes()) != planned_sha256 {
        return Decision::Refuse(format!(
            "precondition failed: the key policy of {} changed since the plan was made; plan again",
            key.arn
        ));
    }
    let Some(merged) = super::plan::merged_policy(current, statements) else {
        return Decision::Refuse(format!("the key policy of {} has no Statement", key.arn));
    };
    if let Err(why) = keeps_admin(&merged, caller) {
        return Decision::Refuse(why.0);
    }
    Decision::Run(merged)
}

/// KMS lockout safety, checked before KMS checks it: `caller` must still be allowed
/// `kms:PutKeyPolicy` under `policy`, either by the policy itself or through the account's IAM.
pub fn keeps_admin(policy: &Value, caller: &str) -> Result<(), Refusal> {
    let doc = PolicyDocument::parse(&policy.to_string())
        .map_err(|e| Refusal(format!("the key policy would not be valid: {e}")))?;
    let principal = principal_for_policy(caller);
    let cx = Context::new();
    match doc.evaluate(&Request::new(&principal, "kms:PutKeyPolicy", &cx)) {
        PolicyDecision::Allowed { .. } | PolicyDecision::DelegatedToIam { .. } => Ok(()),
        other => Err(Refusal(format!(
            "refused: the key policy would not let {principal} administer the key ({other}); KMS lockout safety"
        ))),
    }
}

/// What X-Ray is configured with now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayNow {
    pub encryption_type: EncryptionType,
    pub key_id: Option<String>,
}

/// `set_xray_encryption` under [`Precondition::XrayEncryptionIs`], to `key`.
pub fn decide_xray(now: &XrayNow, planned_from: &Precondition, key: &KeySnapshot) -> Decision {
    if now.encryption_type == EncryptionType::Kms && now.key_id.as_deref() == Some(key.arn.as_str())
    {
        return Decision::Skip(format!("X-Ray already uses {}", key.arn));
    }
    if let Precondition::XrayEncryptionIs {
        encryption_type,
        key_id,
    } = planned_from
    {
        if *encryption_type != now.encryption_type || *key_id != now.key_id {
            return Decision::Refuse(format!(
                "precondition failed: X-Ray is now {}{}, not {encryption_type}{} as planned; plan again",
                now.encryption_type,
                now.key_id.as_deref().map(|k| format!(" with {k}")).unwrap_or_default(),
                key_id.as_deref().map(|k| format!(" with {k}")).unwrap_or_default(),
            ));
        }
    }
    // The deep checks' verdict on what X-Ray can use: never switch to a key it cannot.
    if key.manager != Some(KeyManager::Customer) {
        return Decision::Refuse(format!("{} is not a customer managed key", key.arn));
    }
    if key.spec.as_deref() != Some("SYMMETRIC_DEFAULT") {
        return Decision::Refuse(format!(
            "{} is {}, and X-Ray only uses symmetric keys",
            key.arn,
            key.spec.as_deref().unwrap_or("of an unknown spec")
        ));
    }
    match require_enabled(key) {
        Ok(()) => Decision::Run(()),
        Err(why) => Decision::Refuse(why.0),
    }
}

/// The rules that say whether X-Ray can use a key.
const USABILITY_RULES: &[RuleId] = &[
    ids::XRAY_KEY_UNUSABLE,
    ids::XRAY_KEY_NOT_SYMMETRIC,
    ids::KMS_KEY_POLICY_XRAY_ACCESS,
];

/// The deep checks' verdict on whether X-Ray in (`account`, `region`) can use `key`: the rules
/// `xray-key-unusable`, `xray-key-not-symmetric` and `kms-key-policy-xray-access`, run over an
/// inventory in which X-Ray uses it. `Err` names the failing rule and why.
pub fn xray_can_use(
    key: KmsKey,
    account: &str,
    region: &str,
    policy: &OrgPolicy,
    today: Date,
) -> Result<(), KeyUnusable> {
    let target = XrayTarget {
        account: account.to_owned(),
        region: region.to_owned(),
        origin: Origin::Live,
        encryption: Observed::Known(XrayEncryption {
            encryption_type: EncryptionType::None,
            key_id: None,
            status: None,
        }),
        trails: None,
        segment_destination: None,
    };
    // Strict: an exemption does not make a key X-Ray cannot use usable.
    let findings = super::judge_key_in_use(&target, key, USABILITY_RULES, policy, today);
    match findings.first() {
        Some(f) => Err(KeyUnusable {
            rule: f.rule,
            message: f.message.clone(),
        }),
        None => Ok(()),
    }
}

/// The document `apply --out` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyResult {
    pub schema_version: u32,
    pub tool_version: String,
    pub plan_digest: String,
    pub caller: String,
    pub started_at: String,
    pub finished_at: String,
    pub targets: Vec<TargetResult>,
    pub summary: ApplySummary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ApplySummary {
    /// Targets where at least one step changed something and none failed.
    pub applied: usize,
    /// Targets where every step was already in place.
    pub unchanged: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Applied,
    Unchanged,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetResult {
    pub account: String,
    pub region: String,
    pub status: TargetStatus,
    pub steps: Vec<StepResult>,
    /// In words, what the target was left with: what was done, what was already so, what did
    /// not run.
    pub state: String,
    /// Keys this run created and then discarded (it lost the race for the alias to another run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discarded_keys: Vec<DiscardedKey>,
}

/// A key `apply` created, then discarded because another run's key got the alias first: tagged
/// [`super::plan::ORPHAN_TAG`], disabled and scheduled for deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscardedKey {
    pub key: String,
    pub alias: String,
    /// The key the alias names: the one the target carries on with.
    pub winner: String,
    /// The [`super::plan::ORPHAN_TAG`] value it was given.
    pub reason: String,
    /// When KMS deletes it (RFC 3339), as `ScheduleKeyDeletion` answered.
    pub deletion_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Skipped,
    Failed,
    NotRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepResult {
    /// 1-based, as the plan prints it.
    pub step: usize,
    pub action: &'static str,
    pub outcome: Outcome,
    pub message: String,
    /// When an AWS call failing is what stopped the step (denied, throttled, unreachable): its
    /// kind. In the pre-flight, which only reads, such a step means the target could not be read
    /// (exit 3), where any other failure is a refusal (exit 2).
    #[serde(skip)]
    pub failed_call: Option<crate::ErrorKind>,
}

impl TargetResult {
    /// The result of a target from its step results, in plan order.
    pub fn from_steps(account: &str, region: &str, steps: Vec<StepResult>) -> TargetResult {
        let status = if steps.iter().any(|s| s.outcome == Outcome::Failed) {
            TargetStatus::Failed
        } else if steps.iter().any(|s| s.outcome == Outcome::Done) {
            TargetStatus::Applied
        } else {
            TargetStatus::Unchanged
        };
        let names = |o: Outcome| -> Vec<String> {
            steps
                .iter()
                .filter(|s| s.outcome == o)
                .map(|s| format!("{}. {}", s.step, s.action))
                .collect()
        };
        let mut parts = Vec::new();
        for (label, o) in [
            ("done", Outcome::Done),
            ("already in place", Outcome::Skipped),
            ("failed", Outcome::Failed),
            ("not run", Outcome::NotRun),
        ] {
            let n = names(o);
            if !n.is_empty() {
                parts.push(format!("{label}: {}", n.join(", ")));
            }
        }
        TargetResult {
            account: account.to_owned(),
            region: region.to_owned(),
            status,
            steps,
            state: if parts.is_empty() {
                "no steps".to_owned()
            } else {
                parts.join("; ")
            },
            discarded_keys: Vec::new(),
        }
    }
}

impl ApplySummary {
    pub fn of(targets: &[TargetResult]) -> ApplySummary {
        let count = |s: TargetStatus| targets.iter().filter(|t| t.status == s).count();
        ApplySummary {
            applied: count(TargetStatus::Applied),
            unchanged: count(TargetStatus::Unchanged),
            failed: count(TargetStatus::Failed),
        }
    }
}

/// `ACCOUNT` or `ACCOUNT/REGION`, as `--only` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Only {
    pub account: String,
    pub region: Option<String>,
}

impl std::str::FromStr for Only {
    type Err = OnlyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (account, region) = match s.split_once('/') {
            Some((a, r)) => (a, Some(r)),
            None => (s, None),
        };
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OnlyError::Account(s.to_owned()));
        }
        if let Some(r) = region {
            crate::region::validate_region(r).map_err(|err| OnlyError::Region {
                only: s.to_owned(),
                err,
            })?;
        }
        Ok(Only {
            account: account.to_owned(),
            region: region.map(str::to_owned),
        })
    }
}

/// Whether (`account`, `region`) is in scope: no `--only`, or one of them matches.
pub fn in_scope(only: &[Only], account: &str, region: &str) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|o| o.account == account && o.region.as_deref().is_none_or(|r| r == region))
}

#[cfg(test)]
mod tests;
