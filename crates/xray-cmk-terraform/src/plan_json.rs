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

fn resources<'a>(module: &'a Json, out: &mut Vec<&'a Json>) {
    if let Some(Json::Array(rs)) = module.get("resources") {
        out.extend(rs.iter());
    }
    if let Some(Json::Array(children)) = module.get("child_modules") {
        for c in children {
            resources(c, out);
        }
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

fn without_index(address: &str) -> &str {
    address.find('[').map_or(address, |i| &address[..i])
}

pub(crate) fn read(path: &Path) -> Result<ModuleFacts, IacError> {
    let name = display(path);
    let text = std::fs::read_to_string(path).map_err(|e| IacError {
        location: crate::files::whole_file(path),
        message: format!("cannot read: {e}"),
    })?;
    let index = LineIndex::new(name.clone(), &text);
    let doc: Json = serde_json::from_str(&text).map_err(|e| IacError {
        location: index.at(
            u32::try_from(e.line()).unwrap_or(u32::MAX),
            u32::try_from(e.column()).unwrap_or(u32::MAX),
        ),
        message: format!("not valid JSON: {e}"),
    })?;
    let root = doc
        .get("planned_values")
        .and_then(|p| p.get("root_module"))
        .ok_or_else(|| IacError {
            location: index.at(1, 1),
            message: "not a Terraform plan: no planned_values.root_module (make it with `terraform show -json plan.out`)".to_owned(),
        })?;
    let mut found = Vec::new();
    resources(root, &mut found);
    let mut refs = Map::new();
    if let Some(c) = doc.get("configuration").and_then(|c| c.get("root_module")) {
        references(c, "", &mut refs);
    }
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
                let target = targets.iter().find(|t| {
                    found.iter().any(|f| {
                        f.get("address")
                            .and_then(Json::as_str)
                            .is_some_and(|a| without_index(a) == t.as_str())
                    })
                });
                let v = match target {
                    Some(t) => reference(t),
                    None => value::unknown(format!("{attr} is only known after apply")),
                };
                values.insert(attr.clone(), v);
            }
        }
        let needle = format!("\"address\": \"{address}\"");
        let compact = format!("\"address\":\"{address}\"");
        let offset = text
            .find(&needle)
            .or_else(|| text.find(&compact))
            .unwrap_or(0);
        instances.push(Instance {
            kind: kind.to_owned(),
            rtype: rtype.to_owned(),
            address: address.to_owned(),
            value: Value::Object(values),
            location: index.header(offset),
        });
    }
    // References name resources without an index; point them at the first instance.
    let addresses: Vec<String> = instances.iter().map(|i| i.address.clone()).collect();
    for i in &mut instances {
        if let Value::Object(m) = &mut i.value {
            for v in m.values_mut() {
                if let Value::String(s) = v {
                    if let Some(target) = s.strip_prefix(value::REF) {
                        if !addresses.iter().any(|a| a == target) {
                            if let Some(first) =
                                addresses.iter().find(|a| without_index(a) == target)
                            {
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
    })
}
