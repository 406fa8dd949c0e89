//! The pure core of xray-cmk: the inventory model, the rules that judge it and the findings they
//! produce. Nothing here performs I/O or links the AWS SDK, so the whole rule set can be tested with
//! hand-built inventories in milliseconds.

pub mod finding;
pub mod key_policy;
pub mod model;
pub mod policy;
pub mod region;
pub mod remediation;
pub mod rule;
pub mod rules;
pub mod summary;

pub use finding::{Confidence, Finding, Severity, Status, Suppression};
pub use model::{
    CollectionError, EncryptionType, ErrorKind, Inventory, KeyManager, KeyState, KmsKey, Observed,
    Origin, SourceLocation, TerraformModule, XrayEncryption, XrayTarget,
};
pub use policy::{Date, OrgPolicy};
pub use rule::{evaluate, select, sort_findings, Context, Input, KeyRef, Needs, Rule, RuleMeta};
pub use summary::{Summary, SummaryBuilder};
