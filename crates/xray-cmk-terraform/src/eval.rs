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

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hcl::edit::Span as _;
use hcl::expr::{Expression, ObjectKey, TraversalOperator};
use hcl::{Body, Map, Value};

use crate::build::{Instance, Maybe, ModuleFacts, UnreadCall};
use crate::module::{Decl, Parsed};
use crate::value::{self, reference, unknown, unknown_reason, Resolved};
use expr::{eval, index, pairs, to_number, traverse, Eval, Found, Known, Roots, Scope};
use xray_cmk_core::SourceLocation;

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
    /// `aws_kms_key.x`, `data.aws_kms_alias.y`: the address within its module.
    base: String,
    body: Body,
}

/// A `variable` block.
struct Variable {
    name: String,
    default: Option<Expression>,
    ty: Option<Expression>,
    /// `nullable = false`: a caller's `null` means the default.
    nullable: bool,
}

/// Where a `module` block's `source` points.
enum Source {
    /// A local directory (`./x`, `../x`), named as the scan names modules.
    Local(String),
    /// A registry, git or other address the scan cannot read.
    Remote(String),
    /// Not a literal string, which Terraform refuses.
    Invalid(String),
}

/// A `module` block.
struct Call<'p> {
    /// `encryption` of `module "encryption"`.
    name: String,
    decl: &'p Decl,
    body: Body,
    source: Source,
    /// Where each argument is.
    attributes: Vec<(String, SourceLocation)>,
}

/// The arguments of a `module` block that are not inputs of the called module.
const CALL_META: &[&str] = &[
    "source",
    "version",
    "count",
    "for_each",
    "providers",
    "depends_on",
];

/// How many instances (of resources, data sources and module calls) the evaluation of one module
/// and everything it calls may make. Beyond it, what is left is unknown: a tree of modules that
/// call each other with `count` cannot multiply into an allocation.
pub(crate) const MAX_TREE_INSTANCES: usize = 50_000;

/// How many instances a whole scan may make, over every module tree: many trees each at their
/// bound cannot add up to one either. Beyond it, what is left is unknown.
pub(crate) const MAX_SCAN_INSTANCES: usize = 500_000;

/// What is left of the instances one tree and the whole scan may still make.
pub(crate) struct Budget {
    tree: Cell<usize>,
    tree_max: usize,
    scan: Arc<AtomicUsize>,
    scan_max: usize,
}

impl Budget {
    /// A tree's budget, drawing on `scan` (which starts at `scan_max`).
    pub(crate) fn new(tree_max: usize, scan: Arc<AtomicUsize>, scan_max: usize) -> Self {
        Budget {
            tree: Cell::new(tree_max),
            tree_max,
            scan,
            scan_max,
        }
    }

    /// Takes `n` instances, or says which bound they would cross.
    fn take(&self, n: usize) -> Result<(), String> {
        let left = self.tree.get();
        if n > left {
            return Err(self.tree_message());
        }
        self.scan
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_sub(n))
            .map_err(|_| self.scan_message())?;
        self.tree.set(left - n);
        Ok(())
    }

    /// Why nothing more can be made, once nothing is left.
    fn exhausted(&self) -> Option<String> {
        if self.tree.get() == 0 {
            Some(self.tree_message())
        } else if self.scan.load(Ordering::Relaxed) == 0 {
            Some(self.scan_message())
        } else {
            None
        }
    }

    fn tree_message(&self) -> String {
        format!(
            "the module tree makes more than {} instances, the most evaluated",
            self.tree_max
        )
    }

    fn scan_message(&self) -> String {
        format!(
            "the scan makes more than {} instances, the most evaluated",
            self.scan_max
        )
    }
}

/// How deep module calls may nest before a call is unknown.
pub(crate) const MAX_MODULE_DEPTH: usize = 32;

/// A module's declarations, read once per directory: its standalone evaluation and every
/// instance a caller makes of it share them.
pub(crate) struct Prepared<'p> {
    p: &'p Parsed,
    /// `terraform.tfvars` and `*.auto.tfvars`: they set the variables of a root module only.
    tfvars: Map<String, Value>,
    variables: Vec<Variable>,
    locals: HashMap<String, Expression>,
    resources: Vec<Res<'p>>,
    by_address: HashMap<String, usize>,
    resource_types: HashSet<String>,
    calls: Vec<Call<'p>>,
    call_by_name: HashMap<String, usize>,
    outputs: Vec<(String, Expression)>,
}

