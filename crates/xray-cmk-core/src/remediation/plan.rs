//! The remediation plan: typed, serialisable, versioned. Planning is pure: it reads an inventory
//! and the policy and says, per account and region, which steps would make the target compliant
//! and what each step assumes. `apply` (to come) re-checks each precondition before acting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{EncryptionType, Inventory, KeyManager, KeyState, KmsKey, Observed, XrayTarget};
use crate::policy::OrgPolicy;

/// Bumped when a plan written by one version cannot be applied by another.
pub const PLAN_SCHEMA_VERSION: u32 = 1;

/// The tag every key xray-cmk creates carries, so a re-run finds it instead of creating another.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "xray-cmk");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub schema_version: u32,
    pub targets: Vec<TargetPlan>,
}

/// The ordered steps for one account and region. An empty list means nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetPlan {
    pub account: String,
    pub region: String,
    pub steps: Vec<Step>,
    /// Why the target is left alone, when it is (unreadable, or nothing to fix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    /// What must still be true when the step runs; otherwise it is skipped or refused.
    pub precondition: Precondition,
    /// The rule that asked for it.
    pub because: String,
}

/// A key, by ARN when it exists, or by the alias a previous step of the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRef {
    Arn(String),
    Alias(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// A symmetric `ENCRYPT_DECRYPT` key with this alias, tags and key policy.
    CreateKey {
        alias: String,
        description: String,
        tags: BTreeMap<String, String>,
        policy: serde_json::Value,
    },
    EnableRotation {
        key: KeyRef,
        period_days: u32,
    },
    TagKey {
        key: KeyRef,
        tags: BTreeMap<String, String>,
    },
    SetXrayEncryption {
        key: KeyRef,
    },
    /// Write a marked segment and read it back.
    Verify,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Precondition {
    /// The alias is free, or already names a key tagged as xray-cmk's (a re-run reuses it).
    AliasFreeOrOurs {
        alias: String,
    },
    /// The key exists and is enabled.
    KeyEnabled {
        key: KeyRef,
    },
    /// X-Ray still has the configuration the plan was made from.
    XrayEncryptionIs {
        encryption_type: String,
        key_id: Option<String>,
    },
    None,
}

/// Plans every target of `inventory`.
pub fn plan(
    inventory: &Inventory,
    policy: &OrgPolicy,
    key_policy: impl Fn(&XrayTarget) -> serde_json::Value,
) -> Plan {
    Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        targets: inventory
            .targets
            .iter()
            .map(|t| plan_target(t, inventory, policy, &key_policy))
            .collect(),
    }
}

fn tags_for(policy: &OrgPolicy) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = policy
        .tags
        .required
        .iter()
        // A required tag's value is the organization's to choose; the plan marks it for review.
        .map(|t| (t.clone(), "REVIEW".to_owned()))
        .collect();
    tags.insert(MANAGED_BY_TAG.0.to_owned(), MANAGED_BY_TAG.1.to_owned());
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

