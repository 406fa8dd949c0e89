//! HCL expressions to values, with what is only known after apply propagated as Terraform does.
//!
//! A result is `Err` when evaluation definitely fails (what `try` and `can` look for), and an
//! unknown marker (see [`crate::value`]) when the value cannot be known here. Every operator and
//! function needs its inputs known: given an unknown, it returns an unknown. Only assignment,
//! templates and the functions that merely carry a value along (`jsonencode`, `format`, `join`,
//! `merge`, `concat`, `lookup`…) keep a marker inside what they build, so a reference still leads
//! the inventory to its resource.

use hcl::expr::{
    BinaryOperator, Conditional, Expression, ForExpr, FuncCall, ObjectKey, Operation, TemplateExpr,
    TraversalOperator, UnaryOperator,
};
use hcl::template::{Directive, Element, Template};
use hcl::{Map, Number, Value};

use super::funcs;
use crate::value::{deep_unknown_reason, unknown, unknown_reason};

/// `Err` is a definite evaluation error; an unknown is `Ok(marker)`.
pub(crate) type Eval = Result<Value, String>;

/// What the names at the top of a module resolve to: `var`, `local`, resources, `data`…
pub(crate) trait Roots {
    /// `name` followed by `ops`, or `None` when `name` is not one of these names.
    fn root(&self, name: &str, ops: &[TraversalOperator], scope: &Scope<'_>) -> Option<Eval>;
}

/// Names in scope: bindings (`count`, `each`, iterators, `for` variables, template variables)
/// over the module's roots.
pub(crate) struct Scope<'a> {
    roots: Option<&'a dyn Roots>,
    /// The module's directory, for `file` and `templatefile`.
    pub(crate) dir: &'a str,
    /// Inside `templatefile`, which Terraform does not let call itself.
    pub(crate) in_template: bool,
    bindings: Vec<(String, Value)>,
    parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    pub(crate) fn module(roots: &'a dyn Roots, dir: &'a str) -> Self {
        Scope {
            roots: Some(roots),
            dir,
            in_template: false,
            bindings: Vec::new(),
            parent: None,
        }
    }

    /// Only `bindings`: a template file's variables, or a `.tfvars` file's (none).
    pub(crate) fn isolated(dir: &'a str, bindings: Vec<(String, Value)>) -> Self {
        Scope {
            roots: None,
            dir,
            in_template: true,
            bindings,
            parent: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn outside_template(self) -> Self {
        Scope {
            in_template: false,
            ..self
        }
    }

    pub(crate) fn with(&'a self, bindings: Vec<(String, Value)>) -> Scope<'a> {
        Scope {
            roots: self.roots,
            dir: self.dir,
            in_template: self.in_template,
            bindings,
            parent: Some(self),
        }
    }

    fn binding(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.parent.and_then(|p| p.binding(name)))
    }
}

pub(crate) fn eval(e: &Expression, s: &Scope<'_>) -> Eval {
    match e {
        Expression::Null => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b)),
        Expression::Number(n) => Ok(Value::Number(*n)),
        Expression::String(st) => Ok(Value::String(st.clone())),
        Expression::Array(items) => items
            .iter()
            .map(|i| eval(i, s))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Expression::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                let key = match k {
                    ObjectKey::Identifier(id) => id.as_str().to_owned(),
                    ObjectKey::Expression(e) => {
                        let k = eval(e, s)?;
                        if let Some(why) = unknown_reason(&k) {
                            return Ok(unknown(why));
                        }
                        to_string(&k)?
                    }
                    _ => return Err("unsupported object key".into()),
                };
                out.insert(key, eval(v, s)?);
            }
            Ok(Value::Object(out))
        }
        Expression::TemplateExpr(t) => template_expr(t, s),
        Expression::Variable(v) => root(v.as_str(), &[], s),
        Expression::Traversal(t) => match &t.expr {
            Expression::Variable(v) => root(v.as_str(), &t.operators, s),
            other => traverse(&eval(other, s)?, &t.operators, s),
        },
        Expression::FuncCall(f) => call(f, s),
        Expression::Parenthesis(e) => eval(e, s),
        Expression::Conditional(c) => conditional(c, s),
        Expression::Operation(op) => operation(op, s),
        Expression::ForExpr(f) => for_expr(f, s),
        _ => Ok(unknown("an expression this evaluator does not know")),
    }
}

