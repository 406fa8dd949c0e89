//! The remediation plan: typed, serialisable, versioned and sealed with a digest.
//!
//! Planning is pure. It reads an inventory, the findings of the rules and the policy, and says per
//! account and region which steps would make the target compliant and what each step assumes.
//! Before it proposes anything it predicts the state the steps would leave and judges that with
//! the same rules: a key is fixed in place only when the fixed key would pass, and a new key is
//! proposed only when a key made from the policy file would pass. `apply` re-checks each
//! precondition before acting (see [`super::apply`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::model::{
    arn_account_region, EncryptionType, Inventory, KeyManager, KeyState, KmsKey, Observed,
    Rotation, XrayEncryption, XrayTarget,
};
use crate::policy::{OrgPolicy, REVIEW_TAG_VALUE};
use crate::rules::ids;
use crate::{Date, Finding, Rule, RuleId, Status};

/// Bumped when a plan written by one version cannot be applied by another.
pub const PLAN_SCHEMA_VERSION: u32 = 3;

/// The tag every key xray-cmk creates carries, so a re-run finds it instead of creating another.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "xray-cmk");
/// The tag naming the alias a created key is meant for: a key left without its alias by a crash
/// is found by it and adopted, never created twice.
pub const ALIAS_TAG: &str = "xray-cmk-alias";
/// The tag xray-cmk gives a key it discards, its value saying why ([`LOST_ALIAS_RACE`]): such a
/// key is never adopted, and `kms-orphaned-xray-cmk-key` reports it until it is deleted.
pub const ORPHAN_TAG: &str = "xray-cmk-orphan";
/// [`ORPHAN_TAG`]'s value on the key of a run that lost the race for its alias to another run.
pub const LOST_ALIAS_RACE: &str = "lost-alias-race";
/// The waiting period of a discarded key's deletion: the longest KMS allows, so that a key
/// discarded by mistake can still be recovered (`CancelKeyDeletion`).
pub const DISCARD_WINDOW_DAYS: i32 = 30;

/// The rules whose failures `apply` can fix. The others (CloudTrail coverage, the Transaction
/// Search log group) are reported in the plan as left for a person.
pub const FIXABLE_RULES: &[RuleId] = &[
    ids::XRAY_DEFAULT_ENCRYPTION,
    ids::XRAY_KEY_UNUSABLE,
    ids::XRAY_AWS_MANAGED_KEY,
    ids::XRAY_KEY_NOT_SYMMETRIC,
    ids::XRAY_KEY_NOT_APPROVED,
    ids::KMS_ROTATION_DISABLED,
    ids::KMS_ROTATION_PERIOD_TOO_LONG,
    ids::KMS_KEY_POLICY_PUBLIC,
    ids::KMS_KEY_POLICY_XRAY_ACCESS,
    ids::KMS_KEY_POLICY_DEFAULT_ONLY,
    ids::KMS_KEY_POLICY_UNAPPROVED_CROSS_ACCOUNT,
    ids::KMS_KEY_MISSING_TAGS,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub schema_version: u32,
    /// The xray-cmk version that wrote it.
    pub tool_version: String,
    /// RFC 3339.
    pub generated_at: String,
    /// Who planned it (`sts:GetCallerIdentity`); generated key policies keep this principal as an
    /// administrator.
    pub caller: String,
    /// SHA-256 of the plan with this field empty: an edited plan is refused. It detects edits,
    /// it does not authenticate: review the plan, then apply that file.
    pub digest: String,
    pub targets: Vec<TargetPlan>,
}

/// The ordered steps for one account and region. An empty list means nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetPlan {
    pub account: String,
    pub region: String,
    /// The principal that will act in this account, as IAM names it (see
    /// [`acting_principal`]): generated key policies keep it as an administrator, and `apply`
    /// refuses the target when it would act as anyone else.
    pub principal: String,
    pub steps: Vec<Step>,
    /// Why the target is left alone, when it is (unreadable, or nothing to fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Failing rules this plan does not fix, for a person to handle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfixed: Vec<Unfixed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unfixed {
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub action: Action,
    /// What must still be true when the step runs; otherwise it is skipped or refused.
    pub precondition: Precondition,
    /// The rules that asked for it.
    pub because: String,
}