fn plan_target(
    t: &XrayTarget,
    inventory: &Inventory,
    policy: &OrgPolicy,
    key_policy: &dyn Fn(&XrayTarget) -> serde_json::Value,
) -> TargetPlan {
    let mut out = TargetPlan {
        account: t.account.clone(),
        region: t.region.clone(),
        steps: Vec::new(),
        note: None,
    };
    let enc = match &t.encryption {
        Observed::Known(e) => e,
        Observed::Unknown(err) => {
            out.note = Some(format!("not planned: {err}"));
            return out;
        }
    };
    let current = Precondition::XrayEncryptionIs {
        encryption_type: match &enc.encryption_type {
            EncryptionType::None => "NONE".to_owned(),
            EncryptionType::Kms => "KMS".to_owned(),
            EncryptionType::Other(o) => o.clone(),
        },
        key_id: enc.key_id.clone(),
    };
    let existing = match enc.encryption_type {
        EncryptionType::Kms => usable_cmk(inventory.key_for(enc)),
        _ => None,
    };
    match existing {
        Some(key) => {
            let arn = key.arn.clone().unwrap_or_else(|| key.key_id.clone());
            let key_ref = KeyRef::Arn(arn);
            let rotation_ok = key.rotation.known().is_some_and(|r| {
                r.enabled
                    && r.period_days
                        .is_some_and(|d| d <= policy.rotation.max_period_days)
            });
            if !rotation_ok {
                out.steps.push(Step {
                    action: Action::EnableRotation {
                        key: key_ref.clone(),
                        period_days: policy.rotation.max_period_days,
                    },
                    precondition: Precondition::KeyEnabled {
                        key: key_ref.clone(),
                    },
                    because: "kms-rotation-disabled / kms-rotation-period-too-long".to_owned(),
                });
            }
            let missing: BTreeMap<String, String> = match key.tags.known() {
                Some(tags) => tags_for(policy)
                    .into_iter()
                    .filter(|(k, _)| tags.get(k).is_none_or(|v| v.trim().is_empty()))
                    .filter(|(k, _)| k != MANAGED_BY_TAG.0)
                    .collect(),
                None => BTreeMap::new(),
            };
            if !missing.is_empty() {
                out.steps.push(Step {
                    action: Action::TagKey {
                        key: key_ref.clone(),
                        tags: missing,
                    },
                    precondition: Precondition::KeyEnabled { key: key_ref },
                    because: "kms-key-missing-tags".to_owned(),
                });
            }
            if out.steps.is_empty() {
                out.note = Some("nothing to change".to_owned());
            }
        }
        None => {
            let alias = policy.keys.alias.clone();
            let key_ref = KeyRef::Alias(alias.clone());
            out.steps.push(Step {
                action: Action::CreateKey {
                    alias: alias.clone(),
                    description: format!(
                        "X-Ray trace encryption for {} in {} (created by xray-cmk)",
                        t.account, t.region
                    ),
                    tags: tags_for(policy),
                    policy: key_policy(t),
                },
                precondition: Precondition::AliasFreeOrOurs { alias },
                because: "xray-default-encryption / xray-aws-managed-key / xray-key-unusable"
                    .to_owned(),
            });
            out.steps.push(Step {
                action: Action::EnableRotation {
                    key: key_ref.clone(),
                    period_days: policy.rotation.max_period_days,
                },
                precondition: Precondition::KeyEnabled {
                    key: key_ref.clone(),
                },
                because: "kms-rotation-disabled".to_owned(),
            });
            out.steps.push(Step {
                action: Action::SetXrayEncryption { key: key_ref },
                precondition: current,
                because: "xray-default-encryption".to_owned(),
            });
            out.steps.push(Step {
                action: Action::Verify,
                precondition: Precondition::None,
                because: "traces must still be written and read back".to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    fn planned(inv: &Inventory) -> TargetPlan {
        let p = plan(
            inv,
            &DEFAULT_POLICY,
            |_| serde_json::json!({"Statement": []}),
        );
        assert_eq!(p.schema_version, PLAN_SCHEMA_VERSION);
        p.targets.into_iter().next().expect("one target")
    }

    fn kinds(t: &TargetPlan) -> Vec<&'static str> {
        t.steps
            .iter()
            .map(|s| match s.action {
                Action::CreateKey { .. } => "create_key",
                Action::EnableRotation { .. } => "enable_rotation",
                Action::TagKey { .. } => "tag_key",
                Action::SetXrayEncryption { .. } => "set_xray_encryption",
                Action::Verify => "verify",
            })
            .collect()
    }

    #[test]
    fn default_encryption_gets_a_new_key_switched_and_verified() {
        let t = planned(&none_config());
        assert_eq!(
            kinds(&t),
            [
                "create_key",
                "enable_rotation",
                "set_xray_encryption",
                "verify"
            ]
        );
        let Action::CreateKey { alias, tags, .. } = &t.steps[0].action else {
            panic!("create first")
        };
        assert_eq!(alias, "alias/xray-cmk");
        assert_eq!(tags.get("managed-by").map(String::as_str), Some("xray-cmk"));
        assert_eq!(
            t.steps[2].precondition,
            Precondition::XrayEncryptionIs {
                encryption_type: "NONE".into(),
                key_id: None
            }
        );
    }

    #[test]
    fn a_good_cmk_needs_nothing_and_a_disabled_or_aws_managed_one_is_replaced() {
        let t = planned(&with_key(|_| {}));
        assert!(t.steps.is_empty());
        assert_eq!(t.note.as_deref(), Some("nothing to change"));
        for edit in [
            (|k: &mut KmsKey| k.key_state = Some(KeyState::Disabled)) as fn(&mut KmsKey),
            |k: &mut KmsKey| k.key_manager = Some(KeyManager::Aws),
        ] {
            assert_eq!(kinds(&planned(&with_key(edit)))[0], "create_key");
        }
    }

    #[test]
    fn a_cmk_without_rotation_gets_rotation_not_a_new_key() {
        let t = planned(&with_key(|k| {
            k.rotation = Observed::Known(crate::model::Rotation {
                enabled: false,
                period_days: None,
                next_rotation: None,
            })
        }));
        assert_eq!(kinds(&t), ["enable_rotation"]);
    }

    #[test]
    fn unreadable_targets_are_not_planned_and_say_why() {
        let t = planned(&unreadable_config());
        assert!(t.steps.is_empty());
        assert!(t
            .note
            .as_deref()
            .is_some_and(|n| n.contains("AccessDenied")));
    }

    #[test]
    fn a_plan_round_trips_through_json() {
        let p = plan(
            &none_config(),
            &DEFAULT_POLICY,
            |_| serde_json::json!({"Statement": []}),
        );
        let text = serde_json::to_string(&p).expect("serialise");
        let back: Plan = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, p);
        assert!(text.contains(r#""type":"create_key""#), "{text}");
    }
}