fn root(name: &str, ops: &[TraversalOperator], s: &Scope<'_>) -> Eval {
    if let Some(v) = s.binding(name) {
        return traverse(v, ops, s);
    }
    s.roots
        .and_then(|r| r.root(name, ops, s))
        .unwrap_or_else(|| Err(format!("unknown name {name}")))
}

/// An element of a collection by its key or index.
pub(crate) enum Found<'v> {
    Value(&'v Value),
    Unknown(String),
}

pub(crate) fn index<'v>(v: &'v Value, key: &Value) -> Result<Found<'v>, String> {
    if let Some(why) = unknown_reason(v).or_else(|| unknown_reason(key)) {
        return Ok(Found::Unknown(why));
    }
    match v {
        Value::Array(items) => {
            let i = to_number(key)?
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| format!("index {key} is not a whole number"))?;
            items
                .get(i)
                .map(Found::Value)
                .ok_or_else(|| format!("index {i} out of range"))
        }
        Value::Object(m) => {
            let k = to_string(key)?;
            m.get(&k)
                .map(Found::Value)
                .ok_or_else(|| format!("no element \"{k}\""))
        }
        Value::Null => Err("index into null".into()),
        _ => Err("index into a value that is not a collection".into()),
    }
}

/// `v` followed by attribute accesses, indexes and splats.
pub(crate) fn traverse(v: &Value, ops: &[TraversalOperator], s: &Scope<'_>) -> Eval {
    let Some((op, rest)) = ops.split_first() else {
        return Ok(v.clone());
    };
    if let Some(why) = unknown_reason(v) {
        return Ok(unknown(why));
    }
    let found = match op {
        TraversalOperator::GetAttr(id) => match v {
            Value::Object(m) => Found::Value(
                m.get(id.as_str())
                    .ok_or_else(|| format!("no attribute \"{id}\""))?,
            ),
            Value::Null => return Err(format!("attribute \"{id}\" of null")),
            _ => {
                return Err(format!(
                    "attribute \"{id}\" of a value that is not an object"
                ))
            }
        },
        TraversalOperator::Index(e) => index(v, &eval(e, s)?)?,
        TraversalOperator::LegacyIndex(i) => index(v, &Value::from(*i))?,
        TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
            let items: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                Value::Null => Vec::new(),
                other => vec![other],
            };
            // `.*` applies the attribute accesses after it to each element; `[*]` everything.
            let split = match op {
                TraversalOperator::AttrSplat => rest
                    .iter()
                    .position(|o| !matches!(o, TraversalOperator::GetAttr(_)))
                    .unwrap_or(rest.len()),
                _ => rest.len(),
            };
            let (each, after) = rest.split_at(split);
            let out = items
                .into_iter()
                .map(|i| traverse(i, each, s))
                .collect::<Result<Vec<_>, _>>()?;
            return traverse(&Value::Array(out), after, s);
        }
    };
    match found {
        Found::Value(x) => traverse(x, rest, s),
        Found::Unknown(why) => Ok(unknown(why)),
    }
}

