//! KMS: everything about one key, read once per scan.

use std::collections::BTreeMap;

use aws_sdk_kms::types::{KeyManagerType, KeyState as SdkKeyState};
use aws_smithy_types::date_time::Format;
use xray_cmk_core::model::{KeyStatus, Rotation, UnaliasedKey};
use xray_cmk_core::{CollectionError, ErrorKind, KeyManager, KeyState, KmsKey, Observed};

use super::malformed;
use crate::error::classify;

/// Describes a key, then, with `details`, reads its rotation, policy, tags and aliases
/// concurrently. A failure of one read leaves only that part unknown.
pub async fn describe_key(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    details: bool,
) -> Observed<KmsKey> {
    read(kms, key_id, details, None).await
}

/// Reads what the account of `kms`'s credentials (`reader`) may read of a key owned by
/// `owner`, another account that is not in the scan: KMS answers `DescribeKey` and
/// `GetKeyRotationStatus` across accounts (with the key ARN), but not `GetKeyPolicy`,
/// `ListResourceTags` or `ListAliases`, which are left unknown and say which account to add.
pub async fn describe_key_across_accounts(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    details: bool,
    reader: &str,
    owner: &str,
) -> Observed<KmsKey> {
    read(kms, key_id, details, Some((reader, owner))).await
}

/// `across`: the reader and the owner, for a key read from another account.
async fn read(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    details: bool,
    across: Option<(&str, &str)>,
) -> Observed<KmsKey> {
    let out = match kms.describe_key().key_id(key_id).send().await {
        Ok(out) => out,
        Err(err) => return Observed::Unknown(classify("kms:DescribeKey", &err)),
    };
    let Some(m) = out.key_metadata() else {
        return malformed("kms:DescribeKey", "KeyMetadata");
    };
    // The other calls take the key id from DescribeKey: aliases are not accepted by all of them.
    // Across accounts only the key ARN names the key.
    let id = match across {
        Some(_) => m.arn().unwrap_or(key_id),
        None => m.key_id(),
    };
    let aws_managed = m.key_manager() == Some(&KeyManagerType::Aws);
    let skipped = KmsKey::described(id);
    let (rotation, policy, tags, aliases) = match (details, aws_managed, across) {
        (true, false, None) => futures::join!(
            rotation(kms, id),
            policy(kms, id),
            tags(kms, id),
            aliases(kms, id)
        ),
        // AWS managed keys rotate on AWS's schedule and cannot be tagged: no rule reads those, so
        // only the policy (kms-key-policy-public) and aliases (xray-key-not-approved) are read.
        (true, true, None) => {
            let (policy, aliases) = futures::join!(policy(kms, id), aliases(kms, id));
            (skipped.rotation, policy, skipped.tags, aliases)
        }
        (true, _, Some((reader, owner))) => (
            if aws_managed {
                skipped.rotation
            } else {
                rotation(kms, id).await
            },
            owner_only("kms:GetKeyPolicy", reader, owner),
            owner_only("kms:ListResourceTags", reader, owner),
            owner_only("kms:ListAliases", reader, owner),
        ),
        (false, _, _) => (
            skipped.rotation,
            skipped.policy,
            skipped.tags,
            skipped.aliases,
        ),
    };
    #[allow(deprecated)]
    let key_spec = m
        .key_spec()
        .map(|s| s.as_str().to_owned())
        .or_else(|| m.customer_master_key_spec().map(|s| s.as_str().to_owned()));
    Observed::Known(KmsKey {
        arn: m.arn().map(str::to_owned),
        key_id: m.key_id().to_owned(),
        key_manager: m.key_manager().map(|k| match k {
            KeyManagerType::Aws => KeyManager::Aws,
            KeyManagerType::Customer => KeyManager::Customer,
            other => KeyManager::Other(other.as_str().to_owned()),
        }),
        key_state: m.key_state().map(key_state),
        key_spec,
        key_usage: m.key_usage().map(|u| u.as_str().to_owned()),
        description: m.description().map(str::to_owned),
        origin: m.origin().map(|o| o.as_str().to_owned()),
        multi_region: m.multi_region(),
        rotation,
        policy,
        tags,
        aliases,
        source: None,
    })
}

/// A read KMS answers only in the key's own account, which is not in the scan.
fn owner_only<T>(operation: &str, reader: &str, owner: &str) -> Observed<T> {
    Observed::Unknown(CollectionError {
        operation: operation.to_owned(),
        kind: ErrorKind::OwnerNotInScope,
        code: None,
        message: format!(
            "KMS answers it only in the key's own account {owner}, not from {reader}; include {owner} in the scan"
        ),
    })
}

