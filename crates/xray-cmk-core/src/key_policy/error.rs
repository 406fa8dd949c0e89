//! Why a key policy could not be parsed.

/// A key policy that is not a well-formed policy document. `at` names the statement (1-based, with
/// its `Sid` when it has one) so a person can find it in a long policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPolicyError {
    #[error("the key policy is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the key policy must be a JSON object")]
    NotAnObject,
    #[error("the key policy has no `Statement`")]
    MissingStatement,
    #[error("`Statement` must be an object or an array of objects")]
    InvalidStatementList,
    #[error("{at}: unknown element `{name}`")]
    UnknownElement { at: String, name: String },
    #[error("{at}: `{field}` must be {expected}")]
    InvalidField {
        at: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error("{at}: missing `Effect`")]
    MissingEffect { at: String },
    #[error("{at}: unknown `Effect` `{value}` (expected `Allow` or `Deny`)")]
    UnknownEffect { at: String, value: String },
    #[error("{at}: missing `{first}` or `{second}`")]
    MissingElement {
        at: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{at}: has both `{first}` and `{second}`")]
    BothElements {
        at: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{at}: invalid principal: {detail}")]
    InvalidPrincipal { at: String, detail: String },
    #[error("{at}: invalid condition: {detail}")]
    InvalidCondition { at: String, detail: String },
}
