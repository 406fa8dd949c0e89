//! The registry of rules. One module per rule, named after its id, with its documentation beside it.

mod cfn_xray_encryption_missing;
mod cloudtrail_kms_events_not_logged;
mod guard_config_rule_missing;
mod guard_drift_alert_missing;
mod guard_scp_missing;
mod iac_tracing;
mod kms_key_missing_tags;
mod kms_key_policy_default_only;
mod kms_key_policy_public;
mod kms_key_policy_unapproved_cross_account;
mod kms_key_policy_xray_access;
mod kms_orphaned_xray_cmk_key;
mod kms_rotation_disabled;
mod kms_rotation_period_too_long;
mod tf_xray_encryption_missing;
mod xray_aws_managed_key;
mod xray_default_encryption;
mod xray_key_not_approved;
mod xray_key_not_symmetric;
mod xray_key_unusable;
mod xray_spans_not_cmk;

pub use cfn_xray_encryption_missing::{
    CfnXrayEncryptionMissing, CUSTOM_RESOURCE_TYPE as CFN_XRAY_CUSTOM_RESOURCE,
};
pub use cloudtrail_kms_events_not_logged::CloudtrailKmsEventsNotLogged;
pub use guard_config_rule_missing::GuardConfigRuleMissing;
pub use guard_drift_alert_missing::GuardDriftAlertMissing;
pub use guard_scp_missing::GuardScpMissing;
pub use kms_key_missing_tags::KmsKeyMissingTags;
pub use kms_key_policy_default_only::KmsKeyPolicyDefaultOnly;
pub use kms_key_policy_public::KmsKeyPolicyPublic;
pub use kms_key_policy_unapproved_cross_account::KmsKeyPolicyUnapprovedCrossAccount;
pub use kms_key_policy_xray_access::KmsKeyPolicyXrayAccess;
pub use kms_orphaned_xray_cmk_key::KmsOrphanedXrayCmkKey;
pub use kms_rotation_disabled::KmsRotationDisabled;
pub use kms_rotation_period_too_long::KmsRotationPeriodTooLong;
pub use tf_xray_encryption_missing::TfXrayEncryptionMissing;
pub use xray_aws_managed_key::XrayAwsManagedKey;
pub use xray_default_encryption::XrayDefaultEncryption;
pub use xray_key_not_approved::XrayKeyNotApproved;
pub use xray_key_not_symmetric::XrayKeyNotSymmetric;
pub use xray_key_unusable::XrayKeyUnusable;
pub use xray_spans_not_cmk::XraySpansNotCmk;

pub use kms_key_policy_xray_access::iam_questions;

/// Every rule id and diagnostic code, as the registry exports them: code outside a rule's module
/// names a rule by these constants, never by a string.
pub mod ids {
    pub use super::cfn_xray_encryption_missing::ID as CFN_XRAY_ENCRYPTION_MISSING;
    pub use super::cloudtrail_kms_events_not_logged::ID as CLOUDTRAIL_KMS_EVENTS_NOT_LOGGED;
    pub use super::guard_config_rule_missing::ID as GUARD_CONFIG_RULE_MISSING;
    pub use super::guard_drift_alert_missing::ID as GUARD_DRIFT_ALERT_MISSING;
    pub use super::guard_scp_missing::ID as GUARD_SCP_MISSING;
    pub use super::kms_key_missing_tags::ID as KMS_KEY_MISSING_TAGS;
    pub use super::kms_key_policy_default_only::ID as KMS_KEY_POLICY_DEFAULT_ONLY;
    pub use super::kms_key_policy_public::ID as KMS_KEY_POLICY_PUBLIC;
    pub use super::kms_key_policy_unapproved_cross_account::ID as KMS_KEY_POLICY_UNAPPROVED_CROSS_ACCOUNT;
    pub use super::kms_key_policy_xray_access::ID as KMS_KEY_POLICY_XRAY_ACCESS;
    pub use super::kms_orphaned_xray_cmk_key::ID as KMS_ORPHANED_XRAY_CMK_KEY;
    pub use super::kms_rotation_disabled::ID as KMS_ROTATION_DISABLED;
    pub use super::kms_rotation_period_too_long::ID as KMS_ROTATION_PERIOD_TOO_LONG;
    pub use super::tf_xray_encryption_missing::ID as TF_XRAY_ENCRYPTION_MISSING;
    pub use super::xray_aws_managed_key::ID as XRAY_AWS_MANAGED_KEY;
    pub use super::xray_default_encryption::ID as XRAY_DEFAULT_ENCRYPTION;
    pub use super::xray_key_not_approved::ID as XRAY_KEY_NOT_APPROVED;
    pub use super::xray_key_not_symmetric::ID as XRAY_KEY_NOT_SYMMETRIC;
    pub use super::xray_key_unusable::ID as XRAY_KEY_UNUSABLE;
    pub use super::xray_spans_not_cmk::ID as XRAY_SPANS_NOT_CMK;
    pub use super::IAC_PARSE_ERROR_ID as IAC_PARSE_ERROR;
}

