//! The inventory: what was observed, whether it came from a live account or (later) from Terraform.
//!
//! Every observation that could fail is an [`Observed`]: either the value, or the reason it could not
//! be read. Rules must treat [`Observed::Unknown`] as unknown, never as a pass.

use std::collections::{BTreeMap, BTreeSet};

/// Where an observation came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read from the AWS APIs of a live account.
    Live,
    /// Declared in Terraform: the module directory and the resource address
    /// (`envs/prod/aws_xray_encryption_config.this`, unique across the modules of a scan) and
    /// where.
    Terraform {
        address: String,
        location: SourceLocation,
    },
    /// Declared in a CloudFormation template (SAM and CDK output included): the template file and
    /// the resource's logical id (`cdk.out/App.template.json/XrayGuard`, with the CDK construct
    /// path after it when the template gives one), and where.
    CloudFormation {
        address: String,
        location: SourceLocation,
    },
}

impl Origin {
    pub fn location(&self) -> Option<&SourceLocation> {
        match self {
            Origin::Live => None,
            Origin::Terraform { location, .. } | Origin::CloudFormation { location, .. } => {
                Some(location)
            }
        }
    }

    /// The Terraform resource address (or the CloudFormation template and logical id), for
    /// results about declared configuration.
    pub fn address(&self) -> Option<&str> {
        match self {
            Origin::Live => None,
            Origin::Terraform { address, .. } | Origin::CloudFormation { address, .. } => {
                Some(address)
            }
        }
    }

    /// Whether the configuration was declared in code (Terraform or CloudFormation) rather than
    /// read from a live account: nothing can be asked of IAM about it.
    pub fn is_declared(&self) -> bool {
        !matches!(self, Origin::Live)
    }
}

/// A region of a source file: 1-based lines and columns (columns count characters), the end
/// inclusive of its line and exclusive of its column, as SARIF's `region` has them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceLocation {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

/// A value that was read, or the error that stopped it from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<T> {
    Known(T),
    Unknown(CollectionError),
}

impl<T> Observed<T> {
    /// Unknown because `operation` was never called.
    pub fn not_collected(operation: &str) -> Self {
        Observed::Unknown(CollectionError {
            operation: operation.to_owned(),
            kind: ErrorKind::Other,
            code: None,
            message: "not collected".to_owned(),
        })
    }

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
    /// Denied: the caller may not call the operation ([`CollectionError::operation`] names the
    /// action), or its credentials were refused.
    AccessDenied,
    NotFound,
    Throttled,
    /// The service refused the request as invalid (`ValidationException`, `InvalidParameter...`).
    Invalid,
    /// No answer: the endpoint could not be reached, or not within the call's budget.
    Unreachable,
    /// Not called: KMS answers it only in the key's own account, which is not in the scan.
    OwnerNotInScope,
    Other,
}

/// A failed AWS call, classified once from the SDK's error metadata (`xray-cmk-aws`'s
/// `classify`), with enough context to tell a person what to do. Decisions read [`Self::kind`]
/// (and [`Self::code`]), never the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionError {
    /// `service:Operation`, e.g. `xray:GetEncryptionConfig`.
    pub operation: String,
    pub kind: ErrorKind,
    /// The AWS error code when the service returned one (`AccessDeniedException`).
    pub code: Option<String>,
    pub message: String,
}

impl std::error::Error for CollectionError {}

impl CollectionError {
    /// Whether the call was denied.
    pub fn is_denied(&self) -> bool {
        self.kind == ErrorKind::AccessDenied
    }
}

