//! JSON → [`PolicyDocument`]. Works on `serde_json::Value` rather than derived deserializers so that
//! every mistake gets a message naming the statement and the element, and so that the many
//! "string or list" shapes of the policy grammar are handled in one place.

use serde_json::{Map, Value};

use super::condition::Condition;
use super::principal::{PrincipalEntry, Principals};
use super::{
    ActionElement, Effect, KeyPolicyError, PolicyDocument, PrincipalElement, ResourceElement,
    Statement,
};

const DOCUMENT_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
const STRINGS: &str = "a string or an array of strings";

pub(super) fn document(json: &str) -> Result<PolicyDocument, KeyPolicyError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| KeyPolicyError::InvalidJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(KeyPolicyError::NotAnObject);
    };
    reject_unknown(&map, DOCUMENT_ELEMENTS, "the policy")?;
    let statements = match map.get("Statement") {
        None => return Err(KeyPolicyError::MissingStatement),
        Some(one @ Value::Object(_)) => vec![statement(0, one)?],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| statement(index, item))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(KeyPolicyError::InvalidStatementList),
    };
    Ok(PolicyDocument {
        version: optional_string(&map, "Version", "the policy")?,
        id: optional_string(&map, "Id", "the policy")?,
        statements,
    })
}

fn statement(index: usize, value: &Value) -> Result<Statement, KeyPolicyError> {
    let Value::Object(map) = value else {
        return Err(KeyPolicyError::InvalidStatementList);
    };
    let sid = optional_string(map, "Sid", &location(index, None))?;
    let at = location(index, sid.as_deref());
    reject_unknown(map, STATEMENT_ELEMENTS, &at)?;
    Ok(Statement {
        effect: effect(map, &at)?,
        principal: match one_of(map, "Principal", "NotPrincipal", &at)? {
            (true, v) => PrincipalElement::Principal(principals(v, &at)?),
            (false, v) => PrincipalElement::NotPrincipal(principals(v, &at)?),
        },
        action: match one_of(map, "Action", "NotAction", &at)? {
            (true, v) => ActionElement::Action(strings(v, &at, "Action")?),
            (false, v) => ActionElement::NotAction(strings(v, &at, "NotAction")?),
        },
        resource: match one_of(map, "Resource", "NotResource", &at)? {
            (true, v) => ResourceElement::Resource(strings(v, &at, "Resource")?),
            (false, v) => ResourceElement::NotResource(strings(v, &at, "NotResource")?),
        },
        conditions: match map.get("Condition") {
            Some(block) => conditions(block, &at)?,
            None => Vec::new(),
        },
        sid,
    })
}

/// `statement 3` or `statement 3 (Sid "Allow use of the key")`, counting from 1 as people do.
fn location(index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("statement {} (Sid \"{sid}\")", index + 1),
        None => format!("statement {}", index + 1),
    }
}

fn reject_unknown(
    map: &Map<String, Value>,
    known: &[&str],
    at: &str,
) -> Result<(), KeyPolicyError> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(name) => Err(KeyPolicyError::UnknownElement {
            at: at.to_string(),
            name: name.clone(),
        }),
        None => Ok(()),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    field: &'static str,
    at: &str,
) -> Result<Option<String>, KeyPolicyError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(KeyPolicyError::InvalidField {
            at: at.to_string(),
            field,
            expected: "a string",
        }),
    }
}

fn effect(map: &Map<String, Value>, at: &str) -> Result<Effect, KeyPolicyError> {
    match map.get("Effect") {
        None => Err(KeyPolicyError::MissingEffect { at: at.to_string() }),
        Some(Value::String(s)) if s == "Allow" => Ok(Effect::Allow),
        Some(Value::String(s)) if s == "Deny" => Ok(Effect::Deny),
        Some(Value::String(s)) => Err(KeyPolicyError::UnknownEffect {
            at: at.to_string(),
            value: s.clone(),
        }),
        Some(_) => Err(KeyPolicyError::InvalidField {
            at: at.to_string(),
            field: "Effect",
            expected: "the string `Allow` or `Deny`",
        }),
    }
}

