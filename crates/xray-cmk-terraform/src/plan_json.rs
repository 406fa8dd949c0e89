//! Terraform plan JSON (`terraform show -json plan.out`) to the same module facts the `.tf`
//! evaluator produces.
//!
//! Values come from `planned_values` (Terraform already resolved variables, locals, `count` and
//! `for_each`). An attribute only known after apply (a new key's ARN) is missing there; the
//! `configuration` section's `references` say what it refers to, which becomes a reference marker
//! as in `.tf` evaluation. Each resource is located at its `"address"` line in the file.

use std::path::Path;

use hcl::{Map, Value};
use serde_json::Value as Json;

use crate::build::{Instance, ModuleFacts};
use crate::files::{display, LineIndex};
use crate::value::{self, reference};
use crate::IacError;

/// A JSON value's kind, for messages.
fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Where a plan departs from what `terraform show -json` writes: the JSON path, and how.
#[derive(Debug)]
struct Shape {
    path: String,
    problem: String,
    /// The resource's address, when the problem is inside one: where in the file to point.
    address: Option<String>,
}

fn shape(path: &str, problem: impl Into<String>) -> Shape {
    Shape {
        path: path.to_owned(),
        problem: problem.into(),
        address: None,
    }
}

/// `v[key]` as an array, absent being empty (Terraform leaves an empty list out).
fn array<'a>(v: &'a Json, key: &str, at: &str) -> Result<&'a [Json], Shape> {
    match v.get(key) {
        None => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err(shape(
            &format!("{at}.{key}"),
            format!("is {}, not an array", kind(other)),
        )),
    }
}

/// The resources of a module of `planned_values` and of its child modules, each with its JSON
/// path, checked against the format: an object with a string `address`, `type` and `mode`
/// (`managed` or `data`) and an object of `values`.
fn resources<'a>(module: &'a Json, at: &str, out: &mut Vec<&'a Json>) -> Result<(), Shape> {
    if !module.is_object() {
        return Err(shape(at, format!("is {}, not an object", kind(module))));
    }
    for (i, r) in array(module, "resources", at)?.iter().enumerate() {
        let here = format!("{at}.resources[{i}]");
        if !r.is_object() {
            return Err(shape(&here, format!("is {}, not an object", kind(r))));
        }
        let address = r.get("address").and_then(Json::as_str).map(str::to_owned);
        let fail = |field: &str, problem: String| Shape {
            path: format!("{here}.{field}"),
            problem,
            address: address.clone(),
        };
        for field in ["address", "type", "mode"] {
            match r.get(field) {
                Some(Json::String(_)) => {}
                None => return Err(fail(field, "is missing".to_owned())),
                Some(other) => {
                    return Err(fail(field, format!("is {}, not a string", kind(other))))
                }
            }
        }
        match r.get("mode").and_then(Json::as_str) {
            Some("managed" | "data") => {}
            other => {
                return Err(fail(
                    "mode",
                    format!(
                        "is `{}`, not `managed` or `data`",
                        other.unwrap_or_default()
                    ),
                ))
            }
        }
        // Terraform leaves `values` out only for a null object, which planned_values does not
        // hold (an instance to destroy is absent).
        match r.get("values") {
            Some(Json::Object(_)) => {}
            None => return Err(fail("values", "is missing".to_owned())),
            Some(other) => {
                return Err(fail("values", format!("is {}, not an object", kind(other))))
            }
        }
        out.push(r);
    }
    for (i, c) in array(module, "child_modules", at)?.iter().enumerate() {
        resources(c, &format!("{at}.child_modules[{i}]"), out)?;
    }
    Ok(())
}

/// The top of the document: an object with a `format_version` of major version 1 (Terraform:
/// "reject any input which reports an unsupported major version") and
/// `planned_values.root_module`.
fn root(doc: &Json) -> Result<&Json, Shape> {
    if !doc.is_object() {
        return Err(shape(
            "(the document)",
            format!("is {}, not an object", kind(doc)),
        ));
    }
    match doc.get("format_version") {
        Some(Json::String(v)) if v.split('.').next() == Some("1") => {}
        Some(Json::String(v)) => {
            return Err(shape(
                "format_version",
                format!("is `{v}`; this version of xray-cmk reads format 1.x"),
            ))
        }
        Some(other) => {
            return Err(shape(
                "format_version",
                format!("is {}, not a string", kind(other)),
            ))
        }
        None => return Err(shape("format_version", "is missing")),
    }
    let planned = doc.get("planned_values").ok_or_else(|| {
        shape(
            "planned_values",
            "is missing (a state file or another document?)",
        )
    })?;
    if !planned.is_object() {
        return Err(shape(
            "planned_values",
            format!("is {}, not an object", kind(planned)),
        ));
    }
    planned
        .get("root_module")
        .ok_or_else(|| shape("planned_values.root_module", "is missing"))
}

