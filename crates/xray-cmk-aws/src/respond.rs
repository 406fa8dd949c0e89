//! Incident response on a key, with a person's confirmation and a record: disable (crypto-
//! graphic erasure), re-enable, rotate on demand, and (only when asked, twice) schedule deletion.

use aws_sdk_kms::types::KeyState as SdkKeyState;

use xray_cmk_core::{CollectionError, ErrorKind};

use crate::collect::ClientSource;
use crate::error::classify;

/// Every AWS action `erase`, `restore`, `rotate-now` and `evidence` may call, as IAM names them
/// (`xray-cmk iam-policy --mode respond`).
pub const RESPOND_ACTIONS: &[&str] = &[
    "cloudtrail:LookupEvents",
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "xray:GetEncryptionConfig",
];

/// A key as the blast radius shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub arn: String,
    pub key_id: String,
    pub state: String,
    pub manager: String,
    pub aliases: Vec<String>,
    /// `grantee principal: operations` per grant.
    pub grants: Vec<String>,
}

/// Why a key could not be acted on, or read for its evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    /// A call was denied, throttled or failed: what it would have read or done is unknown.
    #[error("{}", with_hint(.0))]
    Call(CollectionError),
    /// X-Ray in the region has no customer managed key to act on.
    #[error("X-Ray in {region} does not use a customer managed key (Type {encryption_type}): there is no key to act on")]
    NoKey {
        region: String,
        encryption_type: xray_cmk_core::EncryptionType,
    },
    /// A successful answer without what it must hold.
    #[error("{operation} returned no {member}")]
    Malformed {
        operation: &'static str,
        member: &'static str,
    },
}

impl From<CollectionError> for RespondError {
    fn from(err: CollectionError) -> Self {
        RespondError::Call(err)
    }
}

fn with_hint(err: &CollectionError) -> String {
    if err.kind == ErrorKind::AccessDenied {
        format!("{err}. xray-cmk iam-policy --mode respond prints the permissions needed")
    } else {
        err.to_string()
    }
}

