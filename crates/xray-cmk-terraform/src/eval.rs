//! Evaluating a module: variables (defaults and `*.tfvars`), locals, resources and data sources
//! with `count` and `for_each`, in a few passes so references between them resolve.
//!
//! Computed attributes (`arn`, `id`, `key_id`…) evaluate to reference markers, and whatever cannot
//! be evaluated to unknown markers (see [`crate::value`]). `data "aws_iam_policy_document"` is
//! rendered to its `json`, as the provider does.

use std::path::{Component, Path, PathBuf};

use hcl::edit::structure::Body;
use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Map, Value};

use crate::build::{Instance, ModuleFacts};
use crate::module::{Decl, Parsed};
use crate::value::{self, reference, unknown, Resolved};

/// Enough for chains such as alias -> key -> policy document -> key policy.
const PASSES: usize = 3;

/// Blocks whose content is not configuration of the resource.
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection"];

fn eval_expr(expr: &hcl::edit::expr::Expression, ctx: &Context) -> Value {
    let expr: hcl::Expression = expr.clone().into();
    match expr.evaluate(ctx) {
        Ok(v) => v,
        Err(e) => unknown(e.to_string().lines().next().unwrap_or("cannot evaluate")),
    }
}

/// A block body as an object: attributes by name, nested blocks as arrays of objects by type.
fn eval_body(body: &Body, ctx: &Context) -> Value {
    let mut out = Map::new();
    for attr in body.attributes() {
        out.insert(attr.key.as_str().to_owned(), eval_expr(&attr.value, ctx));
    }
    for block in body.blocks() {
        let kind = block.ident.as_str();
        if META_BLOCKS.contains(&kind) {
            continue;
        }
        let (name, content) = if kind == "dynamic" {
            // A dynamic block's instances depend on its for_each: unknown content.
            let name = block.labels.first().map_or("dynamic", |l| l.as_str());
            (
                name.to_owned(),
                unknown(format!("dynamic \"{name}\" block")),
            )
        } else {
            (kind.to_owned(), eval_body(&block.body, ctx))
        };
        if let Value::Array(items) = out.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
            items.push(content);
        }
    }
    Value::Object(out)
}

fn functions(ctx: &mut Context) {
    let any = |f: hcl::eval::Func| FuncDef::builder().variadic_param(ParamType::Any).build(f);
    ctx.declare_func("jsonencode", any(jsonencode));
    ctx.declare_func("jsondecode", any(jsondecode));
    ctx.declare_func("merge", any(merge));
    ctx.declare_func("concat", any(concat));
    ctx.declare_func("lookup", any(lookup));
    ctx.declare_func("tostring", any(identity));
    ctx.declare_func("tolist", any(identity));
    ctx.declare_func("toset", any(identity));
    ctx.declare_func("tomap", any(identity));
    ctx.declare_func("tonumber", any(identity));
    ctx.declare_func("tobool", any(identity));
    ctx.declare_func("lower", any(lower));
    ctx.declare_func("upper", any(upper));
    ctx.declare_func("format", any(format));
    ctx.declare_func("join", any(join));
    ctx.declare_func("coalesce", any(coalesce));
    ctx.declare_func("length", any(length));
    ctx.declare_func("distinct", any(identity));
    ctx.declare_func("flatten", any(flatten));
}

fn arg(args: &FuncArgs, i: usize) -> Result<&Value, String> {
    args.get(i)
        .ok_or_else(|| format!("missing argument {}", i + 1))
}

fn string_arg(args: &FuncArgs, i: usize) -> Result<String, String> {
    match arg(args, i)? {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, found {other}")),
    }
}

fn identity(args: FuncArgs) -> Result<Value, String> {
    arg(&args, 0).cloned()
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(value::jsonencode(arg(&args, 0)?)))
}

fn jsondecode(args: FuncArgs) -> Result<Value, String> {
    let text = string_arg(&args, 0)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| value::from_json(&v))
        .map_err(|e| format!("jsondecode: {e}"))
}

fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = Map::new();
    for a in args.iter() {
        match a {
            Value::Object(m) => out.extend(m.clone()),
            Value::Null => {}
            other => return Err(format!("merge: expected objects, found {other}")),
        }
    }
    Ok(Value::Object(out))
}

fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for a in args.iter() {
        match a {
            Value::Array(items) => out.extend(items.clone()),
            other => return Err(format!("concat: expected lists, found {other}")),
        }
    }
    Ok(Value::Array(out))
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    fn go(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| go(i, out)),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    go(arg(&args, 0)?, &mut out);
    Ok(Value::Array(out))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    let key = string_arg(&args, 1)?;
    match (arg(&args, 0)?, args.get(2)) {
        (Value::Object(m), default) => m
            .get(&key)
            .or(default)
            .cloned()
            .ok_or_else(|| format!("lookup: no key {key}")),
        (other, _) => Err(format!("lookup: expected an object, found {other}")),
    }
}

fn lower(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(string_arg(&args, 0)?.to_lowercase()))
}

fn upper(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(string_arg(&args, 0)?.to_uppercase()))
}

/// `format` with the verbs real modules use for names and ARNs: `%s`, `%d`, `%v`, `%%`.
fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = string_arg(&args, 0)?;
    let mut out = String::new();
    let mut next = 1;
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'd' | 'v') => {
                out.push_str(&string_arg(&args, next)?);
                next += 1;
            }
            other => {
                return Err(format!(
                    "format: unsupported verb %{}",
                    other.unwrap_or(' ')
                ))
            }
        }
    }
    Ok(Value::String(out))
}

fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = string_arg(&args, 0)?;
    match arg(&args, 1)? {
        Value::Array(items) => {
            let parts: Result<Vec<String>, String> = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(format!("join: expected strings, found {other}")),
                })
                .collect();
            Ok(Value::String(parts?.join(&sep)))
        }
        other => Err(format!("join: expected a list, found {other}")),
    }
}

fn coalesce(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .find(|v| !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty()))
        .cloned()
        .ok_or_else(|| "coalesce: every argument is null or empty".to_owned())
}

fn length(args: FuncArgs) -> Result<Value, String> {
    let n = match arg(&args, 0)? {
        Value::Array(items) => items.len(),
        Value::Object(m) => m.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("length: unsupported {other}")),
    };
    Ok(Value::from(n as u64))
}

/// The computed attributes a reference to a resource or data source may read.
fn computed(kind: &str, rtype: &str, address: &str, value: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let r = reference(address);
    for attr in ["id", "arn"] {
        out.insert(attr.to_owned(), r.clone());
    }
    match (kind, rtype) {
        ("resource", "aws_kms_key") => {
            out.insert("key_id".into(), r);
        }
        ("resource", "aws_kms_alias") => {
            // The alias's key is the key its target_key_id names.
            if let Some(target) = value::get(value, "target_key_id") {
                out.insert("target_key_arn".into(), target.clone());
            }
        }
        ("data", "aws_kms_alias") => {
            out.insert("target_key_id".into(), r.clone());
            out.insert("target_key_arn".into(), r);
        }
        ("data", "aws_kms_key") => {
            out.insert("key_id".into(), r);
        }
        ("data", "aws_iam_policy_document") => {
            let json = policy_document(value);
            out.insert("json".into(), json.clone());
            out.insert("minified_json".into(), json);
        }
        ("data", "aws_caller_identity") => {
            for attr in ["account_id", "arn", "user_id"] {
                out.insert(
                    attr.into(),
                    unknown("data.aws_caller_identity is only known at plan time"),
                );
            }
        }
        ("data", "aws_partition") => {
            out.insert(
                "partition".into(),
                unknown("data.aws_partition is only known at plan time"),
            );
        }
        _ => {}
    }
    out
}

