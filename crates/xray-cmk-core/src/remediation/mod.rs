//! What remediation creates: pure, so it can be reviewed in a plan and tested against the rules.

pub mod adopt;
pub mod apply;
pub mod key_policy;
pub mod plan;

use crate::model::{EncryptionType, Inventory, KmsKey, Observed, XrayEncryption, XrayTarget};
use crate::{Date, Finding, OrgPolicy, Status};

/// What the rules named `rule_ids` say that is not a pass, when X-Ray in `target`'s account and
/// region uses `key`: how the planner predicts the key it would leave, and how `apply` re-checks
/// a key before switching X-Ray to it. Suppressed failures are included: the caller decides.
pub(crate) fn judge_key_in_use(
    target: &XrayTarget,
    key: KmsKey,
    rule_ids: &[crate::RuleId],
    policy: &OrgPolicy,
    today: Date,
) -> Vec<Finding> {
    let arn = key.arn.clone().unwrap_or_else(|| key.key_id.clone());
    let inventory = Inventory {
        targets: vec![XrayTarget {
            encryption: Observed::Known(XrayEncryption {
                encryption_type: EncryptionType::Kms,
                key_id: Some(arn.clone()),
                status: Some("ACTIVE".to_owned()),
            }),
            ..target.clone()
        }],
        keys: [(arn, Observed::Known(key))].into_iter().collect(),
        iam_scope: crate::model::IamScope::KeyPolicyOnly,
        ..Inventory::default()
    };
    let rules: Vec<&dyn crate::Rule> = crate::rules::ALL
        .iter()
        .copied()
        .filter(|r| rule_ids.contains(&r.meta().id))
        .collect();
    crate::evaluate(&crate::Context {
        inventory: &inventory,
        policy,
        today,
        rules: &rules,
    })
    .into_iter()
    .filter(|f| f.status != Status::Pass)
    .collect()
}
