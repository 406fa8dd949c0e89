//! Evaluating a module: variables (`*.tfvars`, defaults, `optional()` attributes of their type),
//! locals, resources and data sources with `count`, `for_each` and `dynamic` blocks.
//!
//! Design: one lazy pass. Each local and each resource or data source is evaluated the first time
//! something refers to it, and its value is kept (an `Rc`), so a reference costs a lookup and the
//! module is evaluated in time linear in its size, whatever order it is written in and however
//! many instances refer to each other. A cycle is unknown.
//!
//! Values are `hcl::Value`s in which what Terraform only knows at apply time is a marker string
//! (see [`crate::value`]): computed attributes (`arn`, `id`, `key_id`…) are references to their
//! resource, anything else unknown says why. [`expr`] evaluates expressions with unknowns
//! propagated as Terraform does; [`funcs`] holds the functions and [`policy`] renders
//! `data "aws_iam_policy_document"` to its `json`, as the provider does.
//!
//! A resource whose `count` or `for_each` is unknown, or above [`MAX_INSTANCES`], is one instance
//! `x[*]` whose `count.index`, `each.key` and `each.value` are unknown.

mod expr;
mod funcs;
mod policy;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use hcl::expr::{Expression, ObjectKey, TraversalOperator};
use hcl::{Body, Map, Value};

use crate::build::{Instance, ModuleFacts};
use crate::module::{Decl, Parsed};
use crate::value::{self, reference, unknown, unknown_reason, Resolved};
use expr::{eval, index, pairs, to_number, traverse, Eval, Found, Known, Roots, Scope};

/// The most instances one `count`, `for_each` or `dynamic` block expands to. Real modules stay far
/// below it; above it the instances are one unknown `x[*]`, so `count = 1000000` costs nothing.
pub(crate) const MAX_INSTANCES: usize = 10_000;

/// How deep references may chain (a local naming a resource naming a local…) before the value is
/// unknown rather than the stack exhausted.
const MAX_DEPTH: usize = 200;

/// Blocks whose content is not configuration of the resource.
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection"];

fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn attribute<'b>(body: &'b Body, name: &str) -> Option<&'b Expression> {
    body.attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
}

fn or_unknown(r: Eval) -> Value {
    r.unwrap_or_else(|e| unknown(e.lines().next().unwrap_or("cannot evaluate")))
}

/// Adds a block's value under its type: evaluated blocks are arrays of objects. An unknown set
/// of blocks (a `dynamic` block over an unknown collection) stays unknown.
fn push_block(out: &mut Map<String, Value>, kind: &str, block: Value) {
    if let Value::Array(items) = out
        .entry(kind.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        items.push(block);
    }
}

/// A block body as an object: attributes by name, nested blocks as arrays of objects by type,
/// `dynamic` blocks expanded.
fn eval_body(body: &Body, s: &Scope<'_>) -> Value {
    let mut out = Map::new();
    for attr in body.attributes() {
        out.insert(attr.key().to_owned(), or_unknown(eval(attr.expr(), s)));
    }
    for block in body.blocks() {
        let kind = block.identifier();
        if META_BLOCKS.contains(&kind) {
            continue;
        }
        if kind == "dynamic" {
            dynamic(block, s, &mut out);
        } else {
            push_block(&mut out, kind, eval_body(block.body(), s));
        }
    }
    Value::Object(out)
}