impl std::fmt::Display for CollectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, self.kind) {
            (_, ErrorKind::OwnerNotInScope) => {
                write!(f, "{} not called: {}", self.operation, self.message)
            }
            (Some(code), _) => write!(f, "{} failed: {code}: {}", self.operation, self.message),
            (None, _) => write!(f, "{} failed: {}", self.operation, self.message),
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

/// What a response without X-Ray's `Type` is: not `NONE` (nothing says so) but a value this
/// version cannot judge, so never compliant and never a precondition that holds. The collector,
/// the executor and `respond` all read a missing `Type` through [`EncryptionType::from_wire`].
pub const MISSING_TYPE: &str = "(missing)";

impl EncryptionType {
    /// X-Ray's wire value (`NONE`, `KMS`), as the API and AWS Config give it; anything else is
    /// [`EncryptionType::Other`].
    pub fn parse(value: &str) -> Self {
        match value {
            "NONE" => EncryptionType::None,
            "KMS" => EncryptionType::Kms,
            other => EncryptionType::Other(other.to_owned()),
        }
    }

    /// `Type` as a response gives it, or its absence ([`MISSING_TYPE`]).
    pub fn from_wire(value: Option<&str>) -> Self {
        value.map_or_else(
            || EncryptionType::Other(MISSING_TYPE.to_owned()),
            EncryptionType::parse,
        )
    }

    /// The wire value: `NONE`, `KMS`, or the value this version does not know.
    pub fn as_wire(&self) -> &str {
        match self {
            EncryptionType::None => "NONE",
            EncryptionType::Kms => "KMS",
            EncryptionType::Other(v) => v,
        }
    }
}

impl std::fmt::Display for EncryptionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_wire())
    }
}

/// As its wire value, so a plan file holds `"NONE"` / `"KMS"` as before.
impl serde::Serialize for EncryptionType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_wire())
    }
}

impl<'de> serde::Deserialize<'de> for EncryptionType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = String::deserialize(deserializer)?;
        Ok(EncryptionType::parse(&wire))
    }
}

#[cfg(test)]
mod encryption_type_tests {
    use super::*;

    #[test]
    fn a_missing_type_is_never_none_or_kms() {
        let missing = EncryptionType::from_wire(None);
        assert_eq!(missing, EncryptionType::Other(MISSING_TYPE.to_owned()));
        assert_ne!(missing.as_wire(), "NONE");
        assert_ne!(missing.as_wire(), "KMS");
        for wire in ["NONE", "KMS", "SOMETHING_NEW"] {
            assert_eq!(EncryptionType::from_wire(Some(wire)).as_wire(), wire);
        }
    }