fn err<E, R>(op: &str, e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> RespondError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + crate::error::HttpStatus,
{
    RespondError::Call(classify(op, e))
}

/// The KMS key X-Ray encrypts with in `region`, as an ARN; an error says why there is none.
pub async fn xray_key(clients: &dyn ClientSource, region: &str) -> Result<String, RespondError> {
    let out = clients
        .xray(region)
        .get_encryption_config()
        .send()
        .await
        .map_err(|e| err("xray:GetEncryptionConfig", &e))?;
    let cfg = out.encryption_config();
    // A missing Type is never taken for NONE or KMS (`EncryptionType::from_wire`).
    match (
        xray_cmk_core::EncryptionType::from_wire(cfg.and_then(|c| c.r#type()).map(|t| t.as_str())),
        cfg.and_then(|c| c.key_id()),
    ) {
        (xray_cmk_core::EncryptionType::Kms, Some(key)) => Ok(key.to_owned()),
        (encryption_type, _) => Err(RespondError::NoKey {
            region: region.to_owned(),
            encryption_type,
        }),
    }
}

/// What the key is, which aliases name it and which grants it has.
pub async fn key_facts(
    clients: &dyn ClientSource,
    region: &str,
    key: &str,
) -> Result<KeyFacts, RespondError> {
    let kms = clients.kms(region);
    let meta = kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| err("kms:DescribeKey", &e))?
        .key_metadata
        .ok_or(RespondError::Malformed {
            operation: "kms:DescribeKey",
            member: "KeyMetadata",
        })?;
    let arn = meta.arn().unwrap_or(key).to_owned();
    let mut aliases = Vec::new();
    let mut pages = kms
        .list_aliases()
        .key_id(meta.key_id())
        .into_paginator()
        .items()
        .send();
    while let Some(a) = pages.next().await {
        let a = a.map_err(|e| err("kms:ListAliases", &e))?;
        if let Some(name) = a.alias_name() {
            aliases.push(name.to_owned());
        }
    }
    let mut grants = Vec::new();
    let mut pages = kms
        .list_grants()
        .key_id(&arn)
        .into_paginator()
        .items()
        .send();
    while let Some(g) = pages.next().await {
        let g = g.map_err(|e| err("kms:ListGrants", &e))?;
        let ops: Vec<&str> = g.operations().iter().map(|o| o.as_str()).collect();
        grants.push(format!(
            "{}: {}",
            g.grantee_principal().unwrap_or("?"),
            ops.join(", ")
        ));
    }
    Ok(KeyFacts {
        key_id: meta.key_id().to_owned(),
        state: meta
            .key_state()
            .map_or("unknown", SdkKeyState::as_str)
            .to_owned(),
        manager: meta
            .key_manager()
            .map_or("unknown", |m| m.as_str())
            .to_owned(),
        arn,
        aliases,
        grants,
    })
}

/// What to do to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Disable,
    Enable,
    RotateNow,
    /// Schedule deletion after this many days (7 to 30).
    ScheduleDeletion(i32),
}

/// Does `action` and returns the key's state afterwards, read back from KMS.
pub async fn act(
    clients: &dyn ClientSource,
    region: &str,
    arn: &str,
    action: KeyAction,
) -> Result<String, RespondError> {
    let kms = clients.kms(region);
    match action {
        KeyAction::Disable => {
            kms.disable_key()
                .key_id(arn)
                .send()
                .await
                .map_err(|e| err("kms:DisableKey", &e))?;
        }
        KeyAction::Enable => {
            let state = key_facts(clients, region, arn).await?.state;
            if state == "PendingDeletion" {
                kms.cancel_key_deletion()
                    .key_id(arn)
                    .send()
                    .await
                    .map_err(|e| err("kms:CancelKeyDeletion", &e))?;
            }
            kms.enable_key()
                .key_id(arn)
                .send()
                .await
                .map_err(|e| err("kms:EnableKey", &e))?;
        }
        KeyAction::RotateNow => {
            kms.rotate_key_on_demand()
                .key_id(arn)
                .send()
                .await
                .map_err(|e| err("kms:RotateKeyOnDemand", &e))?;
        }
        KeyAction::ScheduleDeletion(days) => {
            kms.schedule_key_deletion()
                .key_id(arn)
                .pending_window_in_days(days)
                .send()
                .await
                .map_err(|e| err("kms:ScheduleKeyDeletion", &e))?;
        }
    }
    Ok(key_facts(clients, region, arn).await?.state)
}

/// How much later than the history's record of an `erase` CloudTrail may time its `DisableKey`
/// and still be that same call: the two clocks differ.
pub const CLOCK_SKEW_SECONDS: i64 = 120;

/// An `erase` of the key, as the history recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraseRecord {
    pub at: String,
    pub who: String,
    pub reason: String,
}

/// Who disabled a key, as far as the history and CloudTrail tell: what `restore` undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disabler {
    /// xray-cmk's `erase`, recorded in the history, and CloudTrail has no later `DisableKey`.
    Erase(EraseRecord),
    /// Someone else: CloudTrail's last `DisableKey` on the key, with no `erase` recorded since.
    Other { at: String, principal: String },
    /// Neither the history nor CloudTrail (its 90 days) has a record.
    NoRecord,
    /// CloudTrail could not be read: whether anyone else disabled the key is unknown.
    Unknown {
        erase: Option<EraseRecord>,
        error: CollectionError,
    },
}

impl Disabler {
    /// Whether `restore` needs `--force`: only a key xray-cmk's own `erase` disabled is restored
    /// without it.
    pub fn needs_force(&self) -> bool {
        !matches!(self, Disabler::Erase(_))
    }
}