use crate::finding::{Finding, FindingBuilder, XRAY_ENCRYPTION_CONFIG};
use crate::model::{EncryptionType, Inventory, KmsKey, Observed, XrayEncryption, XrayTarget};
use crate::rule::{KeyRef, Rule, RuleId, RuleMeta};

/// Every rule a run judges unless `--rules` says otherwise, in the order results are reported.
/// The opt-in rules ([`OPT_IN`]) are not among them; [`EVERY`] lists both.
pub static ALL: &[&dyn Rule] = &[
    &XrayDefaultEncryption,
    &XrayKeyUnusable,
    &XrayAwsManagedKey,
    &XrayKeyNotSymmetric,
    &XrayKeyNotApproved,
    &XraySpansNotCmk,
    &CloudtrailKmsEventsNotLogged,
    &KmsRotationDisabled,
    &KmsRotationPeriodTooLong,
    &KmsKeyPolicyPublic,
    &KmsKeyPolicyXrayAccess,
    &KmsKeyPolicyDefaultOnly,
    &KmsKeyPolicyUnapprovedCrossAccount,
    &KmsKeyMissingTags,
    &KmsOrphanedXrayCmkKey,
    &TfXrayEncryptionMissing,
    &CfnXrayEncryptionMissing,
];

/// The rules an audit runs only when `--rules` names them (`--rules 'guard-*'`): they judge
/// whether the guardrail is deployed, which costs AWS Config and EventBridge reads in every region
/// (and Organizations reads per account), and they fail wherever it is not.
pub static OPT_IN: &[&dyn Rule] = &[
    &GuardConfigRuleMissing,
    &GuardDriftAlertMissing,
    &GuardScpMissing,
];

/// Whether `rule` is one of [`OPT_IN`].
pub fn is_opt_in(rule: &dyn Rule) -> bool {
    OPT_IN.iter().any(|k| std::ptr::eq(k.meta(), rule.meta()))
}

/// Every rule there is: [`ALL`], then [`OPT_IN`], in the order results are reported. Rule ids
/// (`explain`, exemptions, `--rules`) are looked up here.
pub static EVERY: std::sync::LazyLock<Vec<&'static dyn Rule>> =
    std::sync::LazyLock::new(|| ALL.iter().chain(OPT_IN).copied().collect());

/// The rules that judge keys ([`Rule::check_key`], or [`Rule::check_key_use`] for each target
/// whose X-Ray uses the key) rather than targets, in registry order. Where
/// a key cannot be seen (X-Ray's configuration could not be read, names no key, or names one
/// that could not be described), [`crate::evaluate`] gives each of them an `error`: a key rule is
/// never silent about a key it could not look at.
pub static KEY_RULES: &[&dyn Rule] = &[
    &KmsRotationDisabled,
    &KmsRotationPeriodTooLong,
    &KmsKeyPolicyPublic,
    &KmsKeyPolicyXrayAccess,
    &KmsKeyPolicyDefaultOnly,
    &KmsKeyPolicyUnapprovedCrossAccount,
    &KmsKeyMissingTags,
];

/// Whether `rule` is one of [`KEY_RULES`].
pub fn is_key_rule(rule: &dyn Rule) -> bool {
    KEY_RULES
        .iter()
        .any(|k| std::ptr::eq(k.meta(), rule.meta()))
}

/// The key rules that judge a key for each target whose X-Ray uses it
/// ([`Rule::check_key_use`]): who must be able to use a key depends on the account using it.
pub static KEY_USE_RULES: &[&dyn Rule] =
    &[&KmsKeyPolicyXrayAccess, &KmsKeyPolicyUnapprovedCrossAccount];

/// Whether `rule` is one of [`KEY_USE_RULES`].
pub fn is_key_use_rule(rule: &dyn Rule) -> bool {
    KEY_USE_RULES
        .iter()
        .any(|k| std::ptr::eq(k.meta(), rule.meta()))
}

/// Diagnostic codes: results that are not a rule's verdict, documented like rules.
pub static DIAGNOSTICS: &[&RuleMeta] = &[&IAC_PARSE_ERROR];

/// The id of [`IAC_PARSE_ERROR`].
pub const IAC_PARSE_ERROR_ID: RuleId = RuleId::new("iac-parse-error");

/// A Terraform file or CloudFormation template that could not be read or parsed: an `error`
/// result at the place of the problem; the other files are still scanned.
pub static IAC_PARSE_ERROR: RuleMeta = RuleMeta {
    id: IAC_PARSE_ERROR_ID,
    summary: "A Terraform file or CloudFormation template could not be read or parsed, so nothing in it was checked",
    severity: crate::Severity::High,
    since: "0.3.0",
    docs: IAC_PARSE_ERROR_DOCS,
    inputs: &[],
};