fn call(f: &FuncCall, s: &Scope<'_>) -> Eval {
    let name = f.name.name.as_str();
    if f.name.is_namespaced() {
        let ns: Vec<&str> = f.name.namespace.iter().map(|n| n.as_str()).collect();
        return Ok(unknown(format!(
            "function {}::{name} is not evaluated",
            ns.join("::")
        )));
    }
    match name {
        "try" => {
            for a in &f.args {
                if let Ok(v) = eval(a, s) {
                    return Ok(v);
                }
            }
            return Err("no argument of try evaluated without an error".into());
        }
        "can" => {
            let a = f.args.first().ok_or("can takes one argument")?;
            return Ok(match eval(a, s) {
                Ok(v) => match unknown_reason(&v) {
                    Some(why) => unknown(why),
                    None => Value::Bool(true),
                },
                Err(_) => Value::Bool(false),
            });
        }
        _ => {}
    }
    let mut args = f
        .args
        .iter()
        .map(|a| eval(a, s))
        .collect::<Result<Vec<_>, _>>()?;
    if f.expand_final {
        match args.pop() {
            Some(Value::Array(items)) => args.extend(items),
            Some(last) => {
                return Ok(unknown(unknown_reason(&last).unwrap_or_else(|| {
                    format!("{name}: the expanded argument is not a list")
                })))
            }
            None => {}
        }
    }
    funcs::call(name, args, s)
}

fn conditional(c: &Conditional, s: &Scope<'_>) -> Eval {
    match to_bool(&eval(&c.cond_expr, s)?)? {
        Known::Yes(true) => eval(&c.true_expr, s),
        Known::Yes(false) => eval(&c.false_expr, s),
        Known::No(why) => match (eval(&c.true_expr, s), eval(&c.false_expr, s)) {
            (Ok(a), Ok(b)) if a == b => Ok(a),
            _ => Ok(unknown(why)),
        },
    }
}

/// A value, or why it is unknown.
pub(crate) enum Known<T> {
    Yes(T),
    No(String),
}

pub(crate) fn to_bool(v: &Value) -> Result<Known<bool>, String> {
    if let Some(why) = unknown_reason(v) {
        return Ok(Known::No(why));
    }
    match v {
        Value::Bool(b) => Ok(Known::Yes(*b)),
        Value::String(s) if s == "true" => Ok(Known::Yes(true)),
        Value::String(s) if s == "false" => Ok(Known::Yes(false)),
        other => Err(format!("{other} is not a bool")),
    }
}

pub(crate) fn to_number(v: &Value) -> Result<Number, String> {
    match v {
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .parse::<i64>()
            .map(Number::from)
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(Number::from_f64))
            .ok_or_else(|| format!("\"{s}\" is not a number")),
        other => Err(format!("{other} is not a number")),
    }
}

/// A primitive as Terraform converts it to a string.
pub(crate) fn to_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("null where a string is needed".into()),
        _ => Err("a collection where a string is needed".into()),
    }
}

/// Equality as Terraform compares values: numbers by value, no conversion between types.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| equal(a, b)))
        }
        _ => a == b,
    }
}

fn operation(op: &Operation, s: &Scope<'_>) -> Eval {
    match op {
        Operation::Unary(u) => {
            let v = eval(&u.expr, s)?;
            if let Some(why) = unknown_reason(&v) {
                return Ok(unknown(why));
            }
            match u.operator {
                UnaryOperator::Not => match to_bool(&v)? {
                    Known::Yes(b) => Ok(Value::Bool(!b)),
                    Known::No(why) => Ok(unknown(why)),
                },
                UnaryOperator::Neg => Ok(Value::Number(-to_number(&v)?)),
            }
        }
        Operation::Binary(b) => {
            let l = eval(&b.lhs_expr, s)?;
            let r = eval(&b.rhs_expr, s)?;
            binary(b.operator, &l, &r)
        }
    }
}

