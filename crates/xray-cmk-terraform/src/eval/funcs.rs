//! Terraform's built-in functions that modules use to build names, policies and settings. Each
//! needs its inputs known and returns unknown otherwise; a function not listed here is unknown,
//! naming it, never a guess.

use std::io::Read;
use std::path::Path;

use hcl::{Map, Number, Value};

use super::expr::{self, equal, to_bool, to_number, to_string, Eval, Known, Scope};
use crate::value::{self, deep_unknown_reason, opaque_reason, unknown, unknown_reason};

/// The largest file `file` and `templatefile` read.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Returns early with an unknown when `$v` is not known (at its top level).
macro_rules! known {
    ($v:expr) => {
        if let Some(why) = unknown_reason($v) {
            return Ok(unknown(why));
        }
    };
}

/// Returns early with an unknown when anything inside `$v` is not known.
macro_rules! deep_known {
    ($v:expr) => {
        if let Some(why) = deep_unknown_reason($v) {
            return Ok(unknown(why));
        }
    };
}

fn is_reference(v: &Value) -> bool {
    matches!(value::resolve(v), value::Resolved::Ref(_))
}

fn arg<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a Value, String> {
    args.get(i)
        .ok_or_else(|| format!("{name}: missing argument {}", i + 1))
}

fn list<'a>(name: &str, v: &'a Value) -> Result<&'a [Value], String> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(format!("{name}: expected a list")),
    }
}

fn object<'a>(name: &str, v: &'a Value) -> Result<&'a Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(format!("{name}: expected an object or map")),
    }
}

fn string(name: &str, v: &Value) -> Result<String, String> {
    to_string(v).map_err(|e| format!("{name}: {e}"))
}