const IAC_PARSE_ERROR_DOCS: &str = r#"# iac-parse-error

## What it does
Reported by `xray-cmk iac scan` for a `.tf` file that is not valid HCL, a plan JSON file that is
not valid JSON or not a plan, a CloudFormation template that is not valid YAML or JSON (or is
too large, too deeply nested, or expands YAML aliases past the limit), or a path that cannot be
read. The result is an `error` at the file, line and column of the problem. The other files are
still scanned.

## Why is this bad?
Nothing in the file was checked: an X-Ray configuration or key in it could be insecure without any
finding. An unreadable file is never a pass.

## How to fix
Fix the syntax (`terraform fmt -check` and `terraform validate`, or `cfn-lint`, point at the same
place), or pass the plan as `terraform show -json plan.out > plan.json`.

## Example
    resource "aws_kms_key" "x" {
      enable_key_rotation = true
    # iac-parse-error: the block is never closed

## References
- https://developer.hashicorp.com/terraform/language/syntax/configuration
"#;

/// Looks a rule, or a diagnostic code, up by id.
pub fn by_id(id: &str) -> Option<&'static RuleMeta> {
    EVERY
        .iter()
        .map(|r| r.meta())
        .chain(DIAGNOSTICS.iter().copied())
        .find(|m| m.id == id)
}

/// A builder for a finding about the X-Ray configuration of `target`.
fn builder(meta: &RuleMeta, target: &XrayTarget) -> FindingBuilder {
    FindingBuilder::new(
        meta,
        &target.account,
        &target.region,
        target.origin.address().unwrap_or(XRAY_ENCRYPTION_CONFIG),
    )
    .location(target.origin.location())
}

/// The guardrail collected for a live target, or the `error` finding that says why there is none
/// (the target could not be read, or the guardrail was not collected); `None` for a target
/// declared in Terraform, which has no deployed guardrail to look at.
fn guardrail_of<'a>(
    meta: &RuleMeta,
    target: &XrayTarget,
    inventory: &'a Inventory,
    resource: &str,
) -> Option<Result<&'a crate::model::Guardrail, Finding>> {
    if !matches!(target.origin, crate::Origin::Live) {
        return None;
    }
    let b = || builder(meta, target).resource(resource);
    Some(
        match inventory
            .guardrails
            .get(&(target.account.clone(), target.region.clone()))
        {
            Some(g) => Ok(g),
            None => Err(match &target.encryption {
                Observed::Unknown(err) => b().error(format!("the target could not be read: {err}")),
                Observed::Known(_) => b().error("the guardrail was not collected"),
            }),
        },
    )
}

/// A builder for a finding about a KMS key: the resource is the key.
fn key_builder(meta: &RuleMeta, key: &KeyRef<'_>) -> FindingBuilder {
    FindingBuilder::new(meta, key.account, key.region, key.id)
        .key(Some(key.id))
        .location(key.key.source.as_ref())
}

/// A key builder for the rules that judge what the customer controls; `None` for an AWS managed
/// key, whose policy, rotation and tags are AWS's and which `xray-aws-managed-key` already fails.
/// A key whose manager is unknown is judged, so nothing unknown is skipped silently.
fn customer_key_builder(meta: &RuleMeta, key: &KeyRef<'_>) -> Option<FindingBuilder> {
    (key.key.key_manager != Some(crate::KeyManager::Aws)).then(|| key_builder(meta, key))
}

/// As [`customer_key_builder`], for a finding about `key` as X-Ray in `target` uses it: the
/// target's account and region, the key as the resource (and its declaration, from Terraform).
fn customer_key_use_builder(
    meta: &RuleMeta,
    key: &KeyRef<'_>,
    target: &XrayTarget,
) -> Option<FindingBuilder> {
    (key.key.key_manager != Some(crate::KeyManager::Aws)).then(|| {
        FindingBuilder::new(meta, &target.account, &target.region, key.id)
            .key(Some(key.id))
            .location(key.key.source.as_ref().or(target.origin.location()))
    })
}

/// The account that owns the key: its ARN's, else the account its findings are reported under.
fn key_owner<'a>(key: &KeyRef<'a>) -> &'a str {
    key.key
        .account_region()
        .map_or(key.account, |(account, _)| account)
}

/// Whether KMS can rotate the key automatically: only symmetric encryption keys. Asymmetric and
/// HMAC keys are not judged by the rotation rules (as Checkov's CKV_AWS_7 does not); an unknown
/// spec is judged, so nothing unknown is skipped silently.
fn rotatable(key: &KmsKey) -> bool {
    key.key_spec
        .as_deref()
        .is_none_or(|s| s == "SYMMETRIC_DEFAULT")
}