/// A key, by ARN when it exists, or by the alias a previous step of the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRef {
    Arn(String),
    Alias(String),
}

impl KeyRef {
    /// The ARN or alias, as KMS accepts it for `KeyId`.
    pub fn id(&self) -> &str {
        match self {
            KeyRef::Arn(a) | KeyRef::Alias(a) => a,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// A symmetric `ENCRYPT_DECRYPT` key with this alias, tags and key policy.
    CreateKey {
        alias: String,
        description: String,
        tags: BTreeMap<String, String>,
        policy: Value,
    },
    EnableRotation {
        key: KeyRef,
        period_days: u32,
    },
    /// Add these tags; tags the key already has are kept.
    TagKey {
        key: KeyRef,
        tags: BTreeMap<String, String>,
    },
    /// Append these statements to the key policy; nothing is removed.
    MergeKeyPolicy {
        key: KeyRef,
        statements: Vec<Value>,
    },
    /// `PutEncryptionConfig` with Type `KMS` and the key's ARN, then wait until `ACTIVE`.
    SetXrayEncryption {
        key: KeyRef,
    },
    /// Write a marked segment and read it back.
    Verify,
}

impl Action {
    /// The action's name as it appears in JSON (`create_key`).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateKey { .. } => "create_key",
            Action::EnableRotation { .. } => "enable_rotation",
            Action::TagKey { .. } => "tag_key",
            Action::MergeKeyPolicy { .. } => "merge_key_policy",
            Action::SetXrayEncryption { .. } => "set_xray_encryption",
            Action::Verify => "verify",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Precondition {
    /// The alias is free, or already names a key tagged as xray-cmk's (a re-run reuses it).
    AliasFreeOrOurs {
        alias: String,
    },
    /// The key exists and is enabled.
    KeyEnabled {
        key: KeyRef,
    },
    /// The key policy is still the one the plan was made from (SHA-256 of its text).
    KeyPolicyIs {
        key: KeyRef,
        sha256: String,
    },
    /// X-Ray still has the configuration the plan was made from.
    XrayEncryptionIs {
        encryption_type: EncryptionType,
        key_id: Option<String>,
    },
    None,
}

/// Why a plan file cannot be used. Each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("not a plan file: {0}")]
    Malformed(String),
    #[error("the plan has schema_version {found}; this xray-cmk (version {tool}) applies schema_version {expected} only. Run `xray-cmk plan` again with this version")]
    Version {
        found: String,
        expected: u32,
        tool: String,
    },
    #[error("the plan was edited after `xray-cmk plan` wrote it (digest {found}, content hashes to {actual}). Review changes in the policy file instead, and plan again")]
    Edited { found: String, actual: String },
}

impl Plan {
    /// A plan with its digest computed.
    pub fn sealed(
        tool_version: &str,
        generated_at: &str,
        caller: &str,
        targets: Vec<TargetPlan>,
    ) -> Plan {
        let mut plan = Plan {
            schema_version: PLAN_SCHEMA_VERSION,
            tool_version: tool_version.to_owned(),
            generated_at: generated_at.to_owned(),
            caller: caller.to_owned(),
            digest: String::new(),
            targets,
        };
        plan.digest = plan.content_digest();
        plan
    }

    /// SHA-256 of the plan's canonical JSON (object keys sorted, no whitespace) with `digest`
    /// empty. Canonical, so the digest does not depend on how a JSON library orders keys.
    pub fn content_digest(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.digest = String::new();
        let value = serde_json::to_value(&unsealed).unwrap_or_default();
        sha256_hex(crate::canonical_json(&value).as_bytes())
    }

    /// Reads a plan file: valid JSON, this schema version, and not edited since it was written.
    pub fn from_json(text: &str, tool_version: &str) -> Result<Plan, PlanFileError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PlanFileError::Malformed(e.to_string()))?;
        let found = value.get("schema_version");
        if found.and_then(Value::as_u64) != Some(u64::from(PLAN_SCHEMA_VERSION)) {
            return Err(PlanFileError::Version {
                found: found.map_or_else(|| "none".to_owned(), Value::to_string),
                expected: PLAN_SCHEMA_VERSION,
                tool: tool_version.to_owned(),
            });
        }
        let plan: Plan =
            serde_json::from_value(value).map_err(|e| PlanFileError::Malformed(e.to_string()))?;
        let actual = plan.content_digest();
        if plan.digest != actual {
            return Err(PlanFileError::Edited {
                found: plan.digest,
                actual,
            });
        }
        Ok(plan)
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What planning needs besides the inventory.
pub struct PlanInput<'a> {
    pub policy: &'a OrgPolicy,
    pub today: Date,
    /// The generated key policy for a new key in (account, region), naming `principal` of that
    /// account as an administrator.
    pub key_policy: &'a dyn Fn(&str, &str) -> Value,
    /// Who will act in an account (its [`acting_principal`]): a key policy is merged only if this
    /// principal may change it, else the key is replaced.
    pub principal: &'a dyn Fn(&str) -> String,
}

/// The principal that acts in `account`, as IAM names it, for a caller `caller_arn` that reaches
/// other accounts by assuming `role_name` there (what `plan`, `apply` and the audit fan-out do):
/// in the caller's own account, the caller (an assumed-role session as its role); in any other,
/// the role assumed there.
pub fn acting_principal(caller_arn: &str, account: &str, role_name: &str) -> String {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let partition = parts.get(1).copied().unwrap_or("aws");
    let caller_account = parts.get(4).copied().unwrap_or_default();
    if caller_account == account {
        super::key_policy::principal_for_policy(caller_arn)
    } else {
        format!("arn:{partition}:iam::{account}:role/{role_name}")
    }
}

/// Plans every target of `inventory`, judged by the rules a run without `--rules` uses.
pub fn plan_targets(inventory: &Inventory, input: &PlanInput<'_>) -> Vec<TargetPlan> {
    plan_targets_with(inventory, input, crate::rules::ALL)
}

/// As [`plan_targets`], judged by `rules`: what they fail that `apply` does not fix is listed
/// in each target's `unfixed` (the guardrail rules, when selected).
pub fn plan_targets_with(
    inventory: &Inventory,
    input: &PlanInput<'_>,
    rules: &[&dyn Rule],
) -> Vec<TargetPlan> {
    let findings = judge(inventory, input, rules);
    inventory
        .targets
        .iter()
        .map(|t| plan_target(t, inventory, &findings, input))
        .collect()
}

fn judge(inventory: &Inventory, input: &PlanInput<'_>, rules: &[&dyn Rule]) -> Vec<Finding> {
    crate::evaluate(&crate::Context {
        inventory,
        policy: input.policy,
        today: input.today,
        rules,
    })
}

fn open_failures<'f>(findings: &'f [Finding], t: &XrayTarget) -> Vec<&'f Finding> {
    findings
        .iter()
        .filter(|f| f.account == t.account && f.region == t.region && f.is_open_failure())
        .collect()
}