pub(crate) fn call(name: &str, args: Vec<Value>, s: &Scope<'_>) -> Eval {
    let a = |i: usize| arg(name, &args, i);
    match name {
        "jsonencode" => Ok(Value::String(value::jsonencode(a(0)?))),
        "jsondecode" => {
            known!(a(0)?);
            let text = string(name, a(0)?)?;
            serde_json::from_str::<serde_json::Value>(&text)
                .map(|v| value::from_json(&v))
                .map_err(|e| format!("jsondecode: {e}"))
        }
        "merge" => {
            let mut out = Map::new();
            for v in &args {
                known!(v);
                match v {
                    Value::Null => {}
                    Value::Object(m) => out.extend(m.clone()),
                    _ => return Err("merge: expected objects or maps".into()),
                }
            }
            Ok(Value::Object(out))
        }
        "concat" => {
            let mut out = Vec::new();
            for v in &args {
                known!(v);
                out.extend_from_slice(list(name, v)?);
            }
            Ok(Value::Array(out))
        }
        "flatten" => {
            fn go(v: &Value, out: &mut Vec<Value>) -> Result<(), String> {
                // An unknown of unknown type may be a list: where its elements go is unknown.
                if let Some(why) = opaque_reason(v) {
                    return Err(why);
                }
                match v {
                    Value::Array(items) => items.iter().try_for_each(|i| go(i, out)),
                    other => {
                        out.push(other.clone());
                        Ok(())
                    }
                }
            }
            known!(a(0)?);
            let mut out = Vec::new();
            for v in list(name, a(0)?)? {
                if let Err(why) = go(v, &mut out) {
                    return Ok(unknown(why));
                }
            }
            Ok(Value::Array(out))
        }
        "length" => {
            let v = a(0)?;
            known!(v);
            match v {
                Value::Array(items) => Ok(Value::from(items.len() as u64)),
                Value::Object(m) => Ok(Value::from(m.len() as u64)),
                Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
                _ => Err("length: expected a collection or a string".into()),
            }
        }
        "lookup" => {
            let (m, k) = (a(0)?, a(1)?);
            known!(m);
            known!(k);
            let k = string(name, k)?;
            match object(name, m)?.get(&k).or(args.get(2)) {
                Some(v) => Ok(v.clone()),
                None => Err(format!("lookup: no key \"{k}\"")),
            }
        }
        "element" => {
            let (l, i) = (a(0)?, a(1)?);
            known!(l);
            known!(i);
            let items = list(name, l)?;
            let i = to_number(i)?
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or("element: the index is not a whole number")?;
            if items.is_empty() {
                return Err("element: empty list".into());
            }
            Ok(items[i % items.len()].clone())
        }
        "one" => {
            let v = a(0)?;
            known!(v);
            match list(name, v)? {
                [] => Ok(Value::Null),
                [one] => Ok(one.clone()),
                _ => Err("one: more than one element".into()),
            }
        }
        "keys" | "values" => {
            let v = a(0)?;
            known!(v);
            let mut entries: Vec<(&String, &Value)> = object(name, v)?.iter().collect();
            if entries.iter().any(|(k, _)| k.contains('\u{1}')) {
                return Ok(unknown("a key is only known after apply"));
            }
            entries.sort_by(|x, y| x.0.cmp(y.0));
            Ok(Value::Array(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        if name == "keys" {
                            Value::from(k.clone())
                        } else {
                            v.clone()
                        }
                    })
                    .collect(),
            ))
        }
        "contains" => {
            let (l, v) = (a(0)?, a(1)?);
            deep_known!(l);
            deep_known!(v);
            Ok(Value::Bool(list(name, l)?.iter().any(|x| equal(x, v))))
        }
        "startswith" | "endswith" => {
            let (x, p) = (a(0)?, a(1)?);
            known!(x);
            known!(p);
            let (x, p) = (string(name, x)?, string(name, p)?);
            Ok(Value::Bool(if name == "startswith" {
                x.starts_with(&p)
            } else {
                x.ends_with(&p)
            }))
        }
        "replace" => {
            let (x, sub, rep) = (a(0)?, a(1)?, a(2)?);
            known!(x);
            known!(sub);
            known!(rep);
            let (x, sub, rep) = (string(name, x)?, string(name, sub)?, string(name, rep)?);
            if sub.len() >= 2 && sub.starts_with('/') && sub.ends_with('/') {
                return Ok(unknown(
                    "function replace with a regular expression is not evaluated",
                ));
            }
            Ok(Value::String(x.replace(&sub, &rep)))
        }
        "coalesce" => {
            for v in &args {
                // A computed attribute (an ARN, an id) is never null nor empty: it is the answer.
                if is_reference(v) {
                    return Ok(v.clone());
                }
                known!(v);
                match v {
                    Value::Null => {}
                    Value::String(s) if s.is_empty() => {}
                    other => return Ok(other.clone()),
                }
            }
            Err("coalesce: no non-null, non-empty argument".into())
        }
        "compact" => {
            let l = a(0)?;
            known!(l);
            let mut out = Vec::new();
            for v in list(name, l)? {
                if !is_reference(v) {
                    known!(v);
                }
                match v {
                    Value::Null => {}
                    Value::String(s) if s.is_empty() => {}
                    other => out.push(other.clone()),
                }
            }
            Ok(Value::Array(out))
        }
        "distinct" | "toset" => {
            let l = a(0)?;
            if name == "toset" && matches!(l, Value::Null) {
                return Ok(Value::Null);
            }
            deep_known!(l);
            let mut out: Vec<Value> = Vec::new();
            for v in list(name, l)? {
                if !out.iter().any(|x| equal(x, v)) {
                    out.push(v.clone());
                }
            }
            // Terraform orders a set of strings lexically.
            if name == "toset" && out.iter().all(|v| matches!(v, Value::String(_))) {
                out.sort_by(|x, y| value::as_str(x).cmp(&value::as_str(y)));
            }
            Ok(Value::Array(out))
        }
        "tolist" => {
            let v = a(0)?;
            known!(v);
            match v {
                Value::Array(_) | Value::Null => Ok(v.clone()),
                _ => Err("tolist: expected a list or set".into()),
            }
        }
        "tomap" => {
            let v = a(0)?;
            known!(v);
            match v {
                Value::Object(_) | Value::Null => Ok(v.clone()),
                _ => Err("tomap: expected an object or map".into()),
            }
        }
        "zipmap" => {
            let (k, v) = (a(0)?, a(1)?);
            deep_known!(k);
            known!(v);
            let (keys, values) = (list(name, k)?, list(name, v)?);
            if keys.len() != values.len() {
                return Err("zipmap: the lists differ in length".into());
            }
            let mut out = Map::new();
            for (k, v) in keys.iter().zip(values) {
                out.insert(string(name, k)?, v.clone());
            }
            Ok(Value::Object(out))
        }
        "format" => {
            let spec = a(0)?;
            known!(spec);
            format(&string(name, spec)?, &args[1..])
        }
        "join" => {
            let sep = a(0)?;
            known!(sep);
            let sep = string(name, sep)?;
            let mut parts = Vec::new();
            for l in &args[1..] {
                known!(l);
                for v in list(name, l)? {
                    // An unknown element stays in the string as its marker.
                    parts.push(string(name, v)?);
                }
            }
            Ok(Value::String(parts.join(&sep)))
        }
        "split" => {
            let (sep, x) = (a(0)?, a(1)?);
            known!(sep);
            known!(x);
            let (sep, x) = (string(name, sep)?, string(name, x)?);
            if sep.is_empty() {
                return Err("split: empty separator".into());
            }
            Ok(Value::Array(x.split(&sep).map(Value::from).collect()))
        }
        "lower" | "upper" => {
            let x = a(0)?;
            known!(x);
            let x = string(name, x)?;
            Ok(Value::String(if name == "lower" {
                x.to_lowercase()
            } else {
                x.to_uppercase()
            }))
        }
        "tostring" => match a(0)? {
            // A string, even one only known after apply, is itself.
            v @ (Value::String(_) | Value::Null) => Ok(v.clone()),
            v => string(name, v).map(Value::String),
        },
        "tonumber" => {
            let v = a(0)?;
            known!(v);
            match v {
                Value::Null => Ok(Value::Null),
                v => to_number(v).map(Value::Number),
            }
        }
        "tobool" => {
            let v = a(0)?;
            if matches!(v, Value::Null) {
                return Ok(Value::Null);
            }
            match to_bool(v)? {
                Known::Yes(b) => Ok(Value::Bool(b)),
                Known::No(why) => Ok(unknown(why)),
            }
        }
        "max" | "min" => {
            if args.is_empty() {
                return Err(format!("{name}: no arguments"));
            }
            let mut best: Option<Number> = None;
            for v in &args {
                known!(v);
                let n = to_number(v)?;
                let better = best.is_none_or(|b| {
                    let (n, b) = (n.as_f64(), b.as_f64());
                    if name == "max" {
                        n > b
                    } else {
                        n < b
                    }
                });
                if better {
                    best = Some(n);
                }
            }
            Ok(best.map_or(Value::Null, Value::Number))
        }
        "range" => {
            for v in &args {
                known!(v);
            }
            let nums: Vec<f64> = args
                .iter()
                .map(|v| {
                    to_number(v)?
                        .as_f64()
                        .filter(|f| f.is_finite())
                        .ok_or_else(|| "range: expected numbers".to_owned())
                })
                .collect::<Result<_, _>>()?;
            let (start, limit, step) = match nums.as_slice() {
                [limit] => (0.0, *limit, if *limit >= 0.0 { 1.0 } else { -1.0 }),
                [start, limit] => (*start, *limit, if limit >= start { 1.0 } else { -1.0 }),
                [start, limit, step] => (*start, *limit, *step),
                _ => return Err("range: expected 1 to 3 arguments".into()),
            };
            if step == 0.0 {
                return Err("range: step must not be zero".into());
            }
            // Terraform refuses a sequence of more than 1,024 numbers.
            const RANGE_LIMIT: usize = 1024;
            let mut out = Vec::new();
            let mut n = start;
            while (step > 0.0 && n < limit) || (step < 0.0 && n > limit) {
                if out.len() == RANGE_LIMIT {
                    return Err(format!(
                        "range: more than {RANGE_LIMIT} numbers, which Terraform refuses"
                    ));
                }
                out.push(number(n));
                n += step;
            }
            Ok(Value::Array(out))
        }
        "abs" => {
            let v = a(0)?;
            known!(v);
            let n = to_number(v)?;
            Ok(Value::Number(if n.as_f64().is_some_and(|f| f < 0.0) {
                -n
            } else {
                n
            }))
        }
        "file" => {
            let p = a(0)?;
            known!(p);
            Ok(read_file(s.dir, &string(name, p)?).map_or_else(unknown, Value::String))
        }
        "templatefile" => templatefile(&args, s),
        _ => Ok(unknown(format!("function {name} is not evaluated"))),
    }
}

