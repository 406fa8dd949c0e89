//! IAM / KMS key policy documents: parsing, evaluation and the analyses the key rules need.
//!
//! A key policy is the resource policy of a KMS key. This module parses its JSON into a typed
//! [`PolicyDocument`], answers "may this principal call this action on the key?" the way AWS
//! evaluates a single-account resource policy ([`PolicyDocument::evaluate`]), and offers the
//! structural analyses the rules need ([`public_statements`], [`is_default_only`],
//! [`allowed_accounts`]).
//!
//! What is deliberately out of scope: IAM identity policies, SCPs, grants and policy variables.
//! Whatever the model cannot decide is reported as [`Decision::Undetermined`], never guessed.

mod analysis;
mod condition;
mod context;
mod error;
mod evaluate;
mod parse;
mod principal;
mod scalar;
mod summary;
mod tri;
mod wildcard;

pub use analysis::{allowed_accounts, is_default_only, public_statements, CALLER_PINNING_KEYS};
pub use condition::Condition;
pub use context::Context;
pub use error::KeyPolicyError;
pub use evaluate::{Decision, Request};
pub use principal::{PrincipalEntry, Principals};

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The policy language version (`2012-10-17`), when given.
    pub version: Option<String>,
    /// The optional policy `Id` (`key-default-1`, `key-consolepolicy-3`, …).
    pub id: Option<String>,
    /// The statements, in document order. A single statement object parses to a one-element list.
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Parses a key policy from its JSON text.
    pub fn parse(json: &str) -> Result<Self, KeyPolicyError> {
        parse::document(json)
    }
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: PrincipalElement,
    pub action: ActionElement,
    pub resource: ResourceElement,
    /// Every condition of the `Condition` block, one per operator and key; all must hold.
    pub conditions: Vec<Condition>,
}

/// `Principal` (who the statement names) or `NotPrincipal` (everyone except those named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalElement {
    Principal(Principals),
    NotPrincipal(Principals),
}

/// `Action` (the actions named) or `NotAction` (every action except those named). Patterns keep
/// the policy's spelling; matching is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionElement {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

/// `Resource` or `NotResource`. In a key policy the resource is always the key itself (`"*"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceElement {
    Resource(Vec<String>),
    NotResource(Vec<String>),
}