/// The key's parsed policy, or the message of the error finding to emit instead.
fn key_policy(key: &KmsKey) -> Result<crate::key_policy::PolicyDocument, PolicyUnjudged> {
    match &key.policy {
        Observed::Known(text) => {
            crate::key_policy::PolicyDocument::parse(text).map_err(PolicyUnjudged::Unparsable)
        }
        Observed::Unknown(err) => Err(PolicyUnjudged::Unread(err.clone())),
    }
}

/// Why a key policy cannot be judged: an `error` result, never a pass.
#[derive(Debug, thiserror::Error)]
enum PolicyUnjudged {
    #[error("the key policy could not be analysed: {0}")]
    Unparsable(crate::key_policy::KeyPolicyError),
    #[error("the key policy could not be read: {0}")]
    Unread(crate::CollectionError),
}

/// What the key rules look at: the configuration, known to be `KMS`, and its key.
enum KeyInput<'a> {
    /// The rule does not apply: the configuration is not KMS.
    NotApplicable,
    /// The configuration or the key could not be read; the finding says why.
    Unknown(Box<Finding>),
    Key(&'a XrayEncryption, &'a KmsKey),
    /// The key could not be described; the error is kept for the rules that can still decide.
    KeyUnreadable(&'a XrayEncryption, &'a crate::CollectionError),
}

/// Resolves the key behind a target for the key rules, turning every unreadable input into an
/// error finding for `meta`, so that no key rule can pass on something it did not see.
fn key_input<'a>(
    meta: &RuleMeta,
    target: &'a XrayTarget,
    inventory: &'a Inventory,
) -> KeyInput<'a> {
    let encryption = match &target.encryption {
        Observed::Known(e) => e,
        Observed::Unknown(err) => {
            return KeyInput::Unknown(Box::new(
                builder(meta, target).error(format!("X-Ray encryption config unreadable: {err}")),
            ))
        }
    };
    if encryption.encryption_type != EncryptionType::Kms {
        return KeyInput::NotApplicable;
    }
    let key_id = encryption.key_id.as_deref();
    match inventory.key_for(encryption) {
        Some(Observed::Known(key)) => KeyInput::Key(encryption, key),
        Some(Observed::Unknown(err)) => KeyInput::KeyUnreadable(encryption, err),
        None => KeyInput::Unknown(Box::new(builder(meta, target).key(key_id).error(
            match key_id {
                Some(id) => format!("key {id} was not collected"),
                None => "X-Ray reports type KMS without a KeyId".to_owned(),
            },
        ))),
    }
}

/// For rules that judge the key's metadata: a builder carrying the key, and the key; or the result
/// already decided (no finding when the rule does not apply). An undescribable key is an error for
/// such rules: they cannot tell its `what`.
fn described_key<'a>(
    meta: &RuleMeta,
    target: &'a XrayTarget,
    inventory: &'a Inventory,
    what: &str,
) -> Described<'a> {
    match key_input(meta, target, inventory) {
        KeyInput::NotApplicable => Described::Decided(None),
        KeyInput::Unknown(f) => Described::Decided(Some(*f)),
        KeyInput::KeyUnreadable(enc, err) => Described::Decided(Some(
            builder(meta, target)
                .key(enc.key_id.as_deref())
                .error(format!("cannot tell the key's {what}: {err}")),
        )),
        KeyInput::Key(enc, key) => {
            Described::Judge(builder(meta, target).key(enc.key_id.as_deref()), key)
        }
    }
}

/// What [`described_key`] found.
enum Described<'a> {
    /// The rule judges this key and builds its finding with this builder.
    Judge(FindingBuilder, &'a KmsKey),
    /// The result is already decided: no finding, or an error finding.
    Decided(Option<Finding>),
}