/// The tags remediation gives a key: required tags with the policy's values (or `REVIEW`), any
/// other values the policy sets, and xray-cmk's own.
pub fn tags_for(policy: &OrgPolicy, alias: Option<&str>) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = policy
        .tags
        .required
        .iter()
        .map(|t| (t.clone(), REVIEW_TAG_VALUE.to_owned()))
        .collect();
    tags.extend(policy.tags.values.clone());
    tags.insert(MANAGED_BY_TAG.0.to_owned(), MANAGED_BY_TAG.1.to_owned());
    if let Some(alias) = alias {
        tags.insert(ALIAS_TAG.to_owned(), alias.to_owned());
    }
    tags
}

/// Whether X-Ray can keep the key it has: a customer managed, enabled, symmetric key.
fn usable_cmk(key: Option<&Observed<KmsKey>>) -> Option<&KmsKey> {
    match key? {
        Observed::Known(k)
            if k.key_manager == Some(KeyManager::Customer)
                && k.key_state == Some(KeyState::Enabled)
                && k.key_spec.as_deref() == Some("SYMMETRIC_DEFAULT") =>
        {
            Some(k)
        }
        _ => None,
    }
}

fn encryption_precondition(enc: &XrayEncryption) -> Precondition {
    Precondition::XrayEncryptionIs {
        encryption_type: enc.encryption_type.clone(),
        key_id: enc.key_id.clone(),
    }
}