    #[test]
    fn serialises_as_its_wire_value_and_a_missing_type_round_trips_as_unknown() {
        for t in [
            EncryptionType::None,
            EncryptionType::Kms,
            EncryptionType::Other("NEW".to_owned()),
            EncryptionType::from_wire(None),
        ] {
            let json = serde_json::to_string(&t).expect("json");
            assert_eq!(json, format!("\"{}\"", t.as_wire()));
            let back: EncryptionType = serde_json::from_str(&json).expect("back");
            assert_eq!(back, t);
        }
        let missing: EncryptionType =
            serde_json::from_str(&format!("\"{MISSING_TYPE}\"")).expect("missing");
        assert!(!matches!(
            missing,
            EncryptionType::None | EncryptionType::Kms
        ));
    }
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
    /// Trails DescribeTrails lists for the region; `None` when not collected (e.g. Terraform).
    pub trails: Option<Observed<Vec<TrailRef>>>,
    /// Where X-Ray sends spans; `None` when not collected.
    pub segment_destination: Option<Observed<SegmentDestination>>,
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

/// What KMS told us about a key, collected once per scan however many targets share it.
/// Every field the APIs mark optional stays optional: a missing value is unknown, not a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    pub arn: Option<String>,
    pub key_id: String,
    pub key_manager: Option<KeyManager>,
    pub key_state: Option<KeyState>,
    /// `KeySpec`, falling back to the deprecated `CustomerMasterKeySpec`.
    pub key_spec: Option<String>,
    pub key_usage: Option<String>,
    pub description: Option<String>,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`.
    pub origin: Option<String>,
    pub multi_region: Option<bool>,
    /// `GetKeyRotationStatus`.
    pub rotation: Observed<Rotation>,
    /// The `default` key policy document, as JSON text (`GetKeyPolicy`).
    pub policy: Observed<String>,
    /// `ListResourceTags`.
    pub tags: Observed<BTreeMap<String, String>>,
    /// Alias names (`alias/x`) pointing at the key (`ListAliases`).
    pub aliases: Observed<Vec<String>>,
    /// Where the key is declared, for a key read from Terraform.
    pub source: Option<SourceLocation>,
}

impl KmsKey {
    /// A key known only from `DescribeKey`; the other reads are marked as not collected.
    pub fn described(key_id: impl Into<String>) -> Self {
        KmsKey {
            arn: None,
            key_id: key_id.into(),
            key_manager: None,
            key_state: None,
            key_spec: None,
            key_usage: None,
            description: None,
            origin: None,
            multi_region: None,
            rotation: Observed::not_collected("kms:GetKeyRotationStatus"),
            policy: Observed::not_collected("kms:GetKeyPolicy"),
            tags: Observed::not_collected("kms:ListResourceTags"),
            aliases: Observed::not_collected("kms:ListAliases"),
            source: None,
        }
    }

    /// The account and region from the key's ARN.
    pub fn account_region(&self) -> Option<(&str, &str)> {
        arn_account_region(self.arn.as_deref()?)
    }
}

/// `(account, region)` of an ARN such as `arn:aws:kms:eu-west-1:111122223333:key/...`.
pub fn arn_account_region(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some(_), Some(region), Some(account)) => Some((account, region)),
        _ => None,
    }
}

/// Automatic rotation, from `GetKeyRotationStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub enabled: bool,
    pub period_days: Option<u32>,
    /// RFC 3339, when reported.
    pub next_rotation: Option<String>,
}

/// A CloudTrail trail that DescribeTrails listed for a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailRef {
    pub arn: String,
    pub name: String,
    pub home_region: String,
    pub multi_region: bool,
    pub organization: bool,
}

impl TrailRef {
    /// Whether the trail records events of `region`.
    pub fn covers(&self, region: &str) -> bool {
        self.multi_region || self.home_region == region
    }
}

/// What a trail records, collected once per trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailState {
    /// `GetTrailStatus.IsLogging`.
    pub logging: Observed<bool>,
    pub selectors: Observed<EventSelectors>,
}