pub(crate) fn binary(op: BinaryOperator, l: &Value, r: &Value) -> Eval {
    use BinaryOperator as B;
    match op {
        B::And | B::Or => {
            let (l, r) = (to_bool(l)?, to_bool(r)?);
            // A definite operand decides on its own, whatever the other is.
            let decisive = op == B::Or;
            if matches!(l, Known::Yes(b) if b == decisive)
                || matches!(r, Known::Yes(b) if b == decisive)
            {
                return Ok(Value::Bool(decisive));
            }
            match (l, r) {
                (Known::No(why), _) | (_, Known::No(why)) => Ok(unknown(why)),
                (Known::Yes(_), Known::Yes(_)) => Ok(Value::Bool(!decisive)),
            }
        }
        B::Eq | B::NotEq => {
            if let Some(why) = deep_unknown_reason(l).or_else(|| deep_unknown_reason(r)) {
                return Ok(unknown(why));
            }
            Ok(Value::Bool(equal(l, r) == (op == B::Eq)))
        }
        _ => {
            if let Some(why) = unknown_reason(l).or_else(|| unknown_reason(r)) {
                return Ok(unknown(why));
            }
            let (x, y) = (to_number(l)?, to_number(r)?);
            let (fx, fy) = (
                x.as_f64().ok_or("not a number")?,
                y.as_f64().ok_or("not a number")?,
            );
            let ints = x.as_i64().zip(y.as_i64());
            let num = |f: f64| {
                Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("{} does not give a number", op.as_str()))
            };
            match op {
                B::Less => Ok(Value::Bool(fx < fy)),
                B::LessEq => Ok(Value::Bool(fx <= fy)),
                B::Greater => Ok(Value::Bool(fx > fy)),
                B::GreaterEq => Ok(Value::Bool(fx >= fy)),
                B::Plus => ints
                    .and_then(|(a, b)| a.checked_add(b))
                    .map_or_else(|| num(fx + fy), |n| Ok(Value::from(n))),
                B::Minus => ints
                    .and_then(|(a, b)| a.checked_sub(b))
                    .map_or_else(|| num(fx - fy), |n| Ok(Value::from(n))),
                B::Mul => ints
                    .and_then(|(a, b)| a.checked_mul(b))
                    .map_or_else(|| num(fx * fy), |n| Ok(Value::from(n))),
                B::Div if fy == 0.0 => Err("division by zero".into()),
                B::Div => match ints {
                    Some((a, b)) if a % b == 0 => Ok(Value::from(a / b)),
                    _ => num(fx / fy),
                },
                B::Mod if fy == 0.0 => Err("modulo by zero".into()),
                B::Mod => match ints {
                    Some((a, b)) => Ok(Value::from(a % b)),
                    None => num(fx % fy),
                },
                _ => Err(format!("operator {} is not evaluated", op.as_str())),
            }
        }
    }
}

/// The `(key, value)` pairs a collection iterates over: indexes of a list, keys of an object.
pub(crate) fn pairs(v: &Value) -> Result<Known<Vec<(Value, &Value)>>, String> {
    if let Some(why) = unknown_reason(v) {
        return Ok(Known::No(why));
    }
    match v {
        Value::Array(items) => Ok(Known::Yes(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as u64), v))
                .collect(),
        )),
        Value::Object(m) => Ok(Known::Yes(
            m.iter().map(|(k, v)| (Value::from(k.clone()), v)).collect(),
        )),
        Value::Null => Err("iterating over null".into()),
        _ => Err("iterating over a value that is not a collection".into()),
    }
}

fn for_expr(f: &ForExpr, s: &Scope<'_>) -> Eval {
    let coll = eval(&f.collection_expr, s)?;
    let items = match pairs(&coll)? {
        Known::Yes(items) => items,
        Known::No(why) => return Ok(unknown(why)),
    };
    let mut list = Vec::new();
    let mut object: Map<String, Value> = Map::new();
    for (k, v) in items {
        let mut bindings = vec![(f.value_var.as_str().to_owned(), v.clone())];
        if let Some(kv) = &f.key_var {
            bindings.push((kv.as_str().to_owned(), k));
        }
        let child = s.with(bindings);
        if let Some(cond) = &f.cond_expr {
            match to_bool(&eval(cond, &child)?)? {
                Known::Yes(true) => {}
                Known::Yes(false) => continue,
                Known::No(why) => return Ok(unknown(why)),
            }
        }
        let value = eval(&f.value_expr, &child)?;
        match &f.key_expr {
            None => list.push(value),
            Some(ke) => {
                let key = eval(ke, &child)?;
                if let Some(why) = unknown_reason(&key) {
                    return Ok(unknown(why));
                }
                let key = to_string(&key)?;
                if f.grouping {
                    if let Value::Array(group) = object
                        .entry(key)
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        group.push(value);
                    }
                } else if object.insert(key.clone(), value).is_some() {
                    return Err(format!("duplicate key \"{key}\" in a for expression"));
                }
            }
        }
    }
    Ok(if f.key_expr.is_some() {
        Value::Object(object)
    } else {
        Value::Array(list)
    })
}