/// The `configuration` section's modules, as far as [`references`] reads them: `resources` an
/// array of objects with an object of `expressions`, `module_calls` an object of calls whose
/// `module` is another such module. A wrong shape would hide what is only known after apply.
fn configuration(module: &Json, at: &str) -> Result<(), Shape> {
    if !module.is_object() {
        return Err(shape(at, format!("is {}, not an object", kind(module))));
    }
    for (i, r) in array(module, "resources", at)?.iter().enumerate() {
        let here = format!("{at}.resources[{i}]");
        match r.get("expressions") {
            _ if !r.is_object() => {
                return Err(shape(&here, format!("is {}, not an object", kind(r))))
            }
            None | Some(Json::Object(_)) => {}
            Some(other) => {
                return Err(shape(
                    &format!("{here}.expressions"),
                    format!("is {}, not an object", kind(other)),
                ))
            }
        }
    }
    match module.get("module_calls") {
        None => Ok(()),
        Some(Json::Object(calls)) => {
            for (name, call) in calls {
                if let Some(m) = call.get("module") {
                    configuration(m, &format!("{at}.module_calls.{name}.module"))?;
                }
            }
            Ok(())
        }
        Some(other) => Err(shape(
            &format!("{at}.module_calls"),
            format!("is {}, not an object", kind(other)),
        )),
    }
}

/// `address (without index) -> attribute -> references`, from the configuration section.
fn references(module: &Json, prefix: &str, out: &mut Map<String, Map<String, Vec<String>>>) {
    if let Some(Json::Array(rs)) = module.get("resources") {
        for r in rs {
            let Some(addr) = r.get("address").and_then(Json::as_str) else {
                continue;
            };
            let mut attrs = Map::new();
            if let Some(Json::Object(exprs)) = r.get("expressions") {
                for (name, e) in exprs {
                    if let Some(Json::Array(refs)) = e.get("references") {
                        let refs = refs
                            .iter()
                            .filter_map(Json::as_str)
                            .map(|r| format!("{prefix}{r}"))
                            .collect();
                        attrs.insert(name.clone(), refs);
                    }
                }
            }
            out.insert(format!("{prefix}{addr}"), attrs);
        }
    }
    if let Some(Json::Object(calls)) = module.get("module_calls") {
        for (name, call) in calls {
            if let Some(m) = call.get("module") {
                references(m, &format!("{prefix}module.{name}."), out);
            }
        }
    }
}

/// Where each `"address": "…"` first is in the file, by address (decoded, so `k[\"a\"]` is
/// `k["a"]`): one pass, as a plan may hold many thousands of resources. `planned_values` comes
/// before the sections that repeat the addresses.
fn address_offsets(text: &str) -> std::collections::HashMap<String, usize> {
    let mut out = std::collections::HashMap::new();
    let bytes = text.as_bytes();
    for (at, key) in text.match_indices("\"address\"") {
        let mut i = at + key.len();
        let skip_ws = |i: &mut usize| {
            while bytes.get(*i).is_some_and(u8::is_ascii_whitespace) {
                *i += 1;
            }
        };
        skip_ws(&mut i);
        if bytes.get(i) != Some(&b':') {
            continue;
        }
        i += 1;
        skip_ws(&mut i);
        if bytes.get(i) != Some(&b'"') {
            continue;
        }
        let start = i;
        i += 1;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        if let Some(Ok(address)) = text.get(start..=i).map(serde_json::from_str::<String>) {
            out.entry(address).or_insert(at);
        }
    }
    out
}

fn without_index(address: &str) -> &str {
    address.find('[').map_or(address, |i| &address[..i])
}

