//! Values as the evaluator leaves them: plain HCL values, with two kinds of marker strings for
//! what Terraform only knows at apply time.
//!
//! - A *reference* to a resource's computed attribute (`aws_kms_key.x.arn`) evaluates to
//!   `REF` + the resource address, so the inventory can follow it to the resource.
//! - Anything that cannot be resolved evaluates to `UNKNOWN` + the reason.
//!
//! The markers start with a control character no Terraform string contains, and survive string
//! templates and `jsonencode`, so a policy built from an unknown is itself seen as unknown.

use hcl::Value;

pub(crate) const REF: &str = "\u{1}ref:";
pub(crate) const UNKNOWN: &str = "\u{1}unknown:";
/// How the markers' first character looks once `jsonencode` escaped it.
const ESCAPED_MARK: &str = "\\u0001";

pub(crate) fn unknown(reason: impl std::fmt::Display) -> Value {
    Value::String(format!("{UNKNOWN}{reason}"))
}

pub(crate) fn reference(address: &str) -> Value {
    Value::String(format!("{REF}{address}"))
}

/// What a value is, for the inventory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved<'a> {
    Known(&'a Value),
    /// The address of the resource referred to.
    Ref(&'a str),
    Unknown(String),
}

pub(crate) fn resolve(v: &Value) -> Resolved<'_> {
    match v {
        Value::String(s) => {
            if let Some(addr) = s.strip_prefix(REF) {
                Resolved::Ref(addr)
            } else if let Some(why) = s.strip_prefix(UNKNOWN) {
                Resolved::Unknown(why.to_owned())
            } else if contains_marker(s) {
                Resolved::Unknown(embedded_reason(s))
            } else {
                Resolved::Known(v)
            }
        }
        _ if has_marker(v) => {
            Resolved::Unknown("part of the value is only known after apply".into())
        }
        _ => Resolved::Known(v),
    }
}

/// Why a string built from unknown parts (a template, `jsonencode`) is unknown: the first part's
/// reason, or the first reference's address.
fn embedded_reason(s: &str) -> String {
    let escaped_unknown = UNKNOWN.replace('\u{1}', ESCAPED_MARK);
    let escaped_ref = REF.replace('\u{1}', ESCAPED_MARK);
    let after = |marker: &str| {
        s.find(marker).map(|i| {
            s[i + marker.len()..]
                .split(['"', '\u{1}', '`'])
                .next()
                .unwrap_or_default()
                .trim_end_matches('\\')
                .to_owned()
        })
    };
    if let Some(why) = after(UNKNOWN).or_else(|| after(&escaped_unknown)) {
        format!("built from an unknown value: {why}")
    } else if let Some(addr) = after(REF).or_else(|| after(&escaped_ref)) {
        format!("built from {addr}, which is only known after apply")
    } else {
        "only known after apply".to_owned()
    }
}

/// Why `v` is not known, when it is a marker or a string built from one. Collections are known
/// as collections even when some of their elements are not.
pub(crate) fn unknown_reason(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if contains_marker(s) => Some(match resolve(v) {
            Resolved::Ref(addr) => format!("{addr} is only known after apply"),
            Resolved::Unknown(why) => why,
            Resolved::Known(_) => "only known after apply".to_owned(),
        }),
        _ => None,
    }
}

/// Why `v` is not known, when it is an unknown of any type (not a string built from one, nor a
/// reference, which stands for a string).
pub(crate) fn opaque_reason(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.strip_prefix(UNKNOWN).map(str::to_owned),
        _ => None,
    }
}

/// Why `v` or anything inside it is not known.
pub(crate) fn deep_unknown_reason(v: &Value) -> Option<String> {
    match v {
        Value::String(_) => unknown_reason(v),
        Value::Array(items) => items.iter().find_map(deep_unknown_reason),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if contains_marker(k) {
                Some("an object key is only known after apply".to_owned())
            } else {
                deep_unknown_reason(v)
            }
        }),
        _ => None,
    }
}

/// `v` as compact JSON with object keys sorted, as Terraform's `jsonencode` writes it.
pub(crate) fn jsonencode(v: &Value) -> String {
    xray_cmk_core::canonical_json(&to_json(v))
}

fn contains_marker(s: &str) -> bool {
    s.contains('\u{1}') || s.contains(ESCAPED_MARK)
}

/// Whether any string inside `v` carries a marker.
pub(crate) fn has_marker(v: &Value) -> bool {
    match v {
        Value::String(s) => contains_marker(s),
        Value::Array(items) => items.iter().any(has_marker),
        Value::Object(map) => map.iter().any(|(k, v)| contains_marker(k) || has_marker(v)),
        _ => false,
    }
}

/// An attribute of an object value.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map.get(key),
        _ => None,
    }
}

/// The nested blocks named `kind` of an instance: evaluated blocks are arrays of objects.
pub(crate) fn blocks<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    match get(v, kind) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(obj @ Value::Object(_)) => vec![obj],
        _ => Vec::new(),
    }
}

pub(crate) fn as_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !contains_marker(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

pub(crate) fn as_u32(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// HCL values to JSON, for policies and plan files.
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map(serde_json::Value::from)
            .or_else(|| n.as_u64().map(serde_json::Value::from))
            .or_else(|| n.as_f64().map(serde_json::Value::from))
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_u64().map(Value::from))
            .or_else(|| n.as_f64().map(Value::from))
            .unwrap_or(Value::Null),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_recognised_even_inside_json_text() {
        assert_eq!(
            resolve(&reference("aws_kms_key.x")),
            Resolved::Ref("aws_kms_key.x")
        );
        assert!(matches!(resolve(&unknown("var.x")), Resolved::Unknown(_)));
        let json = to_json(&Value::Object(
            [("k".to_owned(), unknown("var.x"))].into_iter().collect(),
        ))
        .to_string();
        assert!(matches!(
            resolve(&Value::String(json)),
            Resolved::Unknown(_)
        ));
        assert_eq!(
            resolve(&Value::from("plain")),
            Resolved::Known(&Value::from("plain"))
        );
    }

    #[test]
    fn a_string_built_from_an_unknown_says_which() {
        let Resolved::Unknown(why) = resolve(&Value::String(format!(
            "x{}",
            match unknown("var.y") {
                Value::String(s) => s,
                _ => unreachable!(),
            }
        ))) else {
            panic!("unknown")
        };
        assert_eq!(why, "built from an unknown value: var.y");
    }

    #[test]
    fn jsonencode_sorts_keys_as_terraform_does() {
        let v = Value::Object(
            [
                ("b".to_owned(), Value::from(1u64)),
                ("a".to_owned(), Value::from("x")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(jsonencode(&v), r#"{"a":"x","b":1}"#);
    }
}