fn rule_list(findings: &[&Finding]) -> String {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    ids.dedup();
    ids.join(" / ")
}

fn plan_target(
    t: &XrayTarget,
    inventory: &Inventory,
    findings: &[Finding],
    input: &PlanInput<'_>,
) -> TargetPlan {
    let mut out = TargetPlan {
        account: t.account.clone(),
        region: t.region.clone(),
        principal: (input.principal)(&t.account),
        steps: Vec::new(),
        note: None,
        unfixed: Vec::new(),
    };
    let failing = open_failures(findings, t);
    out.unfixed = failing
        .iter()
        .filter(|f| !FIXABLE_RULES.contains(&f.rule))
        .map(|f| Unfixed {
            rule: f.rule.to_string(),
            message: f.message.clone(),
        })
        .collect();
    let enc = match &t.encryption {
        Observed::Known(e) => e,
        Observed::Unknown(err) => {
            out.note = Some(format!("not planned: {err}"));
            return out;
        }
    };
    let to_fix: Vec<&Finding> = failing
        .into_iter()
        .filter(|f| FIXABLE_RULES.contains(&f.rule))
        .collect();
    let undecided: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.account == t.account && f.region == t.region)
        .filter(|f| f.status == Status::Error && FIXABLE_RULES.contains(&f.rule))
        .collect();
    if to_fix.is_empty() {
        out.note = Some(match undecided.first() {
            Some(f) => format!("not planned: {} could not decide: {}", f.rule, f.message),
            None => "nothing to change".to_owned(),
        });
        return out;
    }
    let current = match enc.encryption_type {
        EncryptionType::Kms => inventory.key_for(enc),
        _ => None,
    };
    let kept = usable_cmk(current)
        .filter(|k| k.account_region() == Some((t.account.as_str(), t.region.as_str())))
        .and_then(|k| fix_in_place(t, k, &to_fix, input));
    match kept {
        Some(steps) => out.steps = steps,
        None => match replace(t, enc, &to_fix, input) {
            Ok(steps) => out.steps = steps,
            Err(why) => out.note = Some(why),
        },
    }
    out
}

/// A single-target inventory with `key` in use, judged by the fixable rules.
fn predicted_failures(t: &XrayTarget, key: KmsKey, input: &PlanInput<'_>) -> Vec<Finding> {
    // An accepted deviation (an active exemption) is not something to fix.
    super::judge_key_in_use(t, key, FIXABLE_RULES, input.policy, input.today)
        .into_iter()
        .filter(|f| !f.is_suppressed())
        .collect()
}

/// The statements of the generated policy a key's policy lacks (by `Sid`), the root statement
/// aside: an existing key already has its recovery path, or KMS would not have let it be made.
fn missing_statements(existing: &str, generated: &Value) -> Option<Vec<Value>> {
    let existing: Value = serde_json::from_str(existing).ok()?;
    let sids: Vec<&str> = match existing.get("Statement")? {
        Value::Array(items) => items
            .iter()
            .filter_map(|s| s.get("Sid").and_then(Value::as_str))
            .collect(),
        one => one.get("Sid").and_then(Value::as_str).into_iter().collect(),
    };
    let statements = generated.get("Statement")?.as_array()?;
    Some(
        statements
            .iter()
            .filter(|s| {
                let sid = s.get("Sid").and_then(Value::as_str).unwrap_or_default();
                sid != crate::remediation::key_policy::ROOT_SID && !sids.contains(&sid)
            })
            .cloned()
            .collect(),
    )
}

