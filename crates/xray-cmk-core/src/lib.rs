//! The pure core of xray-cmk: the inventory model, the rules that judge it and the findings they
//! produce. Nothing here performs I/O or links the AWS SDK, so the whole rule set can be tested with
//! hand-built inventories in milliseconds.

pub mod event_pattern;
pub mod evidence;
pub mod finding;
pub mod guard;
pub mod key_policy;
pub mod model;
pub mod policy;
pub mod region;
pub mod remediation;
pub mod rule;
pub mod rules;
pub mod summary;
pub mod text;

pub use finding::{Confidence, Finding, Severity, Status, Suppression};
pub use model::{
    CloudFormationTemplate, CollectionError, DeclaredConfig, EncryptionType, ErrorKind, Inventory,
    KeyManager, KeyState, KmsKey, Observed, Origin, Presence, SourceLocation, TerraformModule,
    TracingSite, XrayEncryption, XrayTarget,
};
pub use policy::{Date, OrgPolicy};
pub use rule::{
    evaluate, select, sort_findings, Context, Input, KeyRef, Needs, Rule, RuleId, RuleMeta,
};
pub use summary::{Summary, SummaryBuilder};

/// `value` as compact JSON with every object's keys in sorted order: what a digest is taken over,
/// and what Terraform's `jsonencode` writes. Independent of how the JSON library orders maps.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn go(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    go(&map[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    go(value, &mut out);
    out
}