/// `data "aws_iam_policy_document"` rendered to the JSON the provider would produce.
fn policy_document(doc: &Value) -> Value {
    let list = |v: Option<&Value>| -> Option<serde_json::Value> {
        v.map(|v| match v {
            Value::Array(items) if items.len() == 1 => value::to_json(&items[0]),
            other => value::to_json(other),
        })
    };
    let mut statements = Vec::new();
    for source in ["source_policy_documents", "override_policy_documents"] {
        if let Some(Value::Array(docs)) = value::get(doc, source) {
            for d in docs {
                let Some(text) = value::as_str(d) else {
                    return unknown(format!("{source} is only known after apply"));
                };
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(p)) => match p.get("Statement") {
                        Some(serde_json::Value::Array(s)) => statements.extend(s.clone()),
                        Some(one) => statements.push(one.clone()),
                        None => {}
                    },
                    _ => return unknown(format!("{source} holds a document that is not JSON")),
                }
            }
        }
    }
    for st in value::blocks(doc, "statement") {
        let mut s = serde_json::Map::new();
        if let Some(sid) = value::get(st, "sid") {
            s.insert("Sid".into(), value::to_json(sid));
        }
        s.insert(
            "Effect".into(),
            value::get(st, "effect").map_or_else(|| "Allow".into(), value::to_json),
        );
        for (hcl_name, json_name) in [
            ("actions", "Action"),
            ("not_actions", "NotAction"),
            ("resources", "Resource"),
            ("not_resources", "NotResource"),
        ] {
            if let Some(v) = list(value::get(st, hcl_name)) {
                s.insert(json_name.into(), v);
            }
        }
        for (block, json_name) in [
            ("principals", "Principal"),
            ("not_principals", "NotPrincipal"),
        ] {
            let mut by_type = serde_json::Map::new();
            for p in value::blocks(st, block) {
                let kind = value::get(p, "type")
                    .and_then(value::as_str)
                    .unwrap_or("AWS");
                let ids =
                    value::get(p, "identifiers").map_or(serde_json::Value::Null, value::to_json);
                let ids = match ids {
                    serde_json::Value::Array(a) if a.len() == 1 => a[0].clone(),
                    other => other,
                };
                by_type.insert(kind.to_owned(), ids);
            }
            if !by_type.is_empty() {
                s.insert(json_name.into(), serde_json::Value::Object(by_type));
            }
        }
        let mut conditions = serde_json::Map::new();
        for c in value::blocks(st, "condition") {
            let (Some(test), Some(variable)) = (
                value::get(c, "test").and_then(value::as_str),
                value::get(c, "variable").and_then(value::as_str),
            ) else {
                continue;
            };
            let values = value::get(c, "values").map_or(serde_json::Value::Null, value::to_json);
            let entry = conditions
                .entry(test.to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if let serde_json::Value::Object(m) = entry {
                m.insert(variable.to_owned(), values);
            }
        }
        if !conditions.is_empty() {
            s.insert("Condition".into(), serde_json::Value::Object(conditions));
        }
        statements.push(serde_json::Value::Object(s));
    }
    let policy = serde_json::json!({ "Version": "2012-10-17", "Statement": statements });
    Value::String(policy.to_string())
}