pub(crate) fn read(path: &Path) -> Result<ModuleFacts, IacError> {
    let name = display(path);
    let text = crate::files::read_text(path, crate::files::PLAN_CAP)?;
    let index = LineIndex::new(name.clone(), &text);
    let doc: Json = serde_json::from_str(&text).map_err(|e| IacError {
        location: index.at(
            u32::try_from(e.line()).unwrap_or(u32::MAX),
            u32::try_from(e.column()).unwrap_or(u32::MAX),
        ),
        message: format!("not valid JSON: {e}"),
    })?;
    let offsets = address_offsets(&text);
    let mut found = Vec::new();
    let checked = root(&doc)
        .and_then(|r| resources(r, "planned_values.root_module", &mut found))
        .and_then(|()| match doc.get("configuration") {
            None => Ok(()),
            Some(c) => match c.get("root_module") {
                Some(m) => configuration(m, "configuration.root_module"),
                None if c.is_object() => Ok(()),
                None => Err(shape(
                    "configuration",
                    format!("is {}, not an object", kind(c)),
                )),
            },
        });
    if let Err(e) = checked {
        let location = e
            .address
            .as_deref()
            .and_then(|a| offsets.get(a).copied())
            .map_or_else(|| index.at(1, 1), |at| index.header(at));
        return Err(IacError {
            location,
            message: format!(
                "not a Terraform plan as `terraform show -json` writes it: {} {}",
                e.path, e.problem
            ),
        });
    }
    let mut refs = Map::new();
    if let Some(c) = doc.get("configuration").and_then(|c| c.get("root_module")) {
        references(c, "", &mut refs);
    }
    let declared: std::collections::HashSet<&str> = found
        .iter()
        .filter_map(|f| f.get("address").and_then(Json::as_str))
        .map(without_index)
        .collect();
    let mut instances = Vec::new();
    for r in &found {
        let (Some(address), Some(rtype)) = (
            r.get("address").and_then(Json::as_str),
            r.get("type").and_then(Json::as_str),
        ) else {
            continue;
        };
        let kind = if r.get("mode").and_then(Json::as_str) == Some("data") {
            "data"
        } else {
            "resource"
        };
        let mut values = match r.get("values").map(value::from_json) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        // `tags_all` is `tags` merged with the provider's default_tags.
        if let Some(all) = values.get("tags_all").cloned() {
            values.insert("tags".into(), all);
        }
        if let Some(attrs) = refs.get(without_index(address)) {
            for (attr, targets) in attrs {
                if values.get(attr).is_some_and(|v| !matches!(v, Value::Null)) {
                    continue;
                }
                // The resource a reference such as `aws_kms_key.x.arn` belongs to.
                let target = targets.iter().find(|t| declared.contains(t.as_str()));
                let v = match target {
                    Some(t) => reference(t),
                    None => value::unknown(format!("{attr} is only known after apply")),
                };
                values.insert(attr.clone(), v);
            }
        }
        let offset = offsets.get(address).copied().unwrap_or(0);
        instances.push(Instance {
            kind: kind.to_owned(),
            rtype: rtype.to_owned(),
            address: address.to_owned(),
            value: Value::Object(values),
            location: index.header(offset),
            maybe: None,
            attributes: Vec::new(),
        });
    }
    // References name resources without an index; point them at the first instance.
    let addresses: std::collections::HashSet<String> =
        instances.iter().map(|i| i.address.clone()).collect();
    let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for i in &instances {
        first
            .entry(without_index(&i.address).to_owned())
            .or_insert_with(|| i.address.clone());
    }
    for i in &mut instances {
        if let Value::Object(m) = &mut i.value {
            for v in m.values_mut() {
                if let Value::String(s) = v {
                    if let Some(target) = s.strip_prefix(value::REF) {
                        if !addresses.contains(target) {
                            if let Some(first) = first.get(target) {
                                *v = reference(first);
                            }
                        }
                    }
                }
            }
        }
    }
    let region = doc
        .pointer("/configuration/provider_config/aws/expressions/region/constant_value")
        .and_then(Json::as_str)
        .map(str::to_owned);
    Ok(ModuleFacts {
        path: name,
        location: index.at(1, 1),
        instances,
        region,
        account: None,
        default_tags: None,
        calls: Vec::new(),
        unread: Vec::new(),
    })
}