/// Every module of a scan, by directory, so that a call of a local module finds it.
pub(crate) type Catalog<'p> = HashMap<String, Prepared<'p>>;

impl<'p> Prepared<'p> {
    pub(crate) fn new(p: &'p Parsed) -> Self {
        let plain = Scope::isolated(&p.dir, Vec::new());
        let mut tfvars = Map::new();
        for body in &p.tfvars {
            let body = Body::from(body.clone());
            for attr in body.attributes() {
                tfvars.insert(attr.key().to_owned(), or_unknown(eval(attr.expr(), &plain)));
            }
        }
        let mut out = Prepared {
            p,
            tfvars,
            variables: Vec::new(),
            locals: HashMap::new(),
            resources: Vec::new(),
            by_address: HashMap::new(),
            resource_types: HashSet::new(),
            calls: Vec::new(),
            call_by_name: HashMap::new(),
            outputs: Vec::new(),
        };
        for d in &p.decls {
            let body = || Body::from(d.body.clone());
            match (d.kind.as_str(), d.labels.as_slice()) {
                ("variable", [name]) => {
                    let body = body();
                    out.variables.push(Variable {
                        name: name.clone(),
                        default: attribute(&body, "default").cloned(),
                        ty: attribute(&body, "type").cloned(),
                        nullable: !matches!(
                            attribute(&body, "nullable"),
                            Some(Expression::Bool(false))
                        ),
                    });
                }
                ("locals", []) => {
                    for attr in body().attributes() {
                        out.locals
                            .insert(attr.key().to_owned(), attr.expr().clone());
                    }
                }
                ("output", [name]) => {
                    if let Some(v) = attribute(&body(), "value") {
                        out.outputs.push((name.clone(), v.clone()));
                    }
                }
                ("module", [name]) => {
                    let body = body();
                    let source = match attribute(&body, "source").map(|e| eval(e, &plain)) {
                        Some(Ok(v)) => match value::as_str(&v) {
                            Some(s) if s.starts_with("./") || s.starts_with("../") => {
                                Source::Local(crate::files::display(&crate::files::join_lexical(
                                    Path::new(&p.dir),
                                    s,
                                )))
                            }
                            Some(s) => Source::Remote(s.to_owned()),
                            None => Source::Invalid("source is not a literal string".into()),
                        },
                        Some(Err(e)) => Source::Invalid(format!("source: {e}")),
                        None => Source::Invalid("no source".into()),
                    };
                    let attributes = d
                        .body
                        .attributes()
                        .map(|a| {
                            let at = a.span().map_or(d.start, |s| s.start);
                            (a.key.as_str().to_owned(), p.files[d.file].header(at))
                        })
                        .collect();
                    out.call_by_name.insert(name.clone(), out.calls.len());
                    out.calls.push(Call {
                        name: name.clone(),
                        decl: d,
                        body,
                        source,
                        attributes,
                    });
                }
                (kind @ ("resource" | "data"), [rtype, name]) => {
                    let (kind, base) = if kind == "data" {
                        ("data", format!("data.{rtype}.{name}"))
                    } else {
                        out.resource_types.insert(rtype.clone());
                        ("resource", format!("{rtype}.{name}"))
                    };
                    out.by_address.insert(base.clone(), out.resources.len());
                    out.resources.push(Res {
                        kind,
                        decl: d,
                        rtype,
                        base,
                        body: body(),
                    });
                }
                _ => {}
            }
        }
        out
    }

    pub(crate) fn dir(&self) -> &str {
        &self.p.dir
    }

