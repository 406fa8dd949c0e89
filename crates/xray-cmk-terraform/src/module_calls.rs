//! A module's `module` blocks, for `tf-xray-encryption-missing`:
//! - a call of a module the scan cannot read (a registry, git or other remote `source`): the
//!   inputs whose names say they turn X-Ray tracing on, as the common modules document them;
//! - a call of a local module: whether it makes an instance (`count`, `for_each`), so what the
//!   called module declares is certain, absent (`count = 0`) or unknown.
//!
//! The evaluator does not expose `module` blocks, so they are read here from the parsed
//! declarations, with variables (defaults and `*.tfvars`) and locals as the only context:
//! anything else an argument refers to (a resource, a function) is unknown, never read as off.

use std::path::Path;

use hcl::edit::Span as _;
use hcl::eval::{Context, Evaluate};
use hcl::{Map, Value};
use xray_cmk_core::SourceLocation;

use crate::module::Parsed;
use crate::value::{self, resolve, Resolved};

/// What an input has to be for tracing to be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TurnsOn {
    /// The Lambda tracing mode `"Active"`.
    Active,
    True,
}

/// Inputs of remote modules read by name: `terraform-aws-modules/lambda/aws`'s `tracing_mode`,
/// the `tracing_config_mode` other Lambda modules take, the API Gateway and Step Functions
/// modules' `xray_tracing_enabled` / `tracing_enabled`, and `enable_xray_tracing`.
const TRACING_INPUTS: &[(&str, TurnsOn)] = &[
    ("tracing_mode", TurnsOn::Active),
    ("tracing_config_mode", TurnsOn::Active),
    ("xray_tracing_enabled", TurnsOn::True),
    ("tracing_enabled", TurnsOn::True),
    ("enable_xray_tracing", TurnsOn::True),
];

/// One tracing input of a remote module call.
#[derive(Debug, Clone)]
pub(crate) struct TracingInput {
    /// `module.lambda tracing_mode`.
    pub setting: String,
    /// `Ok(Some(shown))` when it turns tracing on (`= "Active"`), `Ok(None)` when it does not,
    /// `Err(why)` when it is unknown.
    pub on: Result<Option<String>, String>,
    pub location: SourceLocation,
}

/// The value, or an unknown saying why not: the unknown it was built from, when an operation on
/// an unknown failed (`var.x ? 1 : 0` with `var.x` unknown), so no marker shows in a message.
fn eval(expr: &hcl::edit::expr::Expression, ctx: &Context) -> Value {
    let expr: hcl::Expression = expr.clone().into();
    expr.evaluate(ctx).unwrap_or_else(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or("cannot evaluate");
        match resolve(&Value::String(first.to_owned())) {
            Resolved::Unknown(why) => value::unknown(why),
            _ => value::unknown(first),
        }
    })
}

/// One `module` block's call of a local module.
#[derive(Debug, Clone)]
pub(crate) struct LocalCall {
    /// `module.encryption`.
    pub name: String,
    /// The called module's directory, as the scan names modules.
    pub dir: String,
    /// Whether it makes instances: `Ok(false)` for `count = 0`, `Err(why)` when unknown.
    pub made: Result<bool, String>,
    pub location: SourceLocation,
}

/// What a module's `module` blocks say.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleCalls {
    pub tracing: Vec<TracingInput>,
    pub local: Vec<LocalCall>,
}

/// Enough for locals that refer to locals that refer to locals.
const LOCAL_PASSES: usize = 3;

/// `var` from the variables' values (`*.tfvars` over defaults; a variable without either is an
/// unknown that says so) and `local` from the locals.
fn variables(p: &Parsed) -> Context<'static> {
    let empty = Context::new();
    let mut tfvars = Map::new();
    for body in &p.tfvars {
        for attr in body.attributes() {
            tfvars.insert(attr.key.as_str().to_owned(), eval(&attr.value, &empty));
        }
    }
    let mut vars = Map::new();
    for d in p.decls.iter().filter(|d| d.kind == "variable") {
        let Some(name) = d.labels.first() else {
            continue;
        };
        let v = match (tfvars.get(name), d.body.get_attribute("default")) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => eval(&default.value, &empty),
            (None, None) => value::unknown(format!("var.{name} has no value")),
        };
        vars.insert(name.clone(), v);
    }
    let context = |locals: &Map<String, Value>| {
        let mut ctx = Context::new();
        ctx.declare_var("var", Value::Object(vars.clone()));
        ctx.declare_var("local", Value::Object(locals.clone()));
        ctx
    };
    let mut locals = Map::new();
    for _ in 0..LOCAL_PASSES {
        let ctx = context(&locals);
        for d in p.decls.iter().filter(|d| d.kind == "locals") {
            for attr in d.body.attributes() {
                locals.insert(attr.key.as_str().to_owned(), eval(&attr.value, &ctx));
            }
        }
    }
    context(&locals)
}

