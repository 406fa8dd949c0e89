//! Amazon EventBridge event patterns: does a pattern match an event?
//!
//! Written from the EventBridge User Guide ("Creating event patterns", "Content filtering in
//! Amazon EventBridge event patterns", "Arrays in Amazon EventBridge event patterns"):
//! - a pattern is a JSON object; a field holds either a nested object (the event's object at that
//!   field) or an array of the values it accepts, any of which may match (arrays are OR);
//! - fields of the event the pattern does not name are ignored; every field the pattern names must
//!   match (AND); `$or` takes a list of patterns, any of which may match;
//! - an array in the event matches when any of its values matches (arrays are flattened, through
//!   intermediate levels too);
//! - a literal string, number, `true`, `false` or `null` matches exactly (case-sensitive; numbers
//!   by value);
//! - content filters: `prefix` and `suffix` (optionally `{"equals-ignore-case": ...}`),
//!   `equals-ignore-case`, `wildcard` (`*`, `\*` for a literal star), `anything-but` (a value, a
//!   list, or `prefix`/`suffix`/`equals-ignore-case`/`wildcard`), `numeric` (one or two
//!   comparisons, both must hold), `exists` (on leaf values only), and `cidr` (IPv4).
//!
//! A pattern EventBridge would reject (not an object, an empty object or list, a bare value where
//! a list is needed, an unknown filter) is an error, never a match.

use serde_json::{Map, Value};

/// Why a pattern could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the event pattern is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the event pattern must be a non-empty JSON object")]
    NotAnObject,
    #[error("{at}: {what}")]
    Invalid { at: String, what: String },
    #[error("{at}: `{filter}` is not a content filter this version evaluates")]
    Unsupported { at: String, filter: String },
}

/// Whether the pattern (JSON text) matches `event`.
pub fn matches(pattern: &str, event: &Value) -> Result<bool, PatternError> {
    let pattern: Value =
        serde_json::from_str(pattern).map_err(|e| PatternError::InvalidJson(e.to_string()))?;
    matches_value(&pattern, event)
}

/// As [`matches`], for a pattern already parsed.
pub fn matches_value(pattern: &Value, event: &Value) -> Result<bool, PatternError> {
    match pattern {
        Value::Object(map) if !map.is_empty() => object(map, &mut Vec::new(), event),
        _ => Err(PatternError::NotAnObject),
    }
}

fn at(path: &[String]) -> String {
    if path.is_empty() {
        "the pattern".to_owned()
    } else {
        format!("`{}`", path.join("."))
    }
}

fn invalid(path: &[String], what: impl Into<String>) -> PatternError {
    PatternError::Invalid {
        at: at(path),
        what: what.into(),
    }
}

/// Every field of `pattern` (at `path` of the event) must match. Every field is evaluated, so an
/// invalid part of a pattern is an error even where an earlier field already failed.
fn object(
    pattern: &Map<String, Value>,
    path: &mut Vec<String>,
    event: &Value,
) -> Result<bool, PatternError> {
    let mut all = true;
    for (field, value) in pattern {
        let ok = if field == "$or" {
            let Value::Array(alternatives) = value else {
                return Err(invalid(path, "`$or` must be a list of patterns"));
            };
            if alternatives.len() < 2 {
                return Err(invalid(path, "`$or` needs at least two patterns"));
            }
            let mut any = false;
            for alternative in alternatives {
                match alternative {
                    Value::Object(m) if !m.is_empty() => any |= object(m, path, event)?,
                    _ => return Err(invalid(path, "each `$or` alternative must be an object")),
                }
            }
            any
        } else {
            path.push(field.clone());
            let ok = match value {
                Value::Object(m) if !m.is_empty() => object(m, path, event)?,
                Value::Array(accepted) if !accepted.is_empty() => {
                    leaf(accepted, path, &values_at(event, path))?
                }
                Value::Object(_) | Value::Array(_) => {
                    return Err(invalid(path, "empty objects and lists are not allowed"))
                }
                _ => return Err(invalid(path, "a match value must be inside a list")),
            };
            path.pop();
            ok
        };
        all &= ok;
    }
    Ok(all)
}

/// The values at `path`, through arrays at any level, leaf arrays flattened.
fn values_at<'a>(event: &'a Value, path: &[String]) -> Vec<&'a Value> {
    fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
            other => out.push(other),
        }
    }
    let mut current = vec![event];
    for segment in path {
        let mut next = Vec::new();
        for v in current {
            if let Some(child) = v.as_object().and_then(|o| o.get(segment)) {
                flatten(child, &mut next);
            }
        }
        current = next;
    }
    current
}