/// `dynamic "x" { for_each = …; iterator = it; content { … } }`: one `x` block per element, or
/// `x` unknown when the elements are.
fn dynamic(block: &hcl::Block, s: &Scope<'_>, out: &mut Map<String, Value>) {
    let name = block.labels().first().map_or("dynamic", |l| l.as_str());
    let body = block.body();
    let iterator = match attribute(body, "iterator") {
        Some(Expression::Variable(v)) => v.as_str(),
        _ => name,
    };
    let each = attribute(body, "for_each")
        .ok_or_else(|| "no for_each".to_owned())
        .and_then(|e| eval(e, s));
    let items = match each.as_ref().map(pairs) {
        Ok(Ok(Known::Yes(items))) if items.len() <= MAX_INSTANCES => Ok(items),
        Ok(Ok(Known::Yes(_))) => Err(format!("more than {MAX_INSTANCES} elements")),
        Ok(Ok(Known::No(why))) => Err(why),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e.clone()),
    };
    let content = body.blocks().find(|b| b.identifier() == "content");
    match items {
        Ok(items) => {
            // Declared even when empty, so a known empty for_each is no blocks rather than absent.
            out.entry(name.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            for (key, value) in items {
                let child = s.with(vec![(
                    iterator.to_owned(),
                    obj([("key", key), ("value", value.clone())]),
                )]);
                let v = content.map_or_else(
                    || Value::Object(Map::new()),
                    |c| eval_body(c.body(), &child),
                );
                push_block(out, name, v);
            }
        }
        Err(why) => {
            out.insert(
                name.to_owned(),
                unknown(format!("dynamic \"{name}\" block: {why}")),
            );
        }
    }
}

/// A variable's value converted to its type constraint as far as it matters here: the defaults
/// of `optional(type, default)` attributes of objects, at any depth.
fn apply_type(ty: &Expression, v: Value, s: &Scope<'_>) -> Value {
    let Expression::FuncCall(f) = ty else {
        return v;
    };
    match (f.name.name.as_str(), f.args.as_slice(), v) {
        ("object", [Expression::Object(attrs)], Value::Object(mut m)) => {
            for (k, t) in attrs {
                let key = match k {
                    ObjectKey::Identifier(id) => id.as_str().to_owned(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    _ => continue,
                };
                let (inner, default, optional) = match t {
                    Expression::FuncCall(o) if o.name.name.as_str() == "optional" => {
                        (o.args.first(), o.args.get(1), true)
                    }
                    other => (Some(other), None, false),
                };
                let current = m.get(&key).cloned().unwrap_or(Value::Null);
                let filled = match (current, default) {
                    (Value::Null, Some(d)) if optional => or_unknown(eval(d, s)),
                    (Value::Null, None) if optional => Value::Null,
                    (Value::Null, _) if !m.contains_key(&key) => continue,
                    (other, _) => other,
                };
                let filled = match inner {
                    Some(t) => apply_type(t, filled, s),
                    None => filled,
                };
                m.insert(key, filled);
            }
            Value::Object(m)
        }
        ("list" | "set", [t], Value::Array(items)) => {
            Value::Array(items.into_iter().map(|i| apply_type(t, i, s)).collect())
        }
        ("map", [t], Value::Object(m)) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, apply_type(t, v, s)))
                .collect(),
        ),
        ("tuple", [Expression::Array(ts)], Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match ts.get(i) {
                    Some(t) => apply_type(t, v, s),
                    None => v,
                })
                .collect(),
        ),
        (_, _, v) => v,
    }
}

/// A resource or data source declaration.
struct Res<'p> {
    kind: &'static str,
    decl: &'p Decl,
    rtype: &'p str,
    /// `aws_kms_key.x`, `data.aws_kms_alias.y`.
    base: String,
    body: Body,
}

/// What references to a declaration see.
enum Table {
    /// Neither `count` nor `for_each`.
    Single(Value),
    /// A list (`count`) or map (`for_each`) of instances.
    Many(Value),
    /// `count` or `for_each` unknown: the one instance `x[*]`, whatever the index.
    Any(Value),
}

struct Done {
    instances: Vec<Instance>,
    table: Table,
}

struct Module<'p> {
    p: &'p Parsed,
    vars: Map<String, Value>,
    locals: HashMap<String, Expression>,
    resources: Vec<Res<'p>>,
    by_address: HashMap<String, usize>,
    resource_types: HashSet<String>,
    path: Value,
    local_memo: RefCell<HashMap<String, Rc<Value>>>,
    done: RefCell<Vec<Option<Rc<Done>>>>,
    /// What is being evaluated, to see cycles.
    busy: RefCell<Vec<String>>,
}

