//! The inventory: what was observed, whether it came from a live account or (later) from Terraform.
//!
//! Every observation that could fail is an [`Observed`]: either the value, or the reason it could not
//! be read. Rules must treat [`Observed::Unknown`] as unknown, never as a pass.

use std::collections::BTreeMap;

/// Where an observation came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read from the AWS APIs of a live account.
    Live,
}

/// A value that was read, or the error that stopped it from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<T> {
    Known(T),
    Unknown(CollectionError),
}

impl<T> Observed<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Observed::Known(v) => Some(v),
            Observed::Unknown(_) => None,
        }
    }
}

/// Why a call failed, in the terms a rule needs to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    AccessDenied,
    NotFound,
    Throttled,
    Network,
    Other,
}

/// A failed read, with enough context to tell a person what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionError {
    /// `service:Operation`, e.g. `xray:GetEncryptionConfig`.
    pub operation: String,
    pub kind: ErrorKind,
    /// The AWS error code when the service returned one (`AccessDeniedException`).
    pub code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for CollectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.operation, self.message),
            None => write!(f, "{} failed: {}", self.operation, self.message),
        }
    }
}

/// X-Ray's encryption `Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionType {
    /// Default encryption with an AWS owned key.
    None,
    /// A KMS key: the AWS managed `aws/xray` key or a customer managed key.
    Kms,
    /// A value this version does not know; never judged compliant.
    Other(String),
}

/// The X-Ray encryption configuration of one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayEncryption {
    pub encryption_type: EncryptionType,
    /// The key as X-Ray reports it (an ARN for configs written through the API).
    pub key_id: Option<String>,
    /// `UPDATING` or `ACTIVE`, when reported.
    pub status: Option<String>,
}

/// One account and region whose X-Ray configuration is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayTarget {
    pub account: String,
    pub region: String,
    pub origin: Origin,
    pub encryption: Observed<XrayEncryption>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyManager {
    Aws,
    Customer,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    PendingReplicaDeletion,
    Unavailable,
    Creating,
    Updating,
    Other(String),
}

impl KeyState {
    pub fn as_str(&self) -> &str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
            KeyState::Unavailable => "Unavailable",
            KeyState::Creating => "Creating",
            KeyState::Updating => "Updating",
            KeyState::Other(s) => s,
        }
    }
}

/// What `DescribeKey` told us about a key. Every field the API marks optional stays optional:
/// a missing value is unknown, not a default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsKey {
    pub arn: Option<String>,
    pub key_id: String,
    pub key_manager: Option<KeyManager>,
    pub key_state: Option<KeyState>,
    /// `KeySpec`, falling back to the deprecated `CustomerMasterKeySpec`.
    pub key_spec: Option<String>,
    pub key_usage: Option<String>,
    pub description: Option<String>,
}

/// Everything one scan observed. Keys are collected once and shared by every target that uses them,
/// indexed by the key id exactly as X-Ray reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub targets: Vec<XrayTarget>,
    pub keys: BTreeMap<String, Observed<KmsKey>>,
}

impl Inventory {
    /// The key behind a target's configuration, if it uses one and it was collected.
    pub fn key_for(&self, encryption: &XrayEncryption) -> Option<&Observed<KmsKey>> {
        encryption.key_id.as_ref().and_then(|id| self.keys.get(id))
    }
}
