//! `data "aws_iam_policy_document"` rendered to the JSON the AWS provider produces: the statements
//! of `source_policy_documents`, then the data source's own `statement` blocks, then those of
//! `override_policy_documents`, each replacing an earlier statement with the same non-empty `Sid`
//! and otherwise appended.
//!
//! Any part that is not known (a statement, principal or condition from an unknown `dynamic`
//! block, an unknown test, variable or value…) makes the whole document unknown: leaving it out
//! would render a wider policy than the code declares.

use hcl::Value;
use serde_json::{Map as JsonMap, Value as Json};

use crate::value::{self, deep_unknown_reason, unknown, unknown_reason};

pub(crate) fn policy_document(doc: &Value) -> Value {
    match render(doc) {
        Ok(json) => Value::String(json),
        Err(why) => unknown(format!("aws_iam_policy_document: {why}")),
    }
}

fn render(doc: &Value) -> Result<String, String> {
    let mut statements: Vec<Json> = Vec::new();
    for st in documents(doc, "source_policy_documents")? {
        merge(&mut statements, st);
    }
    for st in blocks(doc, "statement")? {
        merge(&mut statements, statement(st)?);
    }
    for st in documents(doc, "override_policy_documents")? {
        merge(&mut statements, st);
    }
    let mut policy = JsonMap::new();
    policy.insert(
        "Version".into(),
        Json::String(string(doc, "version")?.unwrap_or_else(|| "2012-10-17".into())),
    );
    if let Some(id) = string(doc, "policy_id")? {
        policy.insert("Id".into(), Json::String(id));
    }
    policy.insert("Statement".into(), Json::Array(statements));
    Ok(Json::Object(policy).to_string())
}

/// Adds `st`, replacing the statement with the same non-empty `Sid`.
fn merge(statements: &mut Vec<Json>, st: Json) {
    let sid = |s: &Json| {
        s.get("Sid")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(id) = sid(&st) {
        if let Some(slot) = statements
            .iter_mut()
            .find(|s| sid(s).as_deref() == Some(&id))
        {
            *slot = st;
            return;
        }
    }
    statements.push(st);
}

/// An attribute, `None` when absent or null, `Err` when not known.
fn known<'a>(v: &'a Value, name: &str) -> Result<Option<&'a Value>, String> {
    match value::get(v, name) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match deep_unknown_reason(x) {
            Some(why) => Err(format!("{name}: {why}")),
            None => Ok(Some(x)),
        },
    }
}

fn string(v: &Value, name: &str) -> Result<Option<String>, String> {
    match known(v, name)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Ok(Some(value::to_json(other).to_string())),
    }
}

/// The statements of a list of JSON policy documents.
fn documents(doc: &Value, name: &str) -> Result<Vec<Json>, String> {
    let Some(list) = known(doc, name)? else {
        return Ok(Vec::new());
    };
    let Value::Array(docs) = list else {
        return Err(format!("{name} is not a list"));
    };
    let mut out = Vec::new();
    for d in docs {
        let Some(text) = value::as_str(d) else {
            return Err(format!("{name} holds a document that is not a string"));
        };
        match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(p)) => match p.get("Statement") {
                Some(Json::Array(s)) => out.extend(s.iter().cloned()),
                Some(one) => out.push(one.clone()),
                None => {}
            },
            _ => return Err(format!("{name} holds a document that is not a JSON object")),
        }
    }
    Ok(out)
}

/// Nested blocks, all known.
fn blocks<'a>(v: &'a Value, kind: &str) -> Result<Vec<&'a Value>, String> {
    match value::get(v, kind) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|b| match b {
                Value::Object(_) => Ok(b),
                other => Err(unknown_reason(other)
                    .unwrap_or_else(|| format!("a {kind} block is not a block"))),
            })
            .collect(),
        Some(obj @ Value::Object(_)) => Ok(vec![obj]),
        Some(other) => Err(unknown_reason(other).map_or_else(
            || format!("{kind} is not a block"),
            |why| format!("{kind}: {why}"),
        )),
    }
}

/// A list as the provider writes it: one element as a plain value.
fn scalar_or_list(items: Vec<Json>) -> Json {
    match <[Json; 1]>::try_from(items) {
        Ok([one]) => one,
        Err(items) => Json::Array(items),
    }
}

fn strings(v: &Value) -> Vec<Json> {
    match v {
        Value::Array(items) => items.iter().map(value::to_json).collect(),
        other => vec![value::to_json(other)],
    }
}

fn statement(st: &Value) -> Result<Json, String> {
    let mut s = JsonMap::new();
    if let Some(sid) = string(st, "sid")?.filter(|s| !s.is_empty()) {
        s.insert("Sid".into(), Json::String(sid));
    }
    s.insert(
        "Effect".into(),
        Json::String(string(st, "effect")?.unwrap_or_else(|| "Allow".into())),
    );
    for (hcl_name, json_name) in [
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ] {
        if let Some(v) = known(st, hcl_name)? {
            s.insert(json_name.into(), scalar_or_list(strings(v)));
        }
    }
    for (block, json_name) in [
        ("principals", "Principal"),
        ("not_principals", "NotPrincipal"),
    ] {
        let mut by_type: Vec<(String, Vec<Json>)> = Vec::new();
        for p in blocks(st, block)? {
            let kind = string(p, "type")?.ok_or_else(|| format!("{block} without a type"))?;
            let ids = known(p, "identifiers")?
                .map(strings)
                .ok_or_else(|| format!("{block} without identifiers"))?;
            match by_type.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, all)) => all.extend(ids),
                None => by_type.push((kind, ids)),
            }
        }
        if by_type.is_empty() {
            continue;
        }
        // `type = "*"` is the provider's `"Principal": "*"`.
        let principal = match by_type.as_slice() {
            [(kind, _)] if kind == "*" => Json::from("*"),
            _ => Json::Object(
                by_type
                    .into_iter()
                    .map(|(k, ids)| (k, scalar_or_list(ids)))
                    .collect(),
            ),
        };
        s.insert(json_name.into(), principal);
    }
    let mut conditions = JsonMap::new();
    for c in blocks(st, "condition")? {
        let test = string(c, "test")?.ok_or("condition without a test")?;
        let variable = string(c, "variable")?.ok_or("condition without a variable")?;
        let values = known(c, "values")?
            .map(strings)
            .ok_or("condition without values")?;
        let by_var = conditions
            .entry(test)
            .or_insert_with(|| Json::Object(JsonMap::new()));
        if let Json::Object(m) = by_var {
            match m.get_mut(&variable) {
                Some(Json::Array(all)) => all.extend(values),
                _ => {
                    m.insert(variable, Json::Array(values));
                }
            }
        }
    }
    if !conditions.is_empty() {
        s.insert("Condition".into(), Json::Object(conditions));
    }
    Ok(Json::Object(s))
}