impl<'p> Module<'p> {
    fn new(p: &'p Parsed) -> Self {
        let plain = Scope::isolated(&p.dir, Vec::new());
        let mut tfvars = Map::new();
        for body in &p.tfvars {
            let body = Body::from(body.clone());
            for attr in body.attributes() {
                tfvars.insert(attr.key().to_owned(), or_unknown(eval(attr.expr(), &plain)));
            }
        }
        let mut vars = Map::new();
        for d in p.decls.iter().filter(|d| d.kind == "variable") {
            let Some(name) = d.labels.first() else {
                continue;
            };
            let body = Body::from(d.body.clone());
            let v = match (tfvars.get(name), attribute(&body, "default")) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => or_unknown(eval(default, &plain)),
                (None, None) => unknown(format!("var.{name} has no value")),
            };
            let v = match attribute(&body, "type") {
                Some(ty) => apply_type(ty, v, &plain),
                None => v,
            };
            vars.insert(name.clone(), v);
        }
        let mut locals = HashMap::new();
        for d in p.decls.iter().filter(|d| d.kind == "locals") {
            for attr in Body::from(d.body.clone()).attributes() {
                locals.insert(attr.key().to_owned(), attr.expr().clone());
            }
        }
        let mut resources = Vec::new();
        let mut by_address = HashMap::new();
        let mut resource_types = HashSet::new();
        for d in &p.decls {
            let kind = match d.kind.as_str() {
                "resource" => "resource",
                "data" => "data",
                _ => continue,
            };
            let [rtype, name] = d.labels.as_slice() else {
                continue;
            };
            let base = if kind == "data" {
                format!("data.{rtype}.{name}")
            } else {
                resource_types.insert(rtype.clone());
                format!("{rtype}.{name}")
            };
            by_address.insert(base.clone(), resources.len());
            resources.push(Res {
                kind,
                decl: d,
                rtype,
                base,
                body: Body::from(d.body.clone()),
            });
        }
        let done = RefCell::new(vec![None; resources.len()]);
        Module {
            p,
            vars,
            locals,
            resources,
            by_address,
            resource_types,
            path: obj([
                ("module", Value::from(p.dir.clone())),
                ("root", Value::from(".")),
                ("cwd", Value::from(".")),
            ]),
            local_memo: RefCell::new(HashMap::new()),
            done,
            busy: RefCell::new(Vec::new()),
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope::module(self, &self.p.dir)
    }