fn epoch(t: &str) -> Option<i64> {
    aws_smithy_types::DateTime::from_str(t, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .map(|d| d.secs())
}

/// Who disabled the key, from the last `erase` or `restore` the history recorded on it (`last`:
/// a `restore` means xray-cmk did not disable it since) and CloudTrail's last `DisableKey` on it.
/// CloudTrail delivers an event minutes after the call, so an `erase` it does not show yet is
/// still the answer; a `DisableKey` after the recorded `erase` is someone else's.
pub fn who_disabled(
    last: Option<(&str, EraseRecord)>,
    trail: Result<Option<crate::evidence::KeyEvent>, CollectionError>,
) -> Disabler {
    let erase = last.and_then(|(action, r)| (action == "erase").then_some(r));
    let event = match trail {
        Err(error) => return Disabler::Unknown { erase, error },
        Ok(event) => event,
    };
    match (erase, event) {
        (Some(erase), None) => Disabler::Erase(erase),
        (None, None) => Disabler::NoRecord,
        (None, Some(e)) => Disabler::Other {
            at: e.time,
            principal: e.principal,
        },
        (Some(erase), Some(e)) => match (epoch(&erase.at), epoch(&e.time)) {
            (Some(ours), Some(theirs)) if theirs <= ours + CLOCK_SKEW_SECONDS => {
                Disabler::Erase(erase)
            }
            // Later, or a time that cannot be compared: not known to be the erase.
            _ => Disabler::Other {
                at: e.time,
                principal: e.principal,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::KeyEvent;

    fn erase(at: &str) -> EraseRecord {
        EraseRecord {
            at: at.to_owned(),
            who: "arn:aws:iam::111122223333:user/responder".to_owned(),
            reason: "leak".to_owned(),
        }
    }

    fn disable(at: &str) -> Result<Option<KeyEvent>, CollectionError> {
        Ok(Some(KeyEvent {
            time: at.to_owned(),
            name: "DisableKey".to_owned(),
            principal: "arn:aws:iam::111122223333:user/someone".to_owned(),
            source_ip: None,
        }))
    }

    fn denied() -> CollectionError {
        CollectionError {
            operation: "cloudtrail:LookupEvents".to_owned(),
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDeniedException".to_owned()),
            message: "denied".to_owned(),
        }
    }

    #[test]
    fn the_erase_is_the_disabler_when_cloudtrail_shows_nothing_later() {
        let e = erase("2026-12-01T10:00:05.123Z");
        for trail in [
            Ok(None),
            disable("2026-12-01T10:00:04Z"),
            disable("2026-12-01T10:01:30Z"),
            disable("2026-11-01T00:00:00Z"),
        ] {
            let got = who_disabled(Some(("erase", e.clone())), trail.clone());
            assert_eq!(got, Disabler::Erase(e.clone()), "{trail:?}");
            assert!(!got.needs_force());
        }
    }

    #[test]
    fn a_later_disable_or_no_erase_is_someone_else_and_needs_force() {
        let other = Disabler::Other {
            at: "2026-12-01T11:00:00Z".to_owned(),
            principal: "arn:aws:iam::111122223333:user/someone".to_owned(),
        };
        let e = erase("2026-12-01T10:00:00Z");
        assert_eq!(
            who_disabled(Some(("erase", e.clone())), disable("2026-12-01T11:00:00Z")),
            other
        );
        assert_eq!(who_disabled(None, disable("2026-12-01T11:00:00Z")), other);
        // The last thing xray-cmk did was a restore: whoever disabled it since was not erase.
        assert_eq!(
            who_disabled(
                Some(("restore", e.clone())),
                disable("2026-12-01T11:00:00Z")
            ),
            other
        );
        assert_eq!(
            who_disabled(Some(("restore", e)), Ok(None)),
            Disabler::NoRecord
        );
        assert_eq!(who_disabled(None, Ok(None)), Disabler::NoRecord);
        assert!(other.needs_force() && Disabler::NoRecord.needs_force());
    }

    #[test]
    fn cloudtrail_unread_is_unknown_even_with_an_erase_recorded() {
        let e = erase("2026-12-01T10:00:00Z");
        let got = who_disabled(Some(("erase", e.clone())), Err(denied()));
        assert_eq!(
            got,
            Disabler::Unknown {
                erase: Some(e),
                error: denied()
            }
        );
        assert!(got.needs_force());
    }
}