/// One declared resource or data source, expanded by `count` / `for_each`.
fn expand(d: &Decl, kind: &str, ctx: &Context, p: &Parsed) -> Vec<Instance> {
    let (Some(rtype), Some(name)) = (d.labels.first(), d.labels.get(1)) else {
        return Vec::new();
    };
    let base = if kind == "data" {
        format!("data.{rtype}.{name}")
    } else {
        format!("{rtype}.{name}")
    };
    let location = p.files[d.file].header(d.start);
    let make = |address: String, ctx: &Context| Instance {
        kind: kind.to_owned(),
        rtype: rtype.clone(),
        address,
        value: eval_body(&d.body, ctx),
        location: location.clone(),
    };
    if let Some(count) = d.body.get_attribute("count") {
        return match value::as_u32(&eval_expr(&count.value, ctx)) {
            Some(n) => (0..n)
                .map(|i| {
                    let mut c = ctx.clone();
                    c.declare_var("count", obj([("index", Value::from(u64::from(i)))]));
                    make(format!("{base}[{i}]"), &c)
                })
                .collect(),
            None => {
                let mut c = ctx.clone();
                c.declare_var("count", obj([("index", unknown("count is unknown"))]));
                vec![make(format!("{base}[*]"), &c)]
            }
        };
    }
    if let Some(each) = d.body.get_attribute("for_each") {
        let items: Option<Vec<(String, Value)>> = match eval_expr(&each.value, ctx) {
            Value::Object(m) => Some(m.into_iter().collect()),
            Value::Array(items) => items
                .into_iter()
                .map(|v| value::as_str(&v).map(|s| (s.to_owned(), v.clone())))
                .collect(),
            _ => None,
        };
        return match items {
            Some(items) => items
                .into_iter()
                .map(|(k, v)| {
                    let mut c = ctx.clone();
                    c.declare_var("each", obj([("key", Value::from(k.clone())), ("value", v)]));
                    make(format!("{base}[\"{k}\"]"), &c)
                })
                .collect(),
            None => {
                let mut c = ctx.clone();
                let u = unknown("for_each is unknown");
                c.declare_var("each", obj([("key", u.clone()), ("value", u)]));
                vec![make(format!("{base}[*]"), &c)]
            }
        };
    }
    vec![make(base, ctx)]
}

fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `type -> name -> value` for references, with computed attributes filled in; `count` makes a
/// list and `for_each` a map of instances.
fn objects(
    instances: &[Instance],
    decls: &[(&str, &Decl)],
) -> (Map<String, Value>, Map<String, Value>) {
    let mut resources: Map<String, Value> = Map::new();
    let mut data: Map<String, Value> = Map::new();
    for (kind, d) in decls {
        let (Some(rtype), Some(name)) = (d.labels.first(), d.labels.get(1)) else {
            continue;
        };
        let prefix = if *kind == "data" {
            format!("data.{rtype}.{name}")
        } else {
            format!("{rtype}.{name}")
        };
        let mine: Vec<&Instance> = instances
            .iter()
            .filter(|i| i.address == prefix || i.address.starts_with(&format!("{prefix}[")))
            .collect();
        let with_computed = |i: &Instance| {
            let mut v = match &i.value {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            v.extend(computed(kind, rtype, &i.address, &i.value));
            Value::Object(v)
        };
        let value = if d.body.get_attribute("count").is_some() {
            Value::Array(mine.iter().map(|i| with_computed(i)).collect())
        } else if d.body.get_attribute("for_each").is_some() {
            Value::Object(
                mine.iter()
                    .map(|i| {
                        let key = i
                            .address
                            .strip_prefix(&format!("{prefix}[\""))
                            .and_then(|k| k.strip_suffix("\"]"))
                            .unwrap_or("*")
                            .to_owned();
                        (key, with_computed(i))
                    })
                    .collect(),
            )
        } else {
            mine.first().map_or(Value::Null, |i| with_computed(i))
        };
        let table = if *kind == "data" {
            &mut data
        } else {
            &mut resources
        };
        if let Value::Object(by_name) = table
            .entry(rtype.clone())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            by_name.insert(name.clone(), value);
        }
    }
    (resources, data)
}

