//! `xray-cmk plan`'s human view: the targets with their steps and preconditions, what is left
//! alone, what apply does not fix, and the cost line.

use std::fmt::Write as _;

use xray_cmk_core::remediation::plan::{Action, KeyRef, Plan, Precondition};

/// KMS list prices the plan's cost line uses (us-east-1, 2026): a customer managed key costs
/// $1 a month, and each of its first two automatic rotations adds $1 a month.
const KEY_MONTH_USD: u32 = 1;

fn key_name(key: &KeyRef) -> &str {
    key.id()
}

fn describe(action: &Action) -> String {
    match action {
        Action::CreateKey { alias, tags, .. } => format!(
            "create a symmetric CMK {alias} with the generated key policy and tags {}",
            tags.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Action::EnableRotation { key, period_days } => {
            format!(
                "enable rotation every {period_days} days on {}",
                key_name(key)
            )
        }
        Action::TagKey { key, tags } => format!(
            "tag {} with {}",
            key_name(key),
            tags.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Action::MergeKeyPolicy { key, statements } => format!(
            "add key policy statements {} to {} (nothing is removed)",
            statements
                .iter()
                .filter_map(|s| s.get("Sid").and_then(serde_json::Value::as_str))
                .collect::<Vec<_>>()
                .join(", "),
            key_name(key)
        ),
        Action::SetXrayEncryption { key } => {
            format!(
                "switch X-Ray to KMS with {} and wait until ACTIVE",
                key_name(key)
            )
        }
        Action::Verify => "write a marked segment and read it back".to_owned(),
    }
}

fn condition(p: &Precondition) -> String {
    match p {
        Precondition::AliasFreeOrOurs { alias } => format!("{alias} is free or already xray-cmk's"),
        Precondition::KeyEnabled { key } => format!("{} exists and is enabled", key_name(key)),
        Precondition::KeyPolicyIs { key, sha256 } => format!(
            "the key policy of {} is unchanged (sha256 {})",
            key_name(key),
            sha256.get(..12).unwrap_or(sha256)
        ),
        Precondition::XrayEncryptionIs {
            encryption_type,
            key_id,
        } => format!(
            "X-Ray is still {encryption_type}{}",
            key_id
                .as_deref()
                .map(|k| format!(" with {k}"))
                .unwrap_or_default()
        ),
        Precondition::None => "none".to_owned(),
    }
}

/// The human plan: targets with steps, then what is left alone, then the cost line.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mut new_keys = 0u32;
    for t in plan.targets.iter().filter(|t| !t.steps.is_empty()) {
        let _ = writeln!(out, "{} {}", t.account, t.region);
        for (i, s) in t.steps.iter().enumerate() {
            if matches!(s.action, Action::CreateKey { .. }) {
                new_keys += 1;
            }
            let _ = writeln!(
                out,
                "  {}. {}\n     if: {} · because: {}",
                i + 1,
                describe(&s.action),
                condition(&s.precondition),
                s.because
            );
        }
    }
    let left: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| t.steps.is_empty())
        .map(|t| {
            format!(
                "{} {}: {}",
                t.account,
                t.region,
                t.note.as_deref().unwrap_or("nothing to change")
            )
        })
        .collect();
    if !left.is_empty() {
        let _ = writeln!(out, "\nleft alone:");
        for l in left {
            let _ = writeln!(out, "  {l}");
        }
    }
    let mut unfixed: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for t in &plan.targets {
        for u in &t.unfixed {
            unfixed
                .entry(u.rule.as_str())
                .or_default()
                .push(format!("{} {}", t.account, t.region));
        }
    }
    if !unfixed.is_empty() {
        let _ = writeln!(
            out,
            "\nnot fixed by apply (for a person; `xray-cmk explain RULE` says how):"
        );
        for (rule, where_) in unfixed {
            let _ = writeln!(
                out,
                "  {rule}: {} target{} ({}{})",
                where_.len(),
                if where_.len() == 1 { "" } else { "s" },
                where_
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if where_.len() > 3 { ", …" } else { "" }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} targets with changes · {new_keys} new keys · KMS cost: +${} a month now, up to +${} once each key has rotated twice (list prices; API requests not included)",
        plan.targets.iter().filter(|t| !t.steps.is_empty()).count(),
        new_keys * KEY_MONTH_USD,
        new_keys * KEY_MONTH_USD * 3
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_cmk_core::remediation::plan::{Step, TargetPlan, Unfixed};
    use xray_cmk_core::EncryptionType;

    fn target(region: &str, steps: Vec<Step>, note: Option<&str>) -> TargetPlan {
        TargetPlan {
            account: "111122223333".into(),
            region: region.into(),
            principal: "arn:aws:iam::111122223333:role/XrayCmkAdmin".into(),
            steps,
            note: note.map(str::to_owned),
            unfixed: Vec::new(),
        }
    }

    #[test]
    fn steps_with_their_conditions_what_is_left_alone_and_the_cost_line() {
        let alias = "alias/xray-cmk-traces";
        let steps = vec![
            Step {
                action: Action::CreateKey {
                    alias: alias.into(),
                    description: "X-Ray traces".into(),
                    tags: [("managed-by".to_owned(), "xray-cmk".to_owned())].into(),
                    policy: serde_json::json!({}),
                },
                precondition: Precondition::AliasFreeOrOurs {
                    alias: alias.into(),
                },
                because: "xray-default-encryption".into(),
            },
            Step {
                action: Action::SetXrayEncryption {
                    key: KeyRef::Alias(alias.into()),
                },
                precondition: Precondition::XrayEncryptionIs {
                    encryption_type: EncryptionType::None,
                    key_id: None,
                },
                because: "xray-default-encryption".into(),
            },
            Step {
                action: Action::Verify,
                precondition: Precondition::None,
                because: "xray-default-encryption".into(),
            },
        ];
        let mut unread = target("eu-north-1", Vec::new(), Some("could not be read: denied"));
        unread.unfixed.push(Unfixed {
            rule: "xray-spans-not-cmk".into(),
            message: "spans use the default".into(),
        });
        let plan = Plan::sealed(
            "0.0.0-test",
            "2026-12-02T00:00:00Z",
            "arn:aws:iam::111122223333:role/XrayCmkAdmin",
            vec![target("us-east-1", steps, None), unread],
        );
        insta::assert_snapshot!(render(&plan));
    }
}