fn template_expr(t: &TemplateExpr, s: &Scope<'_>) -> Eval {
    let tpl = Template::from_expr(t).map_err(|e| e.to_string())?;
    template(&tpl, s)
}

/// Why rendering a template stopped.
enum Stop {
    Error(String),
    Unknown(String),
}

impl From<String> for Stop {
    fn from(e: String) -> Self {
        Stop::Error(e)
    }
}

pub(crate) fn template(t: &Template, s: &Scope<'_>) -> Eval {
    // A template that is one interpolation is that value, unconverted.
    if let [Element::Interpolation(i)] = t.elements() {
        return eval(&i.expr, s);
    }
    let mut out = String::new();
    let mut strip_next = false;
    match render(t, s, &mut out, &mut strip_next) {
        Ok(()) => Ok(Value::String(out)),
        Err(Stop::Error(e)) => Err(e),
        Err(Stop::Unknown(why)) => Ok(unknown(why)),
    }
}

fn trim_end(out: &mut String) {
    out.truncate(out.trim_end().len());
}

fn render(t: &Template, s: &Scope<'_>, out: &mut String, strip: &mut bool) -> Result<(), Stop> {
    for el in t.elements() {
        match el {
            Element::Literal(l) => {
                out.push_str(if *strip { l.trim_start() } else { l });
                *strip = false;
            }
            Element::Interpolation(i) => {
                if i.strip.strip_start() {
                    trim_end(out);
                }
                // An unknown part stays in the string as its marker: the string is unknown.
                out.push_str(&to_string(&eval(&i.expr, s)?)?);
                *strip = i.strip.strip_end();
            }
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    if d.if_strip.strip_start() {
                        trim_end(out);
                    }
                    *strip = d.if_strip.strip_end();
                    match to_bool(&eval(&d.cond_expr, s)?)? {
                        Known::Yes(true) => {
                            render(&d.true_template, s, out, strip)?;
                            if d.else_strip.strip_start() || d.endif_strip.strip_start() {
                                trim_end(out);
                            }
                        }
                        Known::Yes(false) => {
                            *strip = d.else_strip.strip_end();
                            if let Some(f) = &d.false_template {
                                render(f, s, out, strip)?;
                            }
                            if d.endif_strip.strip_start() {
                                trim_end(out);
                            }
                        }
                        Known::No(why) => return Err(Stop::Unknown(why)),
                    }
                    *strip = d.endif_strip.strip_end();
                }
                Directive::For(d) => {
                    if d.for_strip.strip_start() {
                        trim_end(out);
                    }
                    let coll = eval(&d.collection_expr, s)?;
                    let items = match pairs(&coll)? {
                        Known::Yes(items) => items,
                        Known::No(why) => return Err(Stop::Unknown(why)),
                    };
                    for (k, v) in items {
                        let mut bindings = vec![(d.value_var.as_str().to_owned(), v.clone())];
                        if let Some(kv) = &d.key_var {
                            bindings.push((kv.as_str().to_owned(), k));
                        }
                        *strip = d.for_strip.strip_end();
                        render(&d.template, &s.with(bindings), out, strip)?;
                        if d.endfor_strip.strip_start() {
                            trim_end(out);
                        }
                    }
                    *strip = d.endfor_strip.strip_end();
                }
            },
        }
    }
    Ok(())
}