/// `dir/source`, with `.` and `..` resolved lexically.
fn join_source(dir: &Path, source: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dir.join(source).components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(crate) fn evaluate(p: &Parsed) -> ModuleFacts {
    let mut base = Context::new();
    functions(&mut base);
    base.declare_var(
        "path",
        obj([
            ("module", Value::from(p.dir.clone())),
            ("root", Value::from(".")),
            ("cwd", Value::from(".")),
        ]),
    );
    base.declare_var("terraform", obj([("workspace", Value::from("default"))]));

    let mut tfvars = Map::new();
    for body in &p.tfvars {
        for attr in body.attributes() {
            tfvars.insert(attr.key.as_str().to_owned(), eval_expr(&attr.value, &base));
        }
    }
    let mut vars = Map::new();
    for d in p.decls.iter().filter(|d| d.kind == "variable") {
        let Some(name) = d.labels.first() else {
            continue;
        };
        if let Some(v) = tfvars.get(name) {
            vars.insert(name.clone(), v.clone());
        } else if let Some(default) = d.body.get_attribute("default") {
            vars.insert(name.clone(), eval_expr(&default.value, &base));
        }
        // No value: `var.x` stays undefined, so whatever uses it is unknown.
    }
    let declared: Vec<(&str, &Decl)> = p
        .decls
        .iter()
        .filter(|d| (d.kind == "resource" || d.kind == "data") && d.labels.len() == 2)
        .map(|d| (d.kind.as_str(), d))
        .collect();

    let mut locals = Map::new();
    let mut instances: Vec<Instance> = Vec::new();
    let (mut resources, mut data): (Map<String, Value>, Map<String, Value>) =
        (Map::new(), Map::new());
    for _ in 0..PASSES {
        let context = |locals: &Map<String, Value>| {
            let mut ctx = base.clone();
            ctx.declare_var("var", Value::Object(vars.clone()));
            ctx.declare_var("local", Value::Object(locals.clone()));
            ctx.declare_var("data", Value::Object(data.clone()));
            for (rtype, by_name) in &resources {
                ctx.declare_var(rtype.clone(), by_name.clone());
            }
            ctx
        };
        let ctx = context(&locals);
        for d in p.decls.iter().filter(|d| d.kind == "locals") {
            for attr in d.body.attributes() {
                locals.insert(attr.key.as_str().to_owned(), eval_expr(&attr.value, &ctx));
            }
        }
        let ctx = context(&locals);
        instances = declared
            .iter()
            .flat_map(|(kind, d)| expand(d, kind, &ctx, p))
            .collect();
        (resources, data) = objects(&instances, &declared);
    }

    let ctx = {
        let mut ctx = base.clone();
        ctx.declare_var("var", Value::Object(vars.clone()));
        ctx.declare_var("local", Value::Object(locals.clone()));
        ctx
    };
    let mut region = None;
    let mut account = None;
    let mut default_tags = None;
    for d in p
        .decls
        .iter()
        .filter(|d| d.kind == "provider" && d.labels.first().map(String::as_str) == Some("aws"))
    {
        if d.body.get_attribute("alias").is_some() {
            continue;
        }
        let v = eval_body(&d.body, &ctx);
        region = value::get(&v, "region").cloned();
        account = match value::get(&v, "allowed_account_ids") {
            Some(Value::Array(ids)) => ids.first().and_then(value::as_str).map(str::to_owned),
            _ => None,
        };
        default_tags = value::blocks(&v, "default_tags")
            .first()
            .and_then(|b| value::get(b, "tags"))
            .cloned();
    }
    let dir = PathBuf::from(&p.dir);
    let calls = p
        .decls
        .iter()
        .filter(|d| d.kind == "module")
        .filter_map(|d| {
            let source = d.body.get_attribute("source")?;
            let v = eval_expr(&source.value, &base);
            let s = value::as_str(&v)?;
            (s.starts_with("./") || s.starts_with("../"))
                .then(|| crate::files::display(&join_source(&dir, s)))
        })
        .collect();
    let location = p
        .files
        .first()
        .map(|f| f.header(0))
        .unwrap_or_else(|| crate::files::whole_file(&dir));
    ModuleFacts {
        path: p.dir.clone(),
        location,
        instances,
        region: region.and_then(|r| match value::resolve(&r) {
            Resolved::Known(Value::String(s)) => Some(s.clone()),
            _ => None,
        }),
        account,
        default_tags,
        calls,
    }
}
