//! Where a module turns X-Ray tracing on, for `tf-xray-encryption-missing`: the resources that
//! trace, and the inputs of calls of modules the scan cannot read (registry, git) whose names
//! say they turn tracing on, as the common modules document them.

use hcl::Value;
use xray_cmk_core::model::{Presence, TracingSite};
use xray_cmk_core::SourceLocation;

use super::{Instance, Module};
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

/// A setting that can turn tracing on, as evaluated.
enum Flag {
    /// On, shown as what turns it on (`mode = "Active"`).
    On(String),
    Off,
    /// Only known at apply time, with why.
    Unknown(String),
}

impl Flag {
    /// The first that is on, else the first unknown, else off.
    fn any(flags: impl IntoIterator<Item = Flag>) -> Flag {
        let mut unknown = None;
        for f in flags {
            match f {
                Flag::On(_) => return f,
                Flag::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Flag::Off => {}
            }
        }
        unknown.map_or(Flag::Off, Flag::Unknown)
    }
}

/// An attribute that turns tracing on when `on` holds for its value; absent or null is off.
fn flag(v: Option<&Value>, name: &str, on: impl Fn(&Value) -> bool) -> Flag {
    let Some(v) = v else { return Flag::Off };
    match resolve(v) {
        Resolved::Known(Value::Null) => Flag::Off,
        Resolved::Known(known) if on(known) => Flag::On(format!("{name} = {known}")),
        Resolved::Known(_) => Flag::Off,
        Resolved::Unknown(why) => Flag::Unknown(why),
        Resolved::Ref(r) => Flag::Unknown(format!("refers to {r}, only known after apply")),
    }
}

/// The instances of a nested block, as objects, or the reason they are unknown (a `dynamic`
/// block evaluates to an unknown in place of its instances).
fn block_items<'v>(v: &'v Value, block: &str) -> Vec<Result<&'v Value, String>> {
    let item = |b: &'v Value| match b {
        Value::Object(_) => Some(Ok(b)),
        Value::Null => None,
        other => match resolve(other) {
            Resolved::Unknown(why) => Some(Err(why)),
            Resolved::Ref(r) => Some(Err(format!("refers to {r}, only known after apply"))),
            Resolved::Known(_) => None,
        },
    };
    match value::get(v, block) {
        Some(Value::Array(items)) => items.iter().filter_map(item).collect(),
        Some(other) => item(other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `block { name = … }` turning tracing on, in any instance of the block.
fn block_flag(v: &Value, block: &str, name: &str, on: impl Fn(&Value) -> bool) -> Flag {
    Flag::any(block_items(v, block).into_iter().map(|b| match b {
        Ok(b) => match flag(value::get(b, name), name, &on) {
            Flag::On(what) => Flag::On(format!("{block} {what}")),
            other => other,
        },
        Err(why) => Flag::Unknown(why),
    }))
}

/// Whether an instance exists: certain, or not when its own or a calling module's `count` or
/// `for_each` is unknown.
/// Where to report it: the instance, or the block whose `count` decides whether it exists.
pub(super) fn existence(i: &Instance) -> (Presence, SourceLocation) {
    match &i.maybe {
        Some(m) => (Presence::Unknown(m.why.clone()), m.at.clone()),
        None => (Presence::Certain, i.location.clone()),
    }
}

fn is_active(v: &Value) -> bool {
    value::as_str(v) == Some("Active")
}

fn is_true(v: &Value) -> bool {
    value::as_bool(v) == Some(true)
}

/// What turns X-Ray tracing on in a module, or may, with where.
pub(super) fn sites(m: &Module<'_>) -> Vec<TracingSite> {
    let mut out = Vec::new();
    for i in m.facts.instances.iter().filter(|i| i.kind == "resource") {
        let v = &i.value;
        let (setting, on) = match i.rtype.as_str() {
            "aws_lambda_function" => (
                "tracing_config mode",
                block_flag(v, "tracing_config", "mode", is_active),
            ),
            "aws_api_gateway_stage" => (
                "xray_tracing_enabled",
                flag(
                    value::get(v, "xray_tracing_enabled"),
                    "xray_tracing_enabled",
                    is_true,
                ),
            ),
            "aws_sfn_state_machine" => (
                "tracing_configuration enabled",
                block_flag(v, "tracing_configuration", "enabled", is_true),
            ),
            "aws_apprunner_observability_configuration" => (
                "trace_configuration",
                Flag::any(
                    block_items(v, "trace_configuration")
                        .into_iter()
                        .map(|b| match b {
                            Ok(_) => Flag::On("trace_configuration".to_owned()),
                            Err(why) => Flag::Unknown(why),
                        }),
                ),
            ),
            "aws_apprunner_service" => (
                "observability_configuration observability_enabled",
                block_flag(
                    v,
                    "observability_configuration",
                    "observability_enabled",
                    is_true,
                ),
            ),
            "aws_appsync_graphql_api" => (
                "xray_enabled",
                flag(value::get(v, "xray_enabled"), "xray_enabled", is_true),
            ),
            "aws_xray_sampling_rule" | "aws_xray_group" => ("", Flag::On("declared".to_owned())),
            _ => continue,
        };
        let what = |what: &str| format!("{} {what}", i.address);
        match on {
            Flag::On(on) => {
                let (presence, location) = existence(i);
                out.push(TracingSite {
                    what: what(&on),
                    location,
                    presence,
                });
            }
            Flag::Unknown(why) => out.push(TracingSite {
                what: what(setting),
                location: i.location.clone(),
                presence: Presence::Unknown(why),
            }),
            Flag::Off => {}
        }
    }
    for call in m.facts.instances.iter().filter(|i| i.kind == "module") {
        for (input, turns_on) in TRACING_INPUTS {
            let setting = format!("{} {input}", call.address);
            let on = match turns_on {
                TurnsOn::Active => flag(value::get(&call.value, input), input, is_active),
                TurnsOn::True => flag(value::get(&call.value, input), input, is_true),
            };
            let at = call
                .attributes
                .iter()
                .find(|(name, _)| name == input)
                .map_or(&call.location, |(_, at)| at);
            let (what, presence, location) = match on {
                Flag::On(what) => {
                    let (presence, location) = existence(call);
                    let location = if call.maybe.is_some() {
                        location
                    } else {
                        at.clone()
                    };
                    (format!("{} {what}", call.address), presence, location)
                }
                Flag::Unknown(why) => (setting, Presence::Unknown(why), at.clone()),
                Flag::Off => continue,
            };
            out.push(TracingSite {
                what,
                location,
                presence,
            });
        }
    }
    out
}