/// A trail's event selectors: basic or advanced, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelectors {
    Basic(Vec<BasicSelector>),
    Advanced(Vec<AdvancedSelector>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicSelector {
    /// `ReadOnly`, `WriteOnly` or `All`; AWS's default is `All`.
    pub read_write_type: Option<String>,
    /// AWS's default is `true`.
    pub include_management_events: Option<bool>,
    pub exclude_management_event_sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvancedSelector {
    pub name: Option<String>,
    pub fields: Vec<FieldSelector>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub not_equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

/// Where X-Ray stores trace segments (`GetTraceSegmentDestination`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDestination {
    /// `XRay` or `CloudWatchLogs` (Transaction Search).
    pub destination: String,
    pub status: Option<String>,
    /// The `aws/spans` log group, read when the destination is `CloudWatchLogs`:
    /// `Known(None)` when it does not exist.
    pub spans_log_group: Option<Observed<Option<LogGroup>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    /// The KMS key ARN protecting the group, if any.
    pub kms_key_id: Option<String>,
}

/// Everything one scan observed. Keys are collected once and shared by every target that uses them,
/// indexed by the key id exactly as X-Ray reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub targets: Vec<XrayTarget>,
    pub keys: BTreeMap<String, Observed<KmsKey>>,
    /// Trail details by trail ARN, collected once per trail.
    pub trails: BTreeMap<String, TrailState>,
    /// Keys in `keys` whose own findings another account's inventory of the same scan reports:
    /// a key shared by several accounts is judged once.
    pub keys_judged_elsewhere: BTreeSet<String>,
    /// Keys in `keys` this account read with the calls KMS answers across accounts, because
    /// their owner is not in the scan: this account cannot see their policy, tags or aliases, and
    /// their own findings are reported under it (each account using such a key reads it).
    pub keys_read_across_accounts: BTreeSet<String>,
    /// Terraform root modules, with what turns X-Ray tracing on in them and whether they declare
    /// an `aws_xray_encryption_config`. Empty for live scans.
    pub terraform_modules: Vec<TerraformModule>,
    /// CloudFormation templates, with what turns X-Ray tracing on in them and whether they
    /// manage X-Ray's encryption. Empty for live and Terraform scans.
    pub cloudformation_templates: Vec<CloudFormationTemplate>,
    /// The keys of each live (account, region) that no alias names, when collected
    /// (`Needs::key_listing`): where xray-cmk's orphans are found.
    pub unaliased_keys: BTreeMap<(String, String), Observed<Vec<UnaliasedKey>>>,
    /// What IAM's policy simulator answered where a key policy leaves X-Ray's principals' access
    /// to IAM (see [`AccessQuestion`]). A question without an answer was not asked.
    pub iam_answers: BTreeMap<AccessQuestion, Observed<SimulatedAccess>>,
    /// Whether IAM's part of X-Ray's access to the keys is judged at all.
    pub iam_scope: IamScope,
    /// What of the guardrail (AWS Config, EventBridge) each live (account, region) has, when
    /// collected (`Needs::guardrail`).
    pub guardrails: BTreeMap<(String, String), Guardrail>,
    /// The service control policies on each account's path from the organization's root, when
    /// collected (`Needs::scp`, an `--org` scan).
    pub scp_paths: BTreeMap<String, Observed<ScpPath>>,
    /// The live (account, region)s whose X-Ray encryption configuration was read from an AWS
    /// Config aggregator (`audit --from-config-aggregator`) rather than from X-Ray; every other
    /// live target was read from X-Ray.
    pub config_sourced: BTreeMap<(String, String), ConfigCapture>,
}

/// An X-Ray encryption configuration as an AWS Config configuration item recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCapture {
    /// The aggregator it was read through.
    pub aggregator: String,
    /// `configurationItemCaptureTime`, as Config gives it (RFC 3339); `None` when the
    /// aggregator could not be read (the configuration is then unknown).
    pub captured_at: Option<String>,
}

/// Where a live audit read what a result judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFrom {
    /// From the account's own APIs, during the audit.
    Live,
    /// X-Ray's encryption configuration from an AWS Config configuration item; everything else
    /// the result depends on (keys, trails) was read live.
    Config(ConfigCapture),
}

/// The guardrail's detection and alerting as one account and region has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardrail {
    /// `config:DescribeConfigurationRecorders` with `DescribeConfigurationRecorderStatus`.
    pub recorders: Observed<Vec<ConfigRecorder>>,
    /// `config:DescribeConfigRules`.
    pub config_rules: Observed<Vec<ConfigRule>>,
    /// `events:ListRules` on the default event bus, with `events:ListTargetsByRule` of each
    /// enabled rule that has an event pattern.
    pub event_rules: Observed<Vec<EventRule>>,
}

/// An AWS Config configuration recorder and whether it is recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRecorder {
    pub name: String,
    pub scope: RecordingScope,
    /// `ConfigurationRecorderStatus.recording`; `None` when the status lists no such recorder.
    pub recording: Option<bool>,
    /// The service a service-linked recorder records for; `None` for a customer managed one.
    pub service_principal: Option<String>,
}

/// Which resource types a recorder records (its `recordingGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingScope {
    /// `allSupported`, or `recordingStrategy.useOnly` `ALL_SUPPORTED_RESOURCE_TYPES`.
    AllSupported,
    /// `INCLUSION_BY_RESOURCE_TYPES`: only these.
    Only(Vec<String>),
    /// `EXCLUSION_BY_RESOURCE_TYPES`: every supported type but these.
    AllExcept(Vec<String>),
    /// A `recordingStrategy` this version does not know.
    Other(String),
}