/// `format` with the verbs real modules use: `%s`, `%d`, `%v`, `%q`, `%%`. Any other verb or a
/// flag is unknown.
fn format(spec: &str, args: &[Value]) -> Eval {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next();
        if verb == Some('%') {
            out.push('%');
            continue;
        }
        let v = next.next().ok_or("format: too few arguments")?;
        match verb {
            Some('s' | 'v') => out.push_str(&to_string(v)?),
            Some('d') => {
                known!(v);
                let n = to_number(v)?;
                out.push_str(&n.as_i64().ok_or("format: %d of a fraction")?.to_string());
            }
            Some('q') => out.push_str(&serde_json::Value::String(to_string(v)?).to_string()),
            other => {
                return Ok(unknown(format!(
                    "function format with %{} is not evaluated",
                    other.unwrap_or(' ')
                )))
            }
        }
    }
    Ok(Value::String(out))
}

/// `path` (relative paths are the module's) when it is a regular file of at most
/// [`MAX_FILE_BYTES`], else why not.
pub(crate) fn read_file(dir: &str, path: &str) -> Result<String, String> {
    let p = Path::new(path);
    let full = if p.is_absolute() || p.starts_with(dir) {
        p.to_path_buf()
    } else {
        Path::new(dir).join(p)
    };
    let why = |e: &dyn std::fmt::Display| format!("cannot read {path}: {e}");
    let meta = std::fs::metadata(&full).map_err(|e| why(&e))?;
    if !meta.is_file() {
        return Err(why(&"not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(why(&"larger than 1 MiB"));
    }
    let mut text = String::new();
    std::fs::File::open(&full)
        .map_err(|e| why(&e))?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| why(&e))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(why(&"larger than 1 MiB"));
    }
    Ok(text)
}

fn templatefile(args: &[Value], s: &Scope<'_>) -> Eval {
    let name = "templatefile";
    if s.in_template {
        return Err("templatefile cannot be called from a template".into());
    }
    let p = arg(name, args, 0)?;
    known!(p);
    let vars = args.get(1).cloned().unwrap_or(Value::Object(Map::new()));
    known!(&vars);
    let text = match read_file(s.dir, &string(name, p)?) {
        Ok(t) => t,
        Err(why) => return Ok(unknown(why)),
    };
    let tpl = text
        .parse::<hcl::template::Template>()
        .map_err(|e| format!("{name}: {e}"))?;
    let bindings = object(name, &vars)?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match expr::template(&tpl, &Scope::isolated(s.dir, bindings))? {
        v @ Value::String(_) => Ok(v),
        other => string(name, &other).map(Value::String),
    }
}

/// `n` as a value: an integer when it is one, as Terraform prints it.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation)]
        Value::from(n as i64)
    } else {
        hcl::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}
