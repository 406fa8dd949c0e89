//! The guardrail `xray-cmk guard generate` writes: pure text generation, no I/O.
//!
//! From the policy file's `[guard]` table and a list of approved key ARNs it builds
//! - a CloudFormation template for a service-managed StackSet ([`cfn`]): an AWS Config custom policy
//!   rule (CloudFormation Guard 2.x) that is compliant only when X-Ray encrypts with one of the
//!   approved keys, EventBridge rules that alert on changes, an SNS topic, and optionally an
//!   automatic remediation;
//! - a service control policy ([`scp`]) that lets only the automation and break-glass roles change
//!   X-Ray's encryption, and only the break-glass roles disable or delete the managed keys;
//! - the same guardrail as Terraform ([`terraform`]), and a README that says how to deploy it
//!   ([`readme`]).
//!
//! AWS Config records `AWS::XRay::EncryptionConfig` with `configuration.keyId` always the resolved
//! key ARN, even when X-Ray was given an alias (aws-config-resource-schema,
//! `AWS::XRay::EncryptionConfig.properties.json`), so the approved list must be key ARNs: an alias
//! would never match.

mod cfn;
mod keys;
mod readme;
mod rule;
mod scp;
mod terraform;

pub use cfn::key_guardrail_resources;
pub use keys::{parse_key_arns, KeyArn};
pub use scp::SCP_MAX_CHARS;

use crate::policy::GuardPolicy;

/// The name of the AWS Config rule in every account-region.
pub const CONFIG_RULE_NAME: &str = "xray-cmk-encryption";
/// The SSM Automation runbook AWS ships that switches X-Ray to a given key and waits for `ACTIVE`.
pub const REMEDIATION_DOCUMENT: &str = "AWSConfigRemediation-UpdateXRayKMSKey";
/// The remediation role's name, before `-<region>`: IAM names are per account, and a StackSet puts
/// one stack in each region of an account.
pub const REMEDIATION_ROLE_PREFIX: &str = "xray-cmk-guard-remediation";
/// The SNS topic the guardrail creates when the policy names none.
pub const ALERT_TOPIC_NAME: &str = "xray-cmk-guard-alerts";
/// The KMS actions the SCP keeps for the break-glass roles on keys xray-cmk manages, and the
/// CloudTrail events the KMS alert rule matches.
pub const PROTECTED_KMS_ACTIONS: [&str; 4] = [
    "DisableKey",
    "ScheduleKeyDeletion",
    "PutKeyPolicy",
    "DisableKeyRotation",
];

/// Names of the files [`generate`] returns, relative to the output directory.
pub const STACKSET_FILE: &str = "xray-cmk-guard.stackset.yaml";
pub const SCP_FILE: &str = "xray-cmk-guard.scp.json";
pub const RULE_FILE: &str = "xray-cmk-encryption.guard";
pub const README_FILE: &str = "README.md";

/// Why the guardrail cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("the approved key list is empty: the guardrail would judge every X-Ray configuration non-compliant; give at least one key ARN")]
    NoKeys,
    #[error("{source_name}:{line}: `{value}` is an alias; AWS Config records X-Ray's key as the resolved key ARN, so give the key ARN (arn:aws:kms:<region>:<account>:key/<id>; `aws kms describe-key --key-id {value}` shows it)")]
    Alias {
        source_name: String,
        line: usize,
        value: String,
    },
    #[error("{source_name}:{line}: `{value}` is not a KMS key ARN (expected arn:aws:kms:<region>:<12-digit account>:key/<key id>)")]
    NotKeyArn {
        source_name: String,
        line: usize,
        value: String,
    },
    #[error("the approved keys are in more than one partition ({0} and {1}); generate one guardrail per partition")]
    MixedPartitions(String, String),
    #[error("[guard] break_glass_roles is empty: the SCP would leave no one able to disable, delete or re-policy the managed keys, or to repair X-Ray's encryption in an emergency; name at least one role")]
    NoBreakGlass,
    #[error("the SCP is {size} characters once minified, over the {limit}-character limit AWS Organizations sets on a service control policy; name fewer roles in [guard] (a `*` in a role path or `{{account}}` covers many)")]
    ScpTooLarge { size: usize, limit: usize },
}

/// What the guardrail is generated from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardInput<'a> {
    pub guard: &'a GuardPolicy,
    /// Approved key ARNs, distinct, in the order given.
    pub keys: &'a [KeyArn],
    /// The alias the remediation switches X-Ray to (the policy's `[keys] alias`): it names, in
    /// each account-region, the key `xray-cmk apply` created there.
    pub remediation_alias: &'a str,
}

/// One generated file: its path relative to the output directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: &'static str,
    pub text: String,
}

/// Every file of the guardrail, or why it cannot be made.
pub fn generate(input: &GuardInput<'_>) -> Result<Vec<GeneratedFile>, GuardError> {
    let partition = check(input)?;
    let scp = scp::render(input.guard, partition)?;
    let rule_text = rule::resolved(input.keys);
    let files = vec![
        GeneratedFile {
            path: STACKSET_FILE,
            text: cfn::render(input),
        },
        GeneratedFile {
            path: SCP_FILE,
            text: scp,
        },
        GeneratedFile {
            path: RULE_FILE,
            text: rule_text,
        },
        GeneratedFile {
            path: "terraform/main.tf",
            text: terraform::module(input),
        },
        GeneratedFile {
            path: "terraform/scp/main.tf",
            text: terraform::scp_module(input.guard, partition)?,
        },
        GeneratedFile {
            path: README_FILE,
            text: readme::render(input),
        },
    ];
    Ok(files)
}

/// The partition of the keys, once the input is known to be usable.
fn check<'a>(input: &GuardInput<'a>) -> Result<&'a str, GuardError> {
    let first = input.keys.first().ok_or(GuardError::NoKeys)?;
    if let Some(other) = input
        .keys
        .iter()
        .find(|k| k.partition() != first.partition())
    {
        return Err(GuardError::MixedPartitions(
            first.partition().to_owned(),
            other.partition().to_owned(),
        ));
    }
    if input.guard.break_glass_roles.is_empty() {
        return Err(GuardError::NoBreakGlass);
    }
    Ok(first.partition())
}

/// `template` with the `{account}` placeholder made a wildcard: an SCP covers every account, so a
/// role named in each account with `{account}` is that role in any account.
pub(crate) fn any_account(template: &str) -> String {
    template.replace(crate::policy::ACCOUNT_PLACEHOLDER, "*")
}

#[cfg(test)]
mod tests;

/// The SCP `generate` writes, for the rules' tests to judge exactly what is deployed.
#[cfg(test)]
pub(crate) fn scp_text(guard: &GuardPolicy, partition: &str) -> Result<String, GuardError> {
    scp::render(guard, partition)
}