    /// Runs `f` as the evaluation of `what`, or says why not (a cycle, too deep).
    fn guarded<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
        {
            let busy = self.busy.borrow();
            if busy.iter().any(|b| b == what) {
                return Err(format!("{what} refers to itself"));
            }
            if busy.len() >= MAX_DEPTH {
                return Err(format!("{what}: references nested too deeply"));
            }
        }
        self.busy.borrow_mut().push(what.to_owned());
        let out = f();
        self.busy.borrow_mut().pop();
        Ok(out)
    }

    fn local(&self, name: &str) -> Result<Rc<Value>, String> {
        if let Some(v) = self.local_memo.borrow().get(name) {
            return Ok(Rc::clone(v));
        }
        let e = self
            .locals
            .get(name)
            .ok_or_else(|| format!("no local value {name}"))?;
        let v = match self.guarded(&format!("local.{name}"), || {
            or_unknown(eval(e, &self.scope()))
        }) {
            Ok(v) => Rc::new(v),
            Err(why) => return Ok(Rc::new(unknown(why))),
        };
        self.local_memo
            .borrow_mut()
            .insert(name.to_owned(), Rc::clone(&v));
        Ok(v)
    }

    fn done(&self, i: usize) -> Result<Rc<Done>, String> {
        if let Some(d) = self.done.borrow()[i].clone() {
            return Ok(d);
        }
        let d = Rc::new(self.guarded(&self.resources[i].base, || self.expand(i))?);
        self.done.borrow_mut()[i] = Some(Rc::clone(&d));
        Ok(d)
    }

    /// One declaration, expanded by `count` / `for_each`.
    fn expand(&self, i: usize) -> Done {
        let r = &self.resources[i];
        let scope = self.scope();
        let location = self.p.files[r.decl.file].header(r.decl.start);
        let make = |address: String, s: &Scope<'_>| Instance {
            kind: r.kind.to_owned(),
            rtype: r.rtype.to_owned(),
            address,
            value: eval_body(&r.body, s),
            location: location.clone(),
        };
        let with_computed = |i: &Instance| {
            let mut v = match &i.value {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            v.extend(computed(r.kind, r.rtype, &i.address, &i.value));
            Value::Object(v)
        };
        let any = |binding: Vec<(String, Value)>| {
            let one = make(format!("{}[*]", r.base), &scope.with(binding));
            Done {
                table: Table::Any(with_computed(&one)),
                instances: vec![one],
            }
        };
        if let Some(count) = attribute(&r.body, "count") {
            let n = eval(count, &scope)
                .ok()
                .filter(|v| unknown_reason(v).is_none())
                .and_then(|v| to_number(&v).ok())
                .and_then(|n| n.as_u64())
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n <= MAX_INSTANCES);
            let Some(n) = n else {
                let u = unknown(format!("the count of {} is unknown", r.base));
                return any(vec![("count".into(), obj([("index", u)]))]);
            };
            let instances: Vec<Instance> = (0..n)
                .map(|i| {
                    let c = obj([("index", Value::from(i as u64))]);
                    make(
                        format!("{}[{i}]", r.base),
                        &scope.with(vec![("count".into(), c)]),
                    )
                })
                .collect();
            let table = Table::Many(Value::Array(instances.iter().map(with_computed).collect()));
            return Done { instances, table };
        }
        if let Some(each) = attribute(&r.body, "for_each") {
            let items: Option<Vec<(String, Value)>> = match eval(each, &scope) {
                Ok(Value::Object(m)) if !m.keys().any(|k| k.contains('\u{1}')) => {
                    Some(m.into_iter().collect())
                }
                Ok(Value::Array(items)) => items
                    .into_iter()
                    .map(|v| value::as_str(&v).map(|s| (s.to_owned(), v.clone())))
                    .collect(),
                _ => None,
            };
            let Some(items) = items.filter(|i| i.len() <= MAX_INSTANCES) else {
                let u = unknown(format!("the for_each of {} is unknown", r.base));
                return any(vec![(
                    "each".into(),
                    obj([("key", u.clone()), ("value", u)]),
                )]);
            };
            let instances: Vec<Instance> = items
                .into_iter()
                .map(|(k, v)| {
                    let e = obj([("key", Value::from(k.clone())), ("value", v)]);
                    make(
                        format!("{}[\"{k}\"]", r.base),
                        &scope.with(vec![("each".into(), e)]),
                    )
                })
                .collect();
            let table = Table::Many(Value::Object(
                instances
                    .iter()
                    .map(|i| {
                        let key = i
                            .address
                            .strip_prefix(&format!("{}[\"", r.base))
                            .and_then(|k| k.strip_suffix("\"]"))
                            .unwrap_or("*")
                            .to_owned();
                        (key, with_computed(i))
                    })
                    .collect(),
            ));
            return Done { instances, table };
        }
        let one = make(r.base.clone(), &scope);
        Done {
            table: Table::Single(with_computed(&one)),
            instances: vec![one],
        }
    }

    /// `address` followed by `ops`: an instance's attribute that the code does not set is
    /// computed by the provider, so unknown rather than an error.
    fn resource(&self, address: &str, ops: &[TraversalOperator], s: &Scope<'_>) -> Eval {
        let Some(&i) = self.by_address.get(address) else {
            return Err(format!("{address} is not declared"));
        };
        let done = match self.done(i) {
            Ok(d) => d,
            Err(why) => return Ok(unknown(why)),
        };
        let attr = |v: &Value, ops: &[TraversalOperator]| match (ops.first(), v) {
            (Some(TraversalOperator::GetAttr(a)), Value::Object(m))
                if !m.contains_key(a.as_str()) =>
            {
                Ok(unknown(format!("{address}.{a} is only known after apply")))
            }
            _ => traverse(v, ops, s),
        };
        let indexed = |op: &TraversalOperator| match op {
            TraversalOperator::Index(e) => eval(e, s).map(Some),
            TraversalOperator::LegacyIndex(n) => Ok(Some(Value::from(*n))),
            _ => Ok(None),
        };
        match &done.table {
            Table::Single(v) => attr(v, ops),
            Table::Many(all) => match ops.split_first() {
                Some((op, rest)) => match indexed(op)? {
                    Some(key) => match index(all, &key)? {
                        Found::Value(v) => attr(v, rest),
                        Found::Unknown(why) => Ok(unknown(why)),
                    },
                    None => traverse(all, ops, s),
                },
                None => Ok(all.clone()),
            },
            Table::Any(v) => match ops.split_first() {
                Some((op, rest)) if indexed(op)?.is_some() => attr(v, rest),
                _ => Ok(unknown(format!("the instances of {address} are unknown"))),
            },
        }
    }
}