/// An AWS Config rule, as `DescribeConfigRules` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRule {
    pub name: String,
    /// `ACTIVE`, `DELETING`, `DELETING_RESULTS`, `EVALUATING`; `None` when not reported.
    pub state: Option<String>,
    /// `Source.Owner`: `AWS`, `CUSTOM_LAMBDA` or `CUSTOM_POLICY`.
    pub owner: Option<String>,
    /// `Scope.ComplianceResourceTypes`.
    pub resource_types: Vec<String>,
    /// `Scope.ComplianceResourceId`.
    pub resource_id: Option<String>,
    /// `Scope.TagKey`.
    pub tag_key: Option<String>,
}

/// An EventBridge rule of the default event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    pub name: String,
    /// `ENABLED`, `DISABLED` or `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
    pub state: Option<String>,
    /// The event pattern, as JSON text; `None` for a scheduled rule.
    pub event_pattern: Option<String>,
    /// The targets' ARNs (`ListTargetsByRule`), read for enabled rules with a pattern.
    pub targets: Observed<Vec<String>>,
}

/// An account's place in the organization, from the account up to the root
/// (`organizations:ListParents`), with the SCPs attached at each step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScpPath {
    /// Whether the account is the organization's management account, which SCPs never restrict
    /// (`organizations:DescribeOrganization`).
    pub management_account: bool,
    /// The account first, then each OU, then the root.
    pub nodes: Vec<OrgNode>,
}

/// One step of an [`ScpPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgNode {
    /// `111122223333`, `ou-…` or `r-…`.
    pub id: String,
    /// `organizations:ListPoliciesForTarget` (`SERVICE_CONTROL_POLICY`), each with its content
    /// (`organizations:DescribePolicy`).
    pub policies: Vec<Scp>,
}

/// A service control policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scp {
    pub id: String,
    pub name: Option<String>,
    /// The policy document, as JSON text.
    pub content: Observed<String>,
}

/// Whether the key-use rules judge what only IAM policies decide (see
/// `kms-key-policy-xray-access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IamScope {
    /// An audit: IAM's part is judged from [`Inventory::iam_answers`], and a question without an
    /// answer is unknown.
    #[default]
    Judged,
    /// A key judged on its own, before X-Ray uses it (the key a plan would create, a key to adopt
    /// or to switch X-Ray to): the IAM policies of X-Ray's principals are not part of the key, so
    /// only what the key policy decides is judged. The audit after the change judges the rest.
    KeyPolicyOnly,
}

/// What X-Ray's principals need of a key, per the AWS page "Data protection in AWS X-Ray":
/// configurers `kms:CreateGrant` and `kms:DescribeKey`, trace readers `kms:Decrypt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyAction {
    CreateGrant,
    DescribeKey,
    Decrypt,
}

impl KeyAction {
    /// The IAM action name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAction::CreateGrant => "kms:CreateGrant",
            KeyAction::DescribeKey => "kms:DescribeKey",
            KeyAction::Decrypt => "kms:Decrypt",
        }
    }
}

impl std::fmt::Display for KeyAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One question for IAM's policy simulator: may `principal` (an IAM role or user, its exact ARN)
/// call `action` on the key `key_arn` as X-Ray does in `region` (`kms:ViaService`
/// `xray.<region>.amazonaws.com`; for `CreateGrant`, `kms:GrantIsForAWSResource`)?
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessQuestion {
    pub principal: String,
    pub action: KeyAction,
    pub key_arn: String,
    pub region: String,
}