    /// The local modules it calls: each `module` block's directory, and where the block is.
    pub(crate) fn local_calls(&self) -> Vec<(String, SourceLocation)> {
        self.calls
            .iter()
            .filter_map(|c| match &c.source {
                Source::Local(dir) => {
                    Some((dir.clone(), self.p.files[c.decl.file].header(c.decl.start)))
                }
                _ => None,
            })
            .collect()
    }
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

/// A declaration or module call, expanded.
struct Done {
    instances: Vec<Instance>,
    unread: Vec<UnreadCall>,
    table: Table,
}

/// Which instances a `count` or `for_each` makes.
enum Keys {
    /// Neither: one instance.
    One,
    Count(usize),
    /// `for_each`: each key with its value.
    Each(Vec<(String, Value)>),
    /// Unknown, or too many: one instance `x[*]` with these bindings, and why.
    Unknown(Vec<(String, Value)>, String),
}

/// Where a module's values come from.
enum Inputs {
    /// A root module: `*.tfvars`, then defaults.
    Root,
    /// An instance a `module` block makes: its arguments, then defaults.
    Caller {
        call: String,
        args: Map<String, Value>,
    },
}

/// One evaluation of a module: on its own (as a root), or as an instance its caller makes.
struct Module<'p> {
    m: &'p Prepared<'p>,
    catalog: &'p Catalog<'p>,
    /// What is left of [`MAX_TREE_INSTANCES`] and [`MAX_SCAN_INSTANCES`], shared by the tree.
    budget: Rc<Budget>,
    /// `module.a[0].` in an instance a caller makes, so that every address is the full one.
    prefix: String,
    /// The directories of this module and of the modules that call it: a call of one of them is
    /// a cycle.
    stack: Vec<String>,
    /// Why this instance may not exist: a call above it has an unknown `count` or `for_each`.
    maybe: Option<Maybe>,
    vars: Map<String, Value>,
    path: Value,
    local_memo: RefCell<HashMap<String, Rc<Value>>>,
    done: RefCell<Vec<Option<Rc<Done>>>>,
    calls_done: RefCell<Vec<Option<Rc<Done>>>>,
    /// What is being evaluated, to see cycles.
    busy: RefCell<Vec<String>>,
}

/// What an evaluated module instance leaves: its instances (and those of the modules it calls),
/// the calls it could not follow, and its outputs.
struct Finished {
    instances: Vec<Instance>,
    unread: Vec<UnreadCall>,
    outputs: Value,
}

