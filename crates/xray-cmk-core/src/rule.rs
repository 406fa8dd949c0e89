//! The rule trait, its metadata and the evaluation loop.

use crate::finding::{Finding, Severity};
use crate::model::{Inventory, XrayTarget};

/// What every rule declares about itself. The `docs` live in the rule's own module, so
/// `xray-cmk explain` and the README cannot drift from the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case id; never renamed or reused.
    pub id: &'static str,
    /// One line: what the rule checks.
    pub summary: &'static str,
    pub severity: Severity,
    /// The xray-cmk version that introduced the rule.
    pub since: &'static str,
    /// Markdown with the sections *What it does*, *Why is this bad?*, *How to fix*, *Example*
    /// and *References*.
    pub docs: &'static str,
}

/// A check over one X-Ray target. Rules return no finding when they do not apply to a target
/// (the key rules on a `NONE` configuration), otherwise exactly one: pass, fail or error.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, target: &XrayTarget, inventory: &Inventory) -> Option<Finding>;
}

/// Runs every rule of the registry over every target of the inventory, in a stable order:
/// targets as collected, rules in registry order.
pub fn evaluate(inventory: &Inventory) -> Vec<Finding> {
    inventory
        .targets
        .iter()
        .flat_map(|target| {
            crate::rules::ALL
                .iter()
                .filter_map(move |rule| rule.check(target, inventory))
        })
        .collect()
}
