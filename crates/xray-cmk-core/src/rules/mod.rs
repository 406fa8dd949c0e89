//! The registry of rules. One module per rule, named after its id, with its documentation beside it.

mod xray_aws_managed_key;
mod xray_default_encryption;
mod xray_key_not_symmetric;
mod xray_key_unusable;

pub use xray_aws_managed_key::XrayAwsManagedKey;
pub use xray_default_encryption::XrayDefaultEncryption;
pub use xray_key_not_symmetric::XrayKeyNotSymmetric;
pub use xray_key_unusable::XrayKeyUnusable;

use crate::finding::{Finding, FindingBuilder, XRAY_ENCRYPTION_CONFIG};
use crate::model::{EncryptionType, Inventory, KmsKey, Observed, XrayEncryption, XrayTarget};
use crate::rule::{Rule, RuleMeta};

/// Every rule, in the order results are reported.
pub static ALL: &[&dyn Rule] = &[
    &XrayDefaultEncryption,
    &XrayKeyUnusable,
    &XrayAwsManagedKey,
    &XrayKeyNotSymmetric,
];

/// Looks a rule up by id.
pub fn by_id(id: &str) -> Option<&'static RuleMeta> {
    ALL.iter().map(|r| r.meta()).find(|m| m.id == id)
}

/// A builder for a finding about the X-Ray configuration of `target`.
fn builder(meta: &RuleMeta, target: &XrayTarget) -> FindingBuilder {
    FindingBuilder::new(
        meta,
        &target.account,
        &target.region,
        XRAY_ENCRYPTION_CONFIG,
    )
}

/// What the key rules look at: the configuration, known to be `KMS`, and its key.
enum KeyInput<'a> {
    /// The rule does not apply: the configuration is not KMS.
    NotApplicable,
    /// The configuration or the key could not be read; the finding says why.
    Unknown(Finding),
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
            return KeyInput::Unknown(
                builder(meta, target).error(format!("X-Ray encryption config unreadable: {err}")),
            )
        }
    };
    if encryption.encryption_type != EncryptionType::Kms {
        return KeyInput::NotApplicable;
    }
    let key_id = encryption.key_id.as_deref();
    match inventory.key_for(encryption) {
        Some(Observed::Known(key)) => KeyInput::Key(encryption, key),
        Some(Observed::Unknown(err)) => KeyInput::KeyUnreadable(encryption, err),
        None => KeyInput::Unknown(builder(meta, target).key(key_id).error(match key_id {
            Some(id) => format!("key {id} was not collected"),
            None => "X-Ray reports type KMS without a KeyId".to_owned(),
        })),
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
        KeyInput::Unknown(f) => Described::Decided(Some(f)),
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

    pub fn none_config() -> Inventory {
        Inventory {
            targets: vec![target(Observed::Known(XrayEncryption {
                encryption_type: EncryptionType::None,
                key_id: None,
                status: Some("ACTIVE".into()),
            }))],
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
        }
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
        for rule in ALL {
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
        let ids: Vec<_> = ALL
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
        ");
        let mut sorted: Vec<_> = ALL.iter().map(|r| r.meta().id).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len());
    }

    #[test]
    fn unreadable_config_is_an_error_for_every_rule_never_a_pass() {
        let inv = test_support::unreadable_config();
        let findings = test_support::eval(&inv);
        assert_eq!(findings.len(), ALL.len());
        for f in findings {
            assert_eq!(f.status, crate::Status::Error, "{}", f.rule);
            assert!(f.message.contains("AccessDeniedException"), "{}", f.message);
        }
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
        assert!(findings.iter().all(|f| f.status != crate::Status::Pass));
        assert!(!findings.is_empty());
    }
}