/// Whether any accepted value matches any of the event's `values` at this leaf.
fn leaf(accepted: &[Value], path: &[String], values: &[&Value]) -> Result<bool, PatternError> {
    let leaves: Vec<&Value> = values.iter().copied().filter(|v| !v.is_object()).collect();
    let mut any = false;
    for a in accepted {
        let ok = match a {
            Value::Object(filter) => {
                let (name, arg) = single(filter, path)?;
                if name == "exists" {
                    match arg {
                        Value::Bool(true) => !leaves.is_empty(),
                        Value::Bool(false) => values.is_empty(),
                        _ => return Err(invalid(path, "`exists` takes true or false")),
                    }
                } else {
                    let f = Filter::parse(name, arg, path)?;
                    leaves.iter().any(|v| f.accepts(v))
                }
            }
            Value::Array(_) => return Err(invalid(path, "a list inside a match list")),
            literal => leaves.iter().any(|v| equal(literal, v)),
        };
        any |= ok;
    }
    Ok(any)
}

fn single<'a>(
    filter: &'a Map<String, Value>,
    path: &[String],
) -> Result<(&'a str, &'a Value), PatternError> {
    let mut it = filter.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => Err(invalid(path, "a content filter must have exactly one key")),
    }
}

fn equal(literal: &Value, value: &Value) -> bool {
    match (literal, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// A content filter other than `exists`.
enum Filter {
    Prefix(String, bool),
    Suffix(String, bool),
    IgnoreCase(Vec<String>),
    Wildcard(Vec<String>),
    Numeric(Vec<(Cmp, f64)>),
    Cidr(u32, u32),
    AnythingBut(Box<AnythingBut>),
}

enum AnythingBut {
    Values(Vec<Value>),
    Like(Filter),
}

#[derive(Clone, Copy)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

fn string(arg: &Value, path: &[String], name: &str) -> Result<String, PatternError> {
    arg.as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(path, format!("`{name}` takes a string")))
}

fn strings(arg: &Value, path: &[String], name: &str) -> Result<Vec<String>, PatternError> {
    match arg {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| string(i, path, name))
            .collect::<Result<_, _>>(),
        _ => Err(invalid(
            path,
            format!("`{name}` takes a string or a list of strings"),
        )),
    }
}

/// `prefix` / `suffix`: a string, or `{"equals-ignore-case": string}`.
fn affix(arg: &Value, path: &[String], name: &str) -> Result<(String, bool), PatternError> {
    match arg {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(m) => match single(m, path)? {
            ("equals-ignore-case", Value::String(s)) => Ok((s.clone(), true)),
            _ => Err(invalid(
                path,
                format!("`{name}` takes a string or {{\"equals-ignore-case\": string}}"),
            )),
        },
        _ => Err(invalid(path, format!("`{name}` takes a string"))),
    }
}

impl Filter {
    fn parse(name: &str, arg: &Value, path: &[String]) -> Result<Filter, PatternError> {
        Ok(match name {
            "prefix" => {
                let (p, ic) = affix(arg, path, name)?;
                Filter::Prefix(p, ic)
            }
            "suffix" => {
                let (s, ic) = affix(arg, path, name)?;
                Filter::Suffix(s, ic)
            }
            "equals-ignore-case" => Filter::IgnoreCase(strings(arg, path, name)?),
            "wildcard" => Filter::Wildcard(strings(arg, path, name)?),
            "numeric" => Filter::Numeric(numeric(arg, path)?),
            "cidr" => {
                let (net, mask) = cidr(&string(arg, path, name)?).ok_or_else(|| {
                    invalid(path, "`cidr` takes an IPv4 block such as 10.0.0.0/24")
                })?;
                Filter::Cidr(net, mask)
            }
            "anything-but" => Filter::AnythingBut(Box::new(match arg {
                Value::Object(m) => {
                    let (inner, inner_arg) = single(m, path)?;
                    match inner {
                        "prefix" | "suffix" | "equals-ignore-case" | "wildcard" => {
                            AnythingBut::Like(Filter::parse(inner, inner_arg, path)?)
                        }
                        other => {
                            return Err(PatternError::Unsupported {
                                at: at(path),
                                filter: format!("anything-but {other}"),
                            })
                        }
                    }
                }
                Value::Array(items) if !items.is_empty() => {
                    if items.iter().any(|i| !(i.is_string() || i.is_number())) {
                        return Err(invalid(path, "`anything-but` lists strings or numbers"));
                    }
                    AnythingBut::Values(items.clone())
                }
                Value::String(_) | Value::Number(_) => AnythingBut::Values(vec![arg.clone()]),
                _ => {
                    return Err(invalid(
                        path,
                        "`anything-but` takes a value, a list or a filter",
                    ))
                }
            })),
            other => {
                return Err(PatternError::Unsupported {
                    at: at(path),
                    filter: other.to_owned(),
                })
            }
        })
    }

