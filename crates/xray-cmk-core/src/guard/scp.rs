//! The service control policy.
//!
//! - `xray:PutEncryptionConfig` has no condition keys, so the SCP can only decide *who* calls it:
//!   it is denied to every principal whose `aws:PrincipalArn` is not an automation or break-glass
//!   role (nor, with `auto_remediate`, the guardrail's own remediation role).
//! - `kms:DisableKey`, `kms:ScheduleKeyDeletion`, `kms:PutKeyPolicy` and `kms:DisableKeyRotation`
//!   are denied on keys tagged `managed-by=xray-cmk` (`aws:ResourceTag/managed-by`) to every
//!   principal but the break-glass roles.
//!
//! `{account}` in a role becomes `*` (`ArnNotLike` takes wildcards): one SCP covers every account.
//! AWS Organizations limits an SCP to 5,120 characters (Organizations quotas, "Maximum size of a
//! policy document"); the policy is written minified and refused when it is still over.

use serde_json::{json, Value};

use super::{any_account, GuardError, PROTECTED_KMS_ACTIONS, REMEDIATION_ROLE_PREFIX};
use crate::policy::GuardPolicy;
use crate::remediation::plan::MANAGED_BY_TAG;

/// The most characters AWS Organizations accepts in a service control policy.
pub const SCP_MAX_CHARS: usize = 5120;

/// The SCP as a JSON value.
pub(super) fn document(guard: &GuardPolicy, partition: &str) -> Value {
    let mut writers: Vec<String> = guard
        .automation_roles
        .iter()
        .chain(&guard.break_glass_roles)
        .map(|r| any_account(r))
        .collect();
    if guard.auto_remediate {
        writers.push(format!(
            "arn:{partition}:iam::*:role/{REMEDIATION_ROLE_PREFIX}-*"
        ));
    }
    dedup(&mut writers);
    let mut break_glass: Vec<String> = guard
        .break_glass_roles
        .iter()
        .map(|r| any_account(r))
        .collect();
    dedup(&mut break_glass);
    let kms: Vec<String> = PROTECTED_KMS_ACTIONS
        .iter()
        .map(|a| format!("kms:{a}"))
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "XrayCmkEncryptionOnlyByAutomation",
                "Effect": "Deny",
                "Action": "xray:PutEncryptionConfig",
                "Resource": "*",
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": writers } }
            },
            {
                "Sid": "XrayCmkKeysOnlyByBreakGlass",
                "Effect": "Deny",
                "Action": kms,
                "Resource": "*",
                "Condition": {
                    "StringEquals": { format!("aws:ResourceTag/{}", MANAGED_BY_TAG.0): MANAGED_BY_TAG.1 },
                    "ArnNotLike": { "aws:PrincipalArn": break_glass }
                }
            }
        ]
    })
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|i| seen.insert(i.clone()));
}

/// The minified SCP (with a closing newline, which is not sent), or why it cannot be used.
pub(super) fn render(guard: &GuardPolicy, partition: &str) -> Result<String, GuardError> {
    let text = crate::canonical_json(&document(guard, partition));
    check_size(&text)?;
    Ok(format!("{text}\n"))
}

/// Characters, as AWS counts them; the ARNs are ASCII, so this is also the byte count.
pub(super) fn check_size(text: &str) -> Result<(), GuardError> {
    let size = text.chars().count();
    if size > SCP_MAX_CHARS {
        return Err(GuardError::ScpTooLarge {
            size,
            limit: SCP_MAX_CHARS,
        });
    }
    Ok(())
}