/// What `iam:SimulatePrincipalPolicy` answered to an [`AccessQuestion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedAccess {
    pub decision: SimulatedDecision,
    /// Condition keys the policies use that the request context did not hold: the simulator
    /// decided as if they were absent.
    pub missing_context: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimulatedDecision {
    Allowed,
    /// A Deny matched; the policies carrying it, as the simulator names them.
    ExplicitDeny {
        by: Vec<String>,
    },
    /// Nothing allows it; what the simulator said about SCPs and the permissions boundary.
    ImplicitDeny {
        why: Vec<String>,
    },
    /// IAM has no such role or user (`NoSuchEntity`).
    NoSuchPrincipal,
}

/// A key of an account and region that no alias names (`ListKeys`, `ListAliases`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnaliasedKey {
    pub key_id: String,
    pub arn: Option<String>,
    /// `ListResourceTags`.
    pub tags: Observed<BTreeMap<String, String>>,
    /// `DescribeKey`, read only for a key whose tags say it is xray-cmk's.
    pub described: Option<Observed<KeyStatus>>,
}

/// A key's state, and when it is deleted if it is pending deletion (`DescribeKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub state: Option<KeyState>,
    /// RFC 3339.
    pub deletion_date: Option<String>,
}

/// Whether something declared in Terraform takes effect: certainly, or only depending on a value
/// Terraform knows at apply time (a variable without a value, a `dynamic` block, an unknown
/// `count` or `for_each`), with what is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Certain,
    Unknown(String),
}

/// A place in a Terraform module tree that turns X-Ray tracing on, or may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingSite {
    /// What: `aws_lambda_function.api tracing_config mode = "Active"`, or, when unknown, the
    /// setting (`aws_lambda_function.api tracing_config mode`).
    pub what: String,
    pub location: SourceLocation,
    pub presence: Presence,
}

/// An `aws_xray_encryption_config` a Terraform module tree declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredConfig {
    /// The module directory and the resource address (`envs/prod/aws_xray_encryption_config.this`).
    pub address: String,
    pub location: SourceLocation,
    pub presence: Presence,
}

/// A Terraform root module (its own directory and the local modules it calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerraformModule {
    /// The module's directory, as given or found.
    pub path: String,
    /// Where tracing is turned on, or may be.
    pub tracing: Vec<TracingSite>,
    /// The `aws_xray_encryption_config` resources the module tree declares.
    pub encryption: Vec<DeclaredConfig>,
    /// The location to report a module-level finding at (its first `.tf` file).
    pub location: SourceLocation,
}

/// A CloudFormation template (SAM and CDK output included). CloudFormation has no resource for
/// X-Ray's encryption, so what manages it is the guardrail's automatic
/// `AWS::Config::RemediationConfiguration` or xray-cmk's custom resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFormationTemplate {
    /// The template file, as given or found.
    pub path: String,
    /// Where tracing is turned on, or may be (`what` names the logical id, and the CDK construct
    /// path when the template gives one).
    pub tracing: Vec<TracingSite>,
    /// What in the template sets X-Ray's encryption, with whether it is certainly deployed (a
    /// resource `Condition` that cannot be decided is unknown).
    pub encryption: Vec<DeclaredConfig>,
    /// The location to report a template-level finding at (its first line).
    pub location: SourceLocation,
}

impl Inventory {
    /// The key behind a target's configuration, if it uses one and it was collected.
    pub fn key_for(&self, encryption: &XrayEncryption) -> Option<&Observed<KmsKey>> {
        encryption.key_id.as_ref().and_then(|id| self.keys.get(id))
    }

    /// The targets whose X-Ray configuration uses the key indexed as `key_id`.
    pub fn targets_using<'a>(
        &'a self,
        key_id: &'a str,
    ) -> impl Iterator<Item = &'a XrayTarget> + 'a {
        self.targets.iter().filter(move |t| {
            t.encryption.known().is_some_and(|e| {
                e.encryption_type == EncryptionType::Kms && e.key_id.as_deref() == Some(key_id)
            })
        })
    }
}