/// Exactly one of the positive element and its `Not…` twin: `(true, v)` for the positive one.
fn one_of<'m>(
    map: &'m Map<String, Value>,
    first: &'static str,
    second: &'static str,
    at: &str,
) -> Result<(bool, &'m Value), KeyPolicyError> {
    match (map.get(first), map.get(second)) {
        (Some(v), None) => Ok((true, v)),
        (None, Some(v)) => Ok((false, v)),
        (Some(_), Some(_)) => Err(KeyPolicyError::BothElements {
            at: at.to_string(),
            first,
            second,
        }),
        (None, None) => Err(KeyPolicyError::MissingElement {
            at: at.to_string(),
            first,
            second,
        }),
    }
}

fn strings(value: &Value, at: &str, field: &'static str) -> Result<Vec<String>, KeyPolicyError> {
    let invalid = || KeyPolicyError::InvalidField {
        at: at.to_string(),
        field,
        expected: STRINGS,
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(invalid))
            .collect(),
        _ => Err(invalid()),
    }
}

fn principals(value: &Value, at: &str) -> Result<Principals, KeyPolicyError> {
    let invalid = |detail: String| KeyPolicyError::InvalidPrincipal {
        at: at.to_string(),
        detail,
    };
    let entries = match value {
        Value::String(s) if s == "*" => vec![PrincipalEntry::Everyone],
        Value::String(s) => {
            return Err(invalid(format!(
                "`{s}`: a principal given as a plain string must be \"*\"; name others as {{\"AWS\": \"{s}\"}}"
            )))
        }
        Value::Object(map) => {
            let mut entries = Vec::new();
            for (kind, ids) in map {
                let make: fn(String) -> PrincipalEntry = match kind.as_str() {
                    "AWS" => PrincipalEntry::Aws,
                    "Service" => PrincipalEntry::Service,
                    "Federated" => PrincipalEntry::Federated,
                    "CanonicalUser" => PrincipalEntry::CanonicalUser,
                    other => {
                        return Err(invalid(format!(
                            "unknown principal type `{other}` (expected AWS, Service, Federated or CanonicalUser)"
                        )))
                    }
                };
                let ids = strings(ids, at, "Principal")
                    .map_err(|_| invalid(format!("`{kind}` must be {STRINGS}")))?;
                entries.extend(ids.into_iter().map(make));
            }
            entries
        }
        _ => return Err(invalid("expected \"*\" or an object such as {\"AWS\": \"…\"}".into())),
    };
    Ok(Principals { entries })
}

fn conditions(block: &Value, at: &str) -> Result<Vec<Condition>, KeyPolicyError> {
    let invalid = |detail: String| KeyPolicyError::InvalidCondition {
        at: at.to_string(),
        detail,
    };
    let Value::Object(operators) = block else {
        return Err(invalid("`Condition` must be an object of operators".into()));
    };
    let mut out = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            return Err(invalid(format!(
                "`{operator}` must map condition keys to values"
            )));
        };
        for (key, values) in keys {
            let values = condition_values(values)
                .ok_or_else(|| invalid(format!("`{operator}` `{key}`: values must be strings, booleans or numbers, or an array of them")))?;
            out.push(Condition::new(operator, key, values));
        }
    }
    // serde_json may or may not keep document order (its `preserve_order` feature is unified across
    // the workspace); sorting keeps parsing and summaries deterministic either way.
    out.sort_by(|a, b| (a.operator(), a.key()).cmp(&(b.operator(), b.key())));
    Ok(out)
}

fn condition_values(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items.iter().map(scalar_text).collect(),
        other => scalar_text(other).map(|v| vec![v]),
    }
}

/// The text of a scalar condition value: `true` and `"true"` mean the same to IAM.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