    fn accepts(&self, v: &Value) -> bool {
        match self {
            Filter::Prefix(p, ic) => v.as_str().is_some_and(|s| affixed(s, p, *ic, true)),
            Filter::Suffix(p, ic) => v.as_str().is_some_and(|s| affixed(s, p, *ic, false)),
            Filter::IgnoreCase(options) => v
                .as_str()
                .is_some_and(|s| options.iter().any(|o| o.to_lowercase() == s.to_lowercase())),
            Filter::Wildcard(patterns) => v
                .as_str()
                .is_some_and(|s| patterns.iter().any(|p| wildcard(p, s))),
            Filter::Numeric(cmps) => v.as_f64().is_some_and(|n| {
                cmps.iter().all(|(c, x)| match c {
                    Cmp::Lt => n < *x,
                    Cmp::Le => n <= *x,
                    Cmp::Eq => n == *x,
                    Cmp::Ge => n >= *x,
                    Cmp::Gt => n > *x,
                })
            }),
            Filter::Cidr(net, mask) => v
                .as_str()
                .and_then(ipv4)
                .is_some_and(|ip| ip & mask == *net),
            Filter::AnythingBut(but) => match but.as_ref() {
                AnythingBut::Values(excluded) => !excluded.iter().any(|e| equal(e, v)),
                AnythingBut::Like(f) => v.is_string() && !f.accepts(v),
            },
        }
    }
}

fn affixed(s: &str, affix: &str, ignore_case: bool, prefix: bool) -> bool {
    let (s, affix) = if ignore_case {
        (s.to_lowercase(), affix.to_lowercase())
    } else {
        (s.to_owned(), affix.to_owned())
    };
    if prefix {
        s.starts_with(&affix)
    } else {
        s.ends_with(&affix)
    }
}

/// `numeric`: `[op, n]` or `[op, n, op, n]`.
fn numeric(arg: &Value, path: &[String]) -> Result<Vec<(Cmp, f64)>, PatternError> {
    let bad = || {
        invalid(
            path,
            "`numeric` takes [op, number] or [op, number, op, number]",
        )
    };
    let Value::Array(items) = arg else {
        return Err(bad());
    };
    if items.len() != 2 && items.len() != 4 {
        return Err(bad());
    }
    items
        .chunks(2)
        .map(|pair| {
            let cmp = match pair[0].as_str() {
                Some("<") => Cmp::Lt,
                Some("<=") => Cmp::Le,
                Some("=") => Cmp::Eq,
                Some(">=") => Cmp::Ge,
                Some(">") => Cmp::Gt,
                _ => return Err(bad()),
            };
            let n = pair[1].as_f64().ok_or_else(bad)?;
            Ok((cmp, n))
        })
        .collect()
}

fn ipv4(s: &str) -> Option<u32> {
    let addr: std::net::Ipv4Addr = s.parse().ok()?;
    Some(u32::from(addr))
}

/// `a.b.c.d/len` as (network, mask).
fn cidr(s: &str) -> Option<(u32, u32)> {
    let (addr, len) = s.split_once('/')?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((ipv4(addr)? & mask, mask))
}

/// `*` matches any run of characters; `\*` a literal star; anything else itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    enum Tok {
        Star,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                toks.push(Tok::Char('*'));
            }
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // reach[j]: the first i tokens can match the first j characters.
    let mut reach = vec![false; text.len() + 1];
    reach[0] = true;
    for tok in &toks {
        let mut next = vec![false; text.len() + 1];
        match tok {
            Tok::Star => {
                let mut on = false;
                for j in 0..=text.len() {
                    on |= reach[j];
                    next[j] = on;
                }
            }
            Tok::Char(c) => {
                for j in 0..text.len() {
                    next[j + 1] = reach[j] && text[j] == *c;
                }
            }
        }
        reach = next;
    }
    reach[text.len()]
}

/// The CloudTrail events EventBridge delivers for `xray:PutEncryptionConfig` in `account` and
/// `region`: to default encryption, to the AWS managed key and to a customer managed key. A
/// drift alert must match each of them.
pub fn put_encryption_config_events(account: &str, region: &str) -> Vec<Value> {
    let request = |params: Value| {
        serde_json::json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.xray",
            "account": account,
            "time": "2026-11-28T12:00:00Z",
            "region": region,
            "resources": [],
            "detail": {
                "eventVersion": "1.08",
                "userIdentity": {
                    "type": "AssumedRole",
                    "arn": format!("arn:aws:sts::{account}:assumed-role/Developer/session"),
                    "accountId": account
                },
                "eventTime": "2026-11-28T12:00:00Z",
                "eventSource": "xray.amazonaws.com",
                "eventName": "PutEncryptionConfig",
                "awsRegion": region,
                "sourceIPAddress": "203.0.113.7",
                "userAgent": "aws-cli/2.22.0",
                "requestParameters": params,
                "responseElements": null,
                "readOnly": false,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": account,
                "eventCategory": "Management"
            }
        })
    };
    vec![
        request(serde_json::json!({ "type": "NONE" })),
        request(serde_json::json!({ "type": "KMS", "keyId": "alias/aws/xray" })),
        request(serde_json::json!({
            "type": "KMS",
            "keyId": format!("arn:aws:kms:{region}:{account}:key/0b0c7a42-3f8e-4d44-9a52-6f3c2e1d9b10")
        })),
    ]
}

#[cfg(test)]
mod tests;
