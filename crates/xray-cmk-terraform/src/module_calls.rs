//! Calls of modules the scan cannot read (a registry, git or other remote `source`): the inputs
//! whose names say they turn X-Ray tracing on, as the common modules document them.
//!
//! The evaluator does not expose `module` blocks, so they are read here from the parsed
//! declarations, with variables (defaults and `*.tfvars`) as the only context: anything else an
//! argument refers to (a local, a resource) is unknown, never read as off.

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

fn eval(expr: &hcl::edit::expr::Expression, ctx: &Context) -> Value {
    let expr: hcl::Expression = expr.clone().into();
    expr.evaluate(ctx).unwrap_or_else(|e| {
        value::unknown(e.to_string().lines().next().unwrap_or("cannot evaluate"))
    })
}

/// `var` from the variables' values (`*.tfvars` over defaults); a variable without either is an
/// unknown that says so.
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
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(vars));
    ctx
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

/// The tracing inputs of every remote module call of a module.
pub(crate) fn tracing_inputs(p: &Parsed) -> Vec<TracingInput> {
    let calls: Vec<_> = p
        .decls
        .iter()
        .filter(|d| d.kind == "module" && d.labels.len() == 1)
        .collect();
    if calls.is_empty() {
        return Vec::new();
    }
    let ctx = variables(p);
    let mut out = Vec::new();
    for d in calls {
        let source = d
            .body
            .get_attribute("source")
            .map(|s| eval(&s.value, &Context::new()));
        if source
            .as_ref()
            .and_then(value::as_str)
            .is_some_and(is_local)
        {
            continue;
        }
        let name = &d.labels[0];
        let made = instantiated(&d.body, &ctx);
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
            out.push(TracingInput {
                setting: format!("module.{name} {input}"),
                on,
                location: p.files[d.file].header(at),
            });
        }
    }
    out
}