/// An `error` of every key rule in `rules` wherever a key of `inventory` cannot be seen, since a
/// key rule only runs on a key that was described:
/// - a target whose X-Ray configuration could not be read may use any key, so every key rule is
///   an error there (under the target);
/// - a target that reports KMS without a key id, or with a key that was not collected;
/// - a key `DescribeKey` could not read: the key-use rules under each target using it, the others
///   under the key, where its own findings belong (once per scan, like a described key; under
///   this account for a key it read across accounts).
pub(crate) fn unknown_keys(inventory: &Inventory, rules: &[&dyn Rule]) -> Vec<Finding> {
    let key_rules: Vec<&dyn Rule> = rules.iter().copied().filter(|r| is_key_rule(*r)).collect();
    if key_rules.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for target in &inventory.targets {
        let (key, why) = match &target.encryption {
            Observed::Unknown(err) => (None, format!("X-Ray encryption config unreadable: {err}")),
            Observed::Known(enc) if enc.encryption_type == EncryptionType::Kms => {
                match enc.key_id.as_deref() {
                    None => (None, "X-Ray reports type KMS without a KeyId".to_owned()),
                    Some(id) if !inventory.keys.contains_key(id) => {
                        (Some(id), format!("key {id} was not collected"))
                    }
                    Some(_) => continue,
                }
            }
            Observed::Known(_) => continue,
        };
        out.extend(key_rules.iter().map(|r| {
            builder(r.meta(), target)
                .key(key)
                .error(format!("the key X-Ray uses here is unknown: {why}"))
        }));
    }
    for (id, observed) in &inventory.keys {
        let Observed::Unknown(err) = observed else {
            continue;
        };
        let why = format!("the key could not be described: {err}");
        for target in inventory.targets_using(id) {
            out.extend(key_rules.iter().filter(|r| is_key_use_rule(**r)).map(|r| {
                builder(r.meta(), target)
                    .resource(id.as_str())
                    .key(Some(id))
                    .error(why.clone())
            }));
        }
        if inventory.keys_judged_elsewhere.contains(id) {
            continue;
        }
        let user = inventory.targets_using(id).next();
        let owner = crate::model::arn_account_region(id);
        let place = if inventory.keys_read_across_accounts.contains(id) {
            user.map(|t| {
                (
                    t.account.as_str(),
                    owner.map_or(t.region.as_str(), |(_, r)| r),
                )
            })
        } else {
            owner.or_else(|| user.map(|t| (t.account.as_str(), t.region.as_str())))
        };
        let Some((account, region)) = place else {
            continue;
        };
        out.extend(
            key_rules
                .iter()
                .filter(|r| !is_key_use_rule(**r))
                .filter(|r| user.is_some() || crate::rule::judges_any_key(r.meta()))
                .map(|r| {
                    FindingBuilder::new(r.meta(), account, region, id.as_str())
                        .key(Some(id))
                        .location(user.and_then(|t| t.origin.location()))
                        .error(why.clone())
                }),
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Hand-built inventories for the rule tests.
    use crate::model::*;

    pub const ACCOUNT: &str = "111122223333";
    pub const REGION: &str = "eu-west-1";
    pub const KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    pub fn target(encryption: Observed<XrayEncryption>) -> XrayTarget {
        XrayTarget {
            account: ACCOUNT.into(),
            region: REGION.into(),
            origin: Origin::Live,
            encryption,
            trails: None,
            segment_destination: None,
        }
    }

    /// No key left without an alias in the target's region (`kms-orphaned-xray-cmk-key`).
    pub fn no_unaliased_keys(
    ) -> std::collections::BTreeMap<(String, String), Observed<Vec<UnaliasedKey>>> {
        [(
            (ACCOUNT.to_owned(), REGION.to_owned()),
            Observed::Known(Vec::new()),
        )]
        .into()
    }

    pub fn none_config() -> Inventory {
        Inventory {
            targets: vec![target(Observed::Known(XrayEncryption {
                encryption_type: EncryptionType::None,
                key_id: None,
                status: Some("ACTIVE".into()),
            }))],
            unaliased_keys: no_unaliased_keys(),
            ..Default::default()
        }
    }

    pub fn denied(operation: &str) -> CollectionError {
        CollectionError {
            operation: operation.into(),
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDeniedException".into()),
            message: "not authorized".into(),
        }
    }

    pub fn unreadable_config() -> Inventory {
        Inventory {
            targets: vec![target(Observed::Unknown(denied(
                "xray:GetEncryptionConfig",
            )))],
            ..Default::default()
        }
    }

    pub fn good_key() -> KmsKey {
        KmsKey {
            arn: Some(KEY_ARN.into()),
            key_manager: Some(KeyManager::Customer),
            key_state: Some(KeyState::Enabled),
            key_spec: Some("SYMMETRIC_DEFAULT".into()),
            key_usage: Some("ENCRYPT_DECRYPT".into()),
            origin: Some("AWS_KMS".into()),
            multi_region: Some(false),
            rotation: Observed::Known(Rotation {
                enabled: true,
                period_days: Some(365),
                next_rotation: None,
            }),
            tags: Observed::Known(
                [
                    ("owner", "platform-security"),
                    ("data-classification", "confidential"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ),
            aliases: Observed::Known(vec!["alias/xray-cmk".into()]),
            policy: Observed::Known(format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"Root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
                {{"Sid":"Readers","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/TraceReader"}},"Action":"kms:Decrypt","Resource":"*"}},
                {{"Sid":"ThroughXRay","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["kms:CreateGrant","kms:DescribeKey","kms:Decrypt"],"Resource":"*","Condition":{{"StringEquals":{{"kms:CallerAccount":"{ACCOUNT}"}},"StringLike":{{"kms:ViaService":"xray.*.amazonaws.com"}}}}}}]}}"#
            )),
            ..KmsKey::described("1234abcd-12ab-34cd-56ef-1234567890ab")
        }
    }

    /// A KMS configuration whose key was observed as `key`.
    pub fn kms_config(key: Observed<KmsKey>) -> Inventory {
        Inventory {
            targets: vec![target(Observed::Known(XrayEncryption {
                encryption_type: EncryptionType::Kms,
                key_id: Some(KEY_ARN.into()),
                status: Some("ACTIVE".into()),
            }))],
            keys: [(KEY_ARN.to_owned(), key)].into_iter().collect(),
            trails: Default::default(),
            keys_judged_elsewhere: Default::default(),
            keys_read_across_accounts: Default::default(),
            terraform_modules: Vec::new(),
            cloudformation_templates: Vec::new(),
            iam_answers: Default::default(),
            iam_scope: Default::default(),
            unaliased_keys: no_unaliased_keys(),
            guardrails: Default::default(),
            scp_paths: Default::default(),
            config_sourced: Default::default(),
        }
    }

    pub fn with_key(edit: impl FnOnce(&mut KmsKey)) -> Inventory {
        let mut key = good_key();
        edit(&mut key);
        kms_config(Observed::Known(key))
    }

    /// Runs one rule over the single target of `inv`, with the default policy.
    pub fn run(rule: &dyn crate::Rule, inv: &Inventory) -> Option<crate::Finding> {
        rule.check_target(&inv.targets[0], &context(inv, &DEFAULT_POLICY))
    }

    pub static DEFAULT_POLICY: std::sync::LazyLock<crate::OrgPolicy> =
        std::sync::LazyLock::new(crate::OrgPolicy::default);

    pub fn today() -> crate::Date {
        crate::Date::new(2026, 11, 28).expect("valid date")
    }

    pub fn context<'a>(inv: &'a Inventory, policy: &'a crate::OrgPolicy) -> crate::Context<'a> {
        crate::Context {
            inventory: inv,
            policy,
            today: today(),
            rules: super::ALL,
        }
    }

    /// Runs one key rule over the key `KEY_ARN` of `inv` under `policy`.
    pub fn run_key(
        rule: &dyn crate::Rule,
        inv: &Inventory,
        policy: &crate::OrgPolicy,
    ) -> Option<crate::Finding> {
        let Some(Observed::Known(key)) = inv.keys.get(KEY_ARN) else {
            panic!("test inventory has no known key {KEY_ARN}")
        };
        let key_ref = crate::KeyRef {
            id: KEY_ARN,
            account: ACCOUNT,
            region: REGION,
            key,
        };
        rule.check_key(&key_ref, &context(inv, policy))
    }

    /// Runs one key-use rule over the key `KEY_ARN` of `inv` as the first target uses it.
    pub fn run_key_use(
        rule: &dyn crate::Rule,
        inv: &Inventory,
        policy: &crate::OrgPolicy,
    ) -> Option<crate::Finding> {
        let Some(Observed::Known(key)) = inv.keys.get(KEY_ARN) else {
            panic!("test inventory has no known key {KEY_ARN}")
        };
        let key_ref = crate::KeyRef {
            id: KEY_ARN,
            account: ACCOUNT,
            region: REGION,
            key,
        };
        rule.check_key_use(&key_ref, &inv.targets[0], &context(inv, policy))
    }

    /// A policy file's text parsed with every rule known.
    pub fn policy(toml: &str) -> crate::OrgPolicy {
        let known: Vec<&str> = super::ALL.iter().map(|r| r.meta().id.as_str()).collect();
        crate::OrgPolicy::parse(toml, "test.toml", &known).expect("valid test policy")
    }

    /// Evaluates every rule over `inv` with the default policy.
    pub fn eval(inv: &Inventory) -> Vec<crate::Finding> {
        crate::evaluate(&context(inv, &DEFAULT_POLICY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_documents_itself() {
        for rule in EVERY.iter() {
            let m = rule.meta();
            for section in [
                "## What it does",
                "## Why is this bad?",
                "## How to fix",
                "## Example",
                "## References",
            ] {
                assert!(m.docs.contains(section), "{} lacks {section}", m.id);
            }
            assert!(m.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
    }

    #[test]
    fn ids_are_unique_and_listed() {
        let ids: Vec<_> = EVERY
            .iter()
            .map(|r| {
                format!(
                    "{} {} since {}",
                    r.meta().id,
                    r.meta().severity,
                    r.meta().since
                )
            })
            .collect();
        insta::assert_snapshot!(ids.join("\n"), @r"
        xray-default-encryption high since 0.1.0
        xray-key-unusable critical since 0.1.0
        xray-aws-managed-key high since 0.1.0
        xray-key-not-symmetric critical since 0.1.0
        xray-key-not-approved medium since 0.2.0
        xray-spans-not-cmk high since 0.2.0
        cloudtrail-kms-events-not-logged medium since 0.2.0
        kms-rotation-disabled high since 0.2.0
        kms-rotation-period-too-long medium since 0.2.0
        kms-key-policy-public critical since 0.2.0
        kms-key-policy-xray-access high since 0.2.0
        kms-key-policy-default-only medium since 0.2.0
        kms-key-policy-unapproved-cross-account high since 0.2.0
        kms-key-missing-tags low since 0.2.0
        kms-orphaned-xray-cmk-key low since 0.4.0
        tf-xray-encryption-missing high since 0.3.0
        cfn-xray-encryption-missing high since 0.4.0
        guard-config-rule-missing medium since 0.5.0
        guard-drift-alert-missing medium since 0.5.0
        guard-scp-missing high since 0.5.0
        ");
        let mut sorted: Vec<_> = EVERY.iter().map(|r| r.meta().id.as_str()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EVERY.len());
    }

    #[test]
    fn unreadable_config_is_an_error_for_every_rule_never_a_pass() {
        let inv = test_support::unreadable_config();
        let findings = test_support::eval(&inv);
        // The four rules that read the X-Ray configuration, the region's key listing, and every
        // key rule: the key it would name is unknown. (xray-key-not-approved does not apply
        // without an approved list; trails and spans were not collected in this inventory.)
        assert_eq!(findings.len(), 5 + KEY_RULES.len(), "{findings:#?}");
        for f in &findings {
            assert_eq!(f.status, crate::Status::Error, "{}", f.rule);
            assert!(f.message.contains("AccessDeniedException"), "{}", f.message);
            assert_eq!(
                (f.account.as_str(), f.region.as_str()),
                (test_support::ACCOUNT, test_support::REGION)
            );
        }
        for rule in KEY_RULES {
            assert!(
                findings.iter().any(|f| f.rule == rule.meta().id),
                "{}",
                rule.meta().id
            );
        }
    }

    #[test]
    fn selected_key_rules_alone_are_errors_for_an_unreadable_config() {
        let inv = test_support::unreadable_config();
        let rules = crate::select(&["kms-*".into()], &[]).expect("rules");
        let findings = crate::evaluate(&crate::Context {
            rules: &rules,
            ..test_support::context(&inv, &test_support::DEFAULT_POLICY)
        });
        let ids: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        // Every key rule, and the region's key listing (it could not be read either).
        let mut expected: Vec<&str> = KEY_RULES.iter().map(|r| r.meta().id.as_str()).collect();
        expected.push("kms-orphaned-xray-cmk-key");
        assert_eq!(ids, expected);
        assert!(findings.iter().all(|f| f.status == crate::Status::Error));
        let s = crate::Summary::from_findings(&findings);
        assert_eq!((s.targets, s.errors, s.compliant), (1, 1, 0));
    }

    #[test]
    fn an_undescribable_key_is_an_error_for_every_key_rule_under_the_key() {
        let inv =
            test_support::kms_config(Observed::Unknown(test_support::denied("kms:DescribeKey")));
        let findings = test_support::eval(&inv);
        let key_results: Vec<_> = findings
            .iter()
            .filter(|f| KEY_RULES.iter().any(|r| r.meta().id == f.rule))
            .collect();
        assert_eq!(key_results.len(), KEY_RULES.len(), "{findings:#?}");
        for f in key_results {
            assert_eq!(f.status, crate::Status::Error, "{}", f.rule);
            assert_eq!(f.key.as_deref(), Some(test_support::KEY_ARN));
            // The fingerprint a described key's result has: a fix is seen as the same finding.
            assert_eq!(f.resource, test_support::KEY_ARN);
            assert!(f.message.contains("kms:DescribeKey"), "{}", f.message);
        }
        // Its own rules are judged once per scan: the account that described it first reports
        // them. The key-use rules are each target's.
        let mut elsewhere = inv.clone();
        elsewhere
            .keys_judged_elsewhere
            .insert(test_support::KEY_ARN.into());
        let left: Vec<&str> = test_support::eval(&elsewhere)
            .into_iter()
            .filter(|f| KEY_RULES.iter().any(|r| r.meta().id == f.rule))
            .map(|f| f.rule.as_str())
            .collect();
        let key_use: Vec<&str> = KEY_USE_RULES.iter().map(|r| r.meta().id.as_str()).collect();
        assert_eq!(left, key_use);
    }

    #[test]
    fn an_undescribable_shared_key_is_an_error_of_the_key_use_rules_for_each_target() {
        // Another account's key that neither could describe: its key rules once, under the key;
        // the access rules under each target that uses it.
        const OTHER: &str = "444455556666";
        let mut inv =
            test_support::kms_config(Observed::Unknown(test_support::denied("kms:DescribeKey")));
        inv.targets[0].account = OTHER.into();
        let at = |findings: &[crate::Finding], rule: &str| -> Vec<String> {
            findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.account.clone())
                .collect()
        };
        let findings = test_support::eval(&inv);
        assert_eq!(
            at(&findings, "kms-rotation-disabled"),
            [test_support::ACCOUNT]
        );
        assert_eq!(at(&findings, "kms-key-policy-xray-access"), [OTHER]);
        // Another inventory of the scan reports the key's own rules; the access rules are this
        // target's.
        inv.keys_judged_elsewhere
            .insert(test_support::KEY_ARN.into());
        let findings = test_support::eval(&inv);
        assert!(at(&findings, "kms-rotation-disabled").is_empty());
        assert_eq!(
            at(&findings, "kms-key-policy-unapproved-cross-account"),
            [OTHER]
        );
        // Read from this account because its owner is not in the scan: all of it is this
        // account's, whoever else reads it too.
        inv.keys_judged_elsewhere.clear();
        inv.keys_read_across_accounts
            .insert(test_support::KEY_ARN.into());
        let findings = test_support::eval(&inv);
        assert_eq!(at(&findings, "kms-rotation-disabled"), [OTHER]);
        assert_eq!(at(&findings, "kms-key-policy-xray-access"), [OTHER]);
    }

    #[test]
    fn a_key_read_across_accounts_is_judged_under_the_account_that_read_it() {
        const OTHER: &str = "444455556666";
        let mut inv = test_support::with_key(|_| {});
        inv.targets[0].account = OTHER.into();
        inv.keys_read_across_accounts
            .insert(test_support::KEY_ARN.into());
        let findings = test_support::eval(&inv);
        let kms: Vec<_> = findings
            .iter()
            .filter(|f| f.rule.starts_with("kms-key-policy") || f.rule.starts_with("kms-rotation"))
            .collect();
        assert!(!kms.is_empty());
        assert!(kms.iter().all(|f| f.account == OTHER), "{kms:#?}");
    }

    #[test]
    fn kms_without_a_key_id_is_an_error_for_every_key_rule() {
        let mut inv = test_support::none_config();
        inv.targets[0].encryption = Observed::Known(XrayEncryption {
            encryption_type: EncryptionType::Kms,
            key_id: None,
            status: None,
        });
        let errors = test_support::eval(&inv)
            .into_iter()
            .filter(|f| f.rule.starts_with("kms-") && f.status == crate::Status::Error)
            .count();
        assert_eq!(errors, KEY_RULES.len());
    }

    #[test]
    fn key_rules_are_exactly_the_rules_that_judge_keys() {
        let inv = test_support::with_key(|_| {});
        for rule in ALL {
            let judges_key = test_support::run_key(*rule, &inv, &test_support::DEFAULT_POLICY)
                .is_some()
                || test_support::run_key_use(*rule, &inv, &test_support::DEFAULT_POLICY).is_some();
            assert_eq!(
                judges_key,
                is_key_rule(*rule),
                "{}: a rule that implements check_key or check_key_use belongs in KEY_RULES, and only such a rule",
                rule.meta().id
            );
        }
        for rule in KEY_RULES {
            assert!(ALL.iter().any(|r| r.meta().id == rule.meta().id));
        }
        for rule in ALL {
            let per_use =
                test_support::run_key_use(*rule, &inv, &test_support::DEFAULT_POLICY).is_some();
            assert_eq!(per_use, is_key_use_rule(*rule), "{}", rule.meta().id);
        }
    }

    #[test]
    fn a_well_kept_key_passes_every_key_rule_once() {
        let inv = test_support::with_key(|_| {});
        let findings = test_support::eval(&inv);
        let key_results: Vec<_> = findings
            .iter()
            .filter(|f| f.rule.starts_with("kms-"))
            .collect();
        assert_eq!(key_results.len(), 8, "{key_results:#?}");
        assert!(
            findings.iter().all(|f| f.status == crate::Status::Pass),
            "{findings:#?}"
        );
    }

    #[test]
    fn unknown_encryption_type_is_never_a_pass() {
        let mut inv = test_support::none_config();
        inv.targets[0].encryption = Observed::Known(XrayEncryption {
            encryption_type: EncryptionType::Other("FUTURE".into()),
            key_id: None,
            status: None,
        });
        let findings = test_support::eval(&inv);
        // The region's key listing is read whatever X-Ray's configuration is.
        assert!(findings
            .iter()
            .filter(|f| f.rule != "kms-orphaned-xray-cmk-key")
            .all(|f| f.status != crate::Status::Pass));
        assert!(!findings.is_empty());
    }
}