/// An existing key gets no administrator it did not have, except those the policy file requires:
/// the generated admin statement also names the caller, which is right for a new key only.
fn without_new_admins(statements: Vec<Value>, key_admins: &[String]) -> Vec<Value> {
    statements
        .into_iter()
        .filter_map(|mut s| {
            if s.get("Sid").and_then(Value::as_str)
                != Some(crate::remediation::key_policy::ADMIN_SID)
            {
                return Some(s);
            }
            if key_admins.is_empty() {
                return None;
            }
            s["Principal"] = serde_json::json!({ "AWS": key_admins });
            Some(s)
        })
        .collect()
}

/// `existing` with `statements` appended; `None` when it is not a policy document.
pub fn merged_policy(existing: &str, statements: &[Value]) -> Option<Value> {
    let mut doc: Value = serde_json::from_str(existing).ok()?;
    let current = doc.get_mut("Statement")?;
    let mut list = match current.take() {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return None,
    };
    list.extend(statements.iter().cloned());
    *current = Value::Array(list);
    Some(doc)
}

/// Steps that fix the key X-Ray already uses, if the fixed key would pass every fixable rule.
fn fix_in_place(
    t: &XrayTarget,
    key: &KmsKey,
    to_fix: &[&Finding],
    input: &PlanInput<'_>,
) -> Option<Vec<Step>> {
    let policy = input.policy;
    let arn = key.arn.clone()?;
    let key_ref = KeyRef::Arn(arn);
    let mut fixed = key.clone();
    let mut steps = Vec::new();
    let asked = |rules: &[RuleId]| -> Vec<&Finding> {
        to_fix
            .iter()
            .copied()
            .filter(|f| rules.contains(&f.rule))
            .collect()
    };

    let rotation = asked(&[
        ids::KMS_ROTATION_DISABLED,
        ids::KMS_ROTATION_PERIOD_TOO_LONG,
    ]);
    if !rotation.is_empty() {
        fixed.rotation = Observed::Known(Rotation {
            enabled: true,
            period_days: Some(policy.rotation.max_period_days),
            next_rotation: None,
        });
        steps.push(Step {
            action: Action::EnableRotation {
                key: key_ref.clone(),
                period_days: policy.rotation.max_period_days,
            },
            precondition: Precondition::KeyEnabled {
                key: key_ref.clone(),
            },
            because: rule_list(&rotation),
        });
    }

    let tagging = asked(&[ids::KMS_KEY_MISSING_TAGS]);
    if !tagging.is_empty() {
        let have = key.tags.known()?;
        let missing: BTreeMap<String, String> = tags_for(policy, None)
            .into_iter()
            .filter(|(k, _)| have.get(k).is_none_or(|v| v.trim().is_empty()))
            .filter(|(k, _)| k != MANAGED_BY_TAG.0)
            .collect();
        if let Observed::Known(tags) = &mut fixed.tags {
            tags.extend(missing.clone());
        }
        if !missing.is_empty() {
            steps.push(Step {
                action: Action::TagKey {
                    key: key_ref.clone(),
                    tags: missing,
                },
                precondition: Precondition::KeyEnabled {
                    key: key_ref.clone(),
                },
                because: rule_list(&tagging),
            });
        }
    }

    let access = asked(&[
        ids::KMS_KEY_POLICY_XRAY_ACCESS,
        ids::KMS_KEY_POLICY_DEFAULT_ONLY,
    ]);
    if !access.is_empty() {
        let text = key.policy.known()?;
        let generated = (input.key_policy)(&t.account, &t.region);
        let statements = without_new_admins(
            missing_statements(text, &generated)?,
            &policy.key_admins_for(&t.account),
        );
        if statements.is_empty() {
            return None;
        }
        let merged = merged_policy(text, &statements)?;
        let current: Value = serde_json::from_str(text).ok()?;
        if crate::remediation::apply::keeps_admin(&current, &(input.principal)(&t.account)).is_err()
        {
            return None;
        }
        fixed.policy = Observed::Known(merged.to_string());
        steps.push(Step {
            action: Action::MergeKeyPolicy {
                key: key_ref.clone(),
                statements,
            },
            precondition: Precondition::KeyPolicyIs {
                key: key_ref.clone(),
                sha256: sha256_hex(text.as_bytes()),
            },
            because: rule_list(&access),
        });
        steps.push(Step {
            action: Action::Verify,
            precondition: Precondition::None,
            because: "traces must still be written and read back".to_owned(),
        });
    }
    // Whatever else fails (public, cross-account, not approved) cannot be fixed by adding.
    if steps.is_empty() || !predicted_failures(t, fixed, input).is_empty() {
        return None;
    }
    Some(steps)
}