/// `dir/source` with `.` and `..` resolved lexically, as the scan names the called module's
/// directory (`../../x` from `.` stays `../../x`).
fn join_source(dir: &str, source: &str) -> String {
    crate::files::display(&crate::files::join_lexical(Path::new(dir), source))
}

/// Whether a source names a module the scan reads itself (a local directory).
fn is_local(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../")
}

/// Whether the call makes instances: `Ok(false)` for `count = 0` or an empty `for_each`.
fn instantiated(body: &hcl::edit::structure::Body, ctx: &Context) -> Result<bool, String> {
    if let Some(count) = body.get_attribute("count") {
        let v = eval(&count.value, ctx);
        return value::as_u32(&v)
            .map(|n| n > 0)
            .ok_or_else(|| match resolve(&v) {
                Resolved::Unknown(why) => format!("count is unknown: {why}"),
                _ => "count is unknown".to_owned(),
            });
    }
    if let Some(each) = body.get_attribute("for_each") {
        return match eval(&each.value, ctx) {
            Value::Object(m) => Ok(!m.is_empty()),
            Value::Array(items) => Ok(!items.is_empty()),
            v => Err(match resolve(&v) {
                Resolved::Unknown(why) => format!("for_each is unknown: {why}"),
                _ => "for_each is unknown".to_owned(),
            }),
        };
    }
    Ok(true)
}

fn judge(v: &Value, turns_on: TurnsOn) -> Result<Option<String>, String> {
    match resolve(v) {
        Resolved::Known(Value::Null) => Ok(None),
        Resolved::Known(v) => Ok(match turns_on {
            TurnsOn::Active => {
                (value::as_str(v) == Some("Active")).then(|| "\"Active\"".to_owned())
            }
            TurnsOn::True => (value::as_bool(v) == Some(true)).then(|| "true".to_owned()),
        }),
        Resolved::Unknown(why) => Err(why),
        Resolved::Ref(r) => Err(format!("refers to {r}, only known after apply")),
    }
}

/// What every `module` block of a module says.
pub(crate) fn read(p: &Parsed) -> ModuleCalls {
    let calls: Vec<_> = p
        .decls
        .iter()
        .filter(|d| d.kind == "module" && d.labels.len() == 1)
        .collect();
    let mut out = ModuleCalls::default();
    if calls.is_empty() {
        return out;
    }
    let ctx = variables(p);
    for d in calls {
        let name = format!("module.{}", d.labels[0]);
        let source = d
            .body
            .get_attribute("source")
            .map(|s| eval(&s.value, &Context::new()));
        let made = instantiated(&d.body, &ctx);
        if let Some(local) = source
            .as_ref()
            .and_then(value::as_str)
            .filter(|s| is_local(s))
        {
            out.local.push(LocalCall {
                name,
                dir: join_source(&p.dir, local),
                made,
                location: p.files[d.file].header(d.start),
            });
            continue;
        }
        if made == Ok(false) {
            continue;
        }
        for (input, turns_on) in TRACING_INPUTS {
            let Some(attr) = d.body.get_attribute(input) else {
                continue;
            };
            let at = attr.span().map_or(d.start, |s| s.start);
            let on = judge(&eval(&attr.value, &ctx), *turns_on);
            let on = match (&made, on) {
                (Err(why), Ok(Some(_))) => Err(why.clone()),
                (_, on) => on,
            };
            out.tracing.push(TracingInput {
                setting: format!("{name} {input}"),
                on,
                location: p.files[d.file].header(at),
            });
        }
    }
    out
}