impl<'p> Module<'p> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        m: &'p Prepared<'p>,
        catalog: &'p Catalog<'p>,
        budget: Rc<Budget>,
        inputs: &Inputs,
        prefix: String,
        stack: Vec<String>,
        maybe: Option<Maybe>,
        root: &str,
    ) -> Self {
        let plain = Scope::isolated(&m.p.dir, Vec::new());
        let mut vars = Map::new();
        for v in &m.variables {
            let given = match inputs {
                Inputs::Root => m.tfvars.get(&v.name),
                Inputs::Caller { args, .. } => args.get(&v.name),
            }
            .filter(|g| v.nullable || v.default.is_none() || !matches!(g, Value::Null));
            let value = match (given, &v.default) {
                (Some(g), _) => g.clone(),
                (None, Some(default)) => or_unknown(eval(default, &plain)),
                (None, None) => match inputs {
                    Inputs::Root => unknown(format!("var.{} has no value", v.name)),
                    Inputs::Caller { call, .. } => unknown(format!(
                        "var.{} has no value: {call} does not pass it",
                        v.name
                    )),
                },
            };
            let value = match &v.ty {
                Some(ty) => apply_type(ty, value, &plain),
                None => value,
            };
            vars.insert(v.name.clone(), value);
        }
        Module {
            m,
            catalog,
            budget,
            prefix,
            stack,
            maybe,
            vars,
            path: obj([
                ("module", Value::from(m.p.dir.clone())),
                ("root", Value::from(root)),
                ("cwd", Value::from(".")),
            ]),
            local_memo: RefCell::new(HashMap::new()),
            done: RefCell::new(vec![None; m.resources.len()]),
            calls_done: RefCell::new(vec![None; m.calls.len()]),
            busy: RefCell::new(Vec::new()),
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope::module(self, &self.m.p.dir)
    }

    /// Every declaration and module call evaluated (also those nothing refers to; a cycle is
    /// unknown where it closes), then the outputs.
    fn finish(self) -> Finished {
        for i in 0..self.m.resources.len() {
            let _ = self.done(i);
        }
        for i in 0..self.m.calls.len() {
            let _ = self.call_done(i);
        }
        let outputs = {
            let s = self.scope();
            Value::Object(
                self.m
                    .outputs
                    .iter()
                    .map(|(name, e)| {
                        let v = self
                            .guarded(&format!("output.{name}"), || or_unknown(eval(e, &s)))
                            .unwrap_or_else(unknown);
                        (name.clone(), v)
                    })
                    .collect(),
            )
        };
        let mut instances = Vec::new();
        let mut unread = Vec::new();
        let done = self.done.into_inner().into_iter();
        for d in done.chain(self.calls_done.into_inner()).flatten() {
            let d = Rc::try_unwrap(d).unwrap_or_else(|d| Done {
                instances: d.instances.clone(),
                unread: d.unread.clone(),
                table: Table::Single(Value::Null),
            });
            instances.extend(d.instances);
            unread.extend(d.unread);
        }
        Finished {
            instances,
            unread,
            outputs,
        }
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
            .m
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
        let d = Rc::new(self.guarded(&self.m.resources[i].base, || self.expand(i))?);
        self.done.borrow_mut()[i] = Some(Rc::clone(&d));
        Ok(d)
    }

    fn call_done(&self, i: usize) -> Result<Rc<Done>, String> {
        if let Some(d) = self.calls_done.borrow()[i].clone() {
            return Ok(d);
        }
        let what = format!("module.{}", self.m.calls[i].name);
        let d = Rc::new(self.guarded(&what, || self.expand_call(i))?);
        self.calls_done.borrow_mut()[i] = Some(Rc::clone(&d));
        Ok(d)
    }

    /// The instances `count` or `for_each` in `body` make, within the bounds.
    fn keys(&self, body: &Body) -> Keys {
        let scope = self.scope();
        if let Some(count) = attribute(body, "count") {
            let v = match eval(count, &scope) {
                Ok(v) => v,
                Err(e) => unknown(e),
            };
            let n = match unknown_reason(&v) {
                Some(why) => Err(format!("count is unknown: {why}")),
                None => to_number(&v)
                    .ok()
                    .and_then(|n| n.as_u64())
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| format!("count is not a whole number: {v}")),
            };
            let n = n.and_then(|n| {
                if n > MAX_INSTANCES {
                    Err(format!(
                        "count is {n}, above the {MAX_INSTANCES} instances evaluated"
                    ))
                } else {
                    self.budget.take(n).map(|()| n)
                }
            });
            return match n {
                Ok(n) => Keys::Count(n),
                Err(why) => {
                    Keys::Unknown(vec![("count".into(), obj([("index", unknown(&why))]))], why)
                }
            };
        }
        if let Some(each) = attribute(body, "for_each") {
            let v = eval(each, &scope);
            let items: Result<Vec<(String, Value)>, String> = match v {
                Ok(Value::Object(m)) if !m.keys().any(|k| k.contains('\u{1}')) => {
                    Ok(m.into_iter().collect())
                }
                Ok(Value::Array(items)) => items
                    .into_iter()
                    .map(|v| {
                        value::as_str(&v)
                            .map(|s| (s.to_owned(), v.clone()))
                            .ok_or_else(|| match unknown_reason(&v) {
                                Some(why) => format!("for_each is unknown: {why}"),
                                None => "for_each holds an element that is not a string".into(),
                            })
                    })
                    .collect(),
                Ok(v) => Err(match unknown_reason(&v) {
                    Some(why) => format!("for_each is unknown: {why}"),
                    None => "for_each is unknown".to_owned(),
                }),
                Err(e) => Err(format!("for_each is unknown: {e}")),
            };
            let items = items.and_then(|items| {
                if items.len() > MAX_INSTANCES {
                    Err(format!(
                        "for_each has {} elements, above the {MAX_INSTANCES} instances evaluated",
                        items.len()
                    ))
                } else {
                    self.budget.take(items.len()).map(|()| items)
                }
            });
            return match items {
                Ok(items) => Keys::Each(items),
                Err(why) => {
                    let u = unknown(&why);
                    Keys::Unknown(
                        vec![("each".into(), obj([("key", u.clone()), ("value", u)]))],
                        why,
                    )
                }
            };
        }
        match self.budget.take(1) {
            Ok(()) => Keys::One,
            Err(why) => Keys::Unknown(Vec::new(), why),
        }
    }

    /// Instances made by `count` / `for_each`: `one(suffix, scope, why it may not exist)`
    /// evaluates one, returning what references see of it.
    fn expand_with(
        &self,
        body: &Body,
        mut one: impl FnMut(&str, &Scope<'_>, Option<String>) -> Value,
    ) -> Table {
        let scope = self.scope();
        match self.keys(body) {
            Keys::One => Table::Single(one("", &scope, None)),
            Keys::Count(n) => Table::Many(Value::Array(
                (0..n)
                    .map(|i| {
                        let c = obj([("index", Value::from(i as u64))]);
                        one(
                            &format!("[{i}]"),
                            &scope.with(vec![("count".into(), c)]),
                            None,
                        )
                    })
                    .collect(),
            )),
            Keys::Each(items) => Table::Many(Value::Object(
                items
                    .into_iter()
                    .map(|(k, v)| {
                        let e = obj([("key", Value::from(k.clone())), ("value", v)]);
                        let seen = one(
                            &format!("[\"{k}\"]"),
                            &scope.with(vec![("each".into(), e)]),
                            None,
                        );
                        (k, seen)
                    })
                    .collect(),
            )),
            Keys::Unknown(binding, why) => Table::Any(one("[*]", &scope.with(binding), Some(why))),
        }
    }

    /// One declaration, expanded by `count` / `for_each`.
    fn expand(&self, i: usize) -> Done {
        let r = &self.m.resources[i];
        let location = self.m.p.files[r.decl.file].header(r.decl.start);
        let mut instances = Vec::new();
        let table = self.expand_with(&r.body, |suffix, s, maybe| {
            let address = format!("{}{}{suffix}", self.prefix, r.base);
            let value = eval_body(&r.body, s);
            let mut seen = match &value {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            seen.extend(computed(r.kind, r.rtype, &address, &value));
            instances.push(Instance {
                kind: r.kind.to_owned(),
                rtype: r.rtype.to_owned(),
                address,
                value,
                location: location.clone(),
                maybe: self.maybe.clone().or_else(|| {
                    maybe.map(|why| Maybe {
                        why,
                        at: location.clone(),
                    })
                }),
                attributes: Vec::new(),
            });
            Value::Object(seen)
        });
        Done {
            instances,
            unread: Vec::new(),
            table,
        }
    }

    /// One `module` block, expanded by `count` / `for_each`: each instance of a local module
    /// evaluated with the block's arguments as its variables.
    fn expand_call(&self, i: usize) -> Done {
        let c = &self.m.calls[i];
        let location = self.m.p.files[c.decl.file].header(c.decl.start);
        let mut instances = Vec::new();
        let mut unread = Vec::new();
        let table = self.expand_with(&c.body, |suffix, s, maybe| {
            let address = format!("{}module.{}{suffix}", self.prefix, c.name);
            let maybe = self.maybe.clone().or_else(|| {
                maybe.map(|why| Maybe {
                    why: format!("{}module.{}: {why}", self.prefix, c.name),
                    at: location.clone(),
                })
            });
            let mut args = Map::new();
            for attr in c.body.attributes() {
                if !CALL_META.contains(&attr.key()) {
                    args.insert(attr.key().to_owned(), or_unknown(eval(attr.expr(), s)));
                }
            }
            self.instance_of_call(
                c,
                address,
                args,
                maybe,
                &location,
                &mut instances,
                &mut unread,
            )
        });
        Done {
            instances,
            unread,
            table,
        }
    }

    /// One instance of a module call: a local module evaluated with `args` as its variables, or
    /// the call itself when the scan cannot read the module. Returns what references see of it.
    #[allow(clippy::too_many_arguments)]
    fn instance_of_call(
        &self,
        c: &Call<'_>,
        address: String,
        args: Map<String, Value>,
        maybe: Option<Maybe>,
        location: &SourceLocation,
        instances: &mut Vec<Instance>,
        unread: &mut Vec<UnreadCall>,
    ) -> Value {
        let dir = match &c.source {
            Source::Remote(source) => {
                let seen = unknown(format!(
                    "{address} calls a module the scan cannot read ({source}): its outputs are unknown"
                ));
                instances.push(Instance {
                    kind: "module".to_owned(),
                    rtype: source.clone(),
                    address,
                    value: Value::Object(args),
                    location: location.clone(),
                    maybe,
                    attributes: c.attributes.clone(),
                });
                return seen;
            }
            Source::Invalid(why) => Err(("", why.clone())),
            Source::Local(dir) => match self.catalog.get(dir) {
                None => Err((
                    dir.as_str(),
                    "the called module was not scanned (add its directory to the paths)".into(),
                )),
                Some(_) if self.stack.contains(dir) => Err((
                    dir.as_str(),
                    format!("module call cycle: {dir} calls itself"),
                )),
                Some(_) if self.stack.len() >= MAX_MODULE_DEPTH => Err((
                    dir.as_str(),
                    format!("module calls nested more than {MAX_MODULE_DEPTH} deep"),
                )),
                Some(child) => match self.budget.exhausted() {
                    Some(why) => Err((dir.as_str(), why)),
                    None => Ok((dir, child)),
                },
            },
        };
        let (dir, child) = match dir {
            Ok(found) => found,
            Err((dir, why)) => {
                let seen = unknown(format!("the outputs of {address} are unknown: {why}"));
                unread.push(UnreadCall {
                    address,
                    dir: dir.to_owned(),
                    location: location.clone(),
                    maybe,
                    why,
                });
                return seen;
            }
        };
        let mut stack = self.stack.clone();
        stack.push(dir.clone());
        let root = value::get(&self.path, "root")
            .and_then(value::as_str)
            .unwrap_or(".")
            .to_owned();
        let module = Module::new(
            child,
            self.catalog,
            Rc::clone(&self.budget),
            &Inputs::Caller {
                call: address.clone(),
                args,
            },
            format!("{address}."),
            stack,
            maybe,
            &root,
        );
        let done = module.finish();
        instances.extend(done.instances);
        unread.extend(done.unread);
        done.outputs
    }

    /// `address` followed by `ops`, in `table`: an attribute the code does not set is computed by
    /// the provider, so unknown rather than an error, when `computed`.
    fn lookup(
        table: &Table,
        address: &str,
        ops: &[TraversalOperator],
        s: &Scope<'_>,
        computed: bool,
    ) -> Eval {
        let attr = |v: &Value, ops: &[TraversalOperator]| match (ops.first(), v) {
            (Some(TraversalOperator::GetAttr(a)), Value::Object(m))
                if computed && !m.contains_key(a.as_str()) =>
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
        match table {
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

    fn resource(&self, address: &str, ops: &[TraversalOperator], s: &Scope<'_>) -> Eval {
        let Some(&i) = self.m.by_address.get(address) else {
            return Err(format!("{address} is not declared"));
        };
        match self.done(i) {
            Ok(done) => Self::lookup(&done.table, address, ops, s, true),
            Err(why) => Ok(unknown(why)),
        }
    }

    /// `module.name` followed by `ops`: the outputs of its instances.
    fn module_output(&self, name: &str, ops: &[TraversalOperator], s: &Scope<'_>) -> Eval {
        let address = format!("module.{name}");
        let Some(&i) = self.m.call_by_name.get(name) else {
            return Err(format!("{address} is not declared"));
        };
        match self.call_done(i) {
            Ok(done) => Self::lookup(&done.table, &address, ops, s, false),
            Err(why) => Ok(unknown(why)),
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
            "module" => match attr(0) {
                Some(m) => self.module_output(m, &ops[1..], s),
                None => Err("module needs a name".into()),
            },
            "self" => Ok(unknown("self is only known after apply")),
            t if self.m.resource_types.contains(t) => match attr(0) {
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

/// A module evaluated on its own, as a root module: its variables from `*.tfvars` and defaults
/// (unknown where neither gives one), and every local module it calls evaluated as an instance
/// with the call's arguments, its resources under their full addresses (`module.a.aws_kms_key.x`).
pub(crate) fn evaluate(m: &Prepared<'_>, catalog: &Catalog<'_>, budget: Budget) -> ModuleFacts {
    let p = m.p;
    let module = Module::new(
        m,
        catalog,
        Rc::new(budget),
        &Inputs::Root,
        String::new(),
        vec![p.dir.clone()],
        None,
        &p.dir,
    );
    let mut region = None;
    let mut account = None;
    let mut default_tags = None;
    {
        let scope = module.scope();
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
    }
    let location = p
        .files
        .first()
        .map(|f| f.header(0))
        .unwrap_or_else(|| crate::files::whole_file(Path::new(&p.dir)));
    let done = module.finish();
    ModuleFacts {
        path: p.dir.clone(),
        location,
        instances: done.instances,
        unread: done.unread,
        region: region.and_then(|r| match value::resolve(&r) {
            Resolved::Known(Value::String(s)) => Some(s.clone()),
            _ => None,
        }),
        account,
        default_tags,
        calls: m.local_calls().into_iter().map(|(dir, _)| dir).collect(),
    }
}