/// Steps that create a new key from the policy file and switch X-Ray to it, if that key would
/// pass every fixable rule; otherwise why not.
fn replace(
    t: &XrayTarget,
    enc: &XrayEncryption,
    to_fix: &[&Finding],
    input: &PlanInput<'_>,
) -> Result<Vec<Step>, String> {
    let policy = input.policy;
    let alias = policy.keys.alias.clone();
    let tags = tags_for(policy, Some(&alias));
    let key_policy = (input.key_policy)(&t.account, &t.region);
    let planned = KmsKey {
        arn: Some(format!(
            "arn:aws:kms:{}:{}:key/planned",
            t.region, t.account
        )),
        key_manager: Some(KeyManager::Customer),
        key_state: Some(KeyState::Enabled),
        key_spec: Some("SYMMETRIC_DEFAULT".to_owned()),
        key_usage: Some("ENCRYPT_DECRYPT".to_owned()),
        origin: Some("AWS_KMS".to_owned()),
        multi_region: Some(false),
        rotation: Observed::Known(Rotation {
            enabled: true,
            period_days: Some(policy.rotation.max_period_days),
            next_rotation: None,
        }),
        policy: Observed::Known(key_policy.to_string()),
        tags: Observed::Known(tags.clone()),
        aliases: Observed::Known(vec![alias.clone()]),
        ..KmsKey::described("planned")
    };
    if let Some(f) = predicted_failures(t, planned, input).first() {
        return Err(format!(
            "not planned: a key made from the policy file would still fail {}: {}. Fix the policy file and plan again",
            f.rule, f.message
        ));
    }
    let key_ref = KeyRef::Alias(alias.clone());
    let because = rule_list(to_fix);
    Ok(vec![
        Step {
            action: Action::CreateKey {
                alias: alias.clone(),
                description: format!(
                    "X-Ray trace encryption for {} in {} (created by xray-cmk)",
                    t.account, t.region
                ),
                tags,
                policy: key_policy,
            },
            precondition: Precondition::AliasFreeOrOurs { alias },
            because: because.clone(),
        },
        Step {
            action: Action::EnableRotation {
                key: key_ref.clone(),
                period_days: policy.rotation.max_period_days,
            },
            precondition: Precondition::KeyEnabled {
                key: key_ref.clone(),
            },
            because: ids::KMS_ROTATION_DISABLED.to_string(),
        },
        Step {
            action: Action::SetXrayEncryption { key: key_ref },
            precondition: encryption_precondition(enc),
            because,
        },
        Step {
            action: Action::Verify,
            precondition: Precondition::None,
            because: "traces must still be written and read back".to_owned(),
        },
    ])
}

/// The account and region of a key ARN, when `key` is one.
pub fn key_ref_location(key: &KeyRef) -> Option<(&str, &str)> {
    match key {
        KeyRef::Arn(arn) => arn_account_region(arn),
        KeyRef::Alias(_) => None,
    }
}

#[cfg(test)]
mod tests;