pub(crate) fn key_state(s: &SdkKeyState) -> KeyState {
    match s {
        SdkKeyState::Enabled => KeyState::Enabled,
        SdkKeyState::Disabled => KeyState::Disabled,
        SdkKeyState::PendingDeletion => KeyState::PendingDeletion,
        SdkKeyState::PendingImport => KeyState::PendingImport,
        SdkKeyState::PendingReplicaDeletion => KeyState::PendingReplicaDeletion,
        SdkKeyState::Unavailable => KeyState::Unavailable,
        SdkKeyState::Creating => KeyState::Creating,
        SdkKeyState::Updating => KeyState::Updating,
        other => KeyState::Other(other.as_str().to_owned()),
    }
}

async fn rotation(kms: &aws_sdk_kms::Client, id: &str) -> Observed<Rotation> {
    match kms.get_key_rotation_status().key_id(id).send().await {
        Ok(out) => Observed::Known(Rotation {
            enabled: out.key_rotation_enabled(),
            period_days: out
                .rotation_period_in_days()
                .and_then(|d| u32::try_from(d).ok()),
            next_rotation: out
                .next_rotation_date()
                .and_then(|d| d.fmt(Format::DateTime).ok()),
        }),
        Err(err) => Observed::Unknown(classify("kms:GetKeyRotationStatus", &err)),
    }
}

async fn policy(kms: &aws_sdk_kms::Client, id: &str) -> Observed<String> {
    match kms
        .get_key_policy()
        .key_id(id)
        .policy_name("default")
        .send()
        .await
    {
        Ok(out) => match out.policy() {
            Some(p) => Observed::Known(p.to_owned()),
            None => malformed("kms:GetKeyPolicy", "Policy"),
        },
        Err(err) => Observed::Unknown(classify("kms:GetKeyPolicy", &err)),
    }
}

async fn tags(kms: &aws_sdk_kms::Client, id: &str) -> Observed<BTreeMap<String, String>> {
    let mut pages = kms.list_resource_tags().key_id(id).into_paginator().send();
    let mut tags = BTreeMap::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())),
            ),
            Err(err) => return Observed::Unknown(classify("kms:ListResourceTags", &err)),
        }
    }
    Observed::Known(tags)
}

async fn aliases(kms: &aws_sdk_kms::Client, id: &str) -> Observed<Vec<String>> {
    let mut pages = kms
        .list_aliases()
        .key_id(id)
        .into_paginator()
        .items()
        .send();
    let mut names = Vec::new();
    while let Some(item) = pages.next().await {
        match item {
            Ok(alias) => names.extend(alias.alias_name().map(str::to_owned)),
            Err(err) => return Observed::Unknown(classify("kms:ListAliases", &err)),
        }
    }
    names.sort();
    Observed::Known(names)
}

/// The region's keys that no alias names, with their tags, and the state of those whose tags say
/// they are xray-cmk's: one `ListAliases` and one `ListKeys` (all pages), then `ListResourceTags`
/// of each unaliased key. Aliased keys are never tag-read: AWS managed keys always have their
/// `alias/aws/*` alias, so they cost nothing and cannot fail.
pub async fn unaliased_keys(kms: &aws_sdk_kms::Client) -> Observed<Vec<UnaliasedKey>> {
    let mut aliased = std::collections::BTreeSet::new();
    let mut pages = kms.list_aliases().into_paginator().items().send();
    while let Some(item) = pages.next().await {
        match item {
            Ok(alias) => aliased.extend(alias.target_key_id().map(str::to_owned)),
            Err(err) => return Observed::Unknown(classify("kms:ListAliases", &err)),
        }
    }
    let mut listed = Vec::new();
    let mut pages = kms.list_keys().into_paginator().items().send();
    while let Some(item) = pages.next().await {
        match item {
            Ok(k) => {
                if let Some(id) = k.key_id().filter(|id| !aliased.contains(*id)) {
                    listed.push((id.to_owned(), k.key_arn().map(str::to_owned)));
                }
            }
            Err(err) => return Observed::Unknown(classify("kms:ListKeys", &err)),
        }
    }
    let mut keys = Vec::with_capacity(listed.len());
    for (key_id, arn) in listed {
        let tags = tags(kms, &key_id).await;
        let described = match &tags {
            Observed::Known(t) if xray_cmk_core::remediation::adopt::claims_to_be_xray_cmks(t) => {
                Some(status(kms, &key_id).await)
            }
            _ => None,
        };
        keys.push(UnaliasedKey {
            key_id,
            arn,
            tags,
            described,
        });
    }
    Observed::Known(keys)
}

async fn status(kms: &aws_sdk_kms::Client, key_id: &str) -> Observed<KeyStatus> {
    match kms.describe_key().key_id(key_id).send().await {
        Ok(out) => match out.key_metadata() {
            Some(m) => Observed::Known(KeyStatus {
                state: m.key_state().map(key_state),
                deletion_date: m.deletion_date().and_then(|d| d.fmt(Format::DateTime).ok()),
            }),
            None => malformed("kms:DescribeKey", "KeyMetadata"),
        },
        Err(err) => Observed::Unknown(classify("kms:DescribeKey", &err)),
    }
}