impl Roots for Module<'_> {
    fn root(&self, name: &str, ops: &[TraversalOperator], s: &Scope<'_>) -> Option<Eval> {
        let attr = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
            _ => None,
        };
        Some(match name {
            "var" => match attr(0) {
                Some(v) => match self.vars.get(v) {
                    Some(value) => traverse(value, &ops[1..], s),
                    None => Err(format!("no variable {v}")),
                },
                None => traverse(&Value::Object(self.vars.clone()), ops, s),
            },
            "local" => match attr(0) {
                Some(l) => self.local(l).and_then(|v| traverse(&v, &ops[1..], s)),
                None => Err("local needs an attribute".into()),
            },
            "path" => traverse(&self.path, ops, s),
            "terraform" => traverse(&obj([("workspace", Value::from("default"))]), ops, s),
            "data" => match (attr(0), attr(1)) {
                (Some(t), Some(n)) => self.resource(&format!("data.{t}.{n}"), &ops[2..], s),
                _ => Err("data needs a type and a name".into()),
            },
            "module" => Ok(unknown(match attr(0) {
                Some(m) => format!("the outputs of module.{m} are not evaluated"),
                None => "module outputs are not evaluated".to_owned(),
            })),
            "self" => Ok(unknown("self is only known after apply")),
            t if self.resource_types.contains(t) => match attr(0) {
                Some(n) => self.resource(&format!("{t}.{n}"), &ops[1..], s),
                None => Err(format!("{t} needs a name")),
            },
            _ => return None,
        })
    }
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
            let json = policy::policy_document(value);
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
    let m = Module::new(p);
    for i in 0..m.resources.len() {
        // Every declaration, also those nothing refers to; a cycle is unknown where it closes.
        let _ = m.done(i);
    }
    let mut region = None;
    let mut account = None;
    let mut default_tags = None;
    let scope = m.scope();
    for d in p
        .decls
        .iter()
        .filter(|d| d.kind == "provider" && d.labels.first().map(String::as_str) == Some("aws"))
    {
        let body = Body::from(d.body.clone());
        if attribute(&body, "alias").is_some() {
            continue;
        }
        let v = eval_body(&body, &scope);
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
    let plain = Scope::isolated(&p.dir, Vec::new());
    let calls = p
        .decls
        .iter()
        .filter(|d| d.kind == "module")
        .filter_map(|d| {
            let body = Body::from(d.body.clone());
            let v = eval(attribute(&body, "source")?, &plain).ok()?;
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
    drop(scope);
    let instances = m
        .done
        .into_inner()
        .into_iter()
        .flatten()
        .flat_map(|d| match Rc::try_unwrap(d) {
            Ok(d) => d.instances,
            Err(d) => d.instances.clone(),
        })
        .collect();
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
