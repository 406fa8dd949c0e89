//! Conditions: parsing operator names and evaluating one condition against a request context.
//!
//! Semantics from "IAM JSON policy elements: Condition operators" and "Conditions with multiple
//! context keys or values" (IAM User Guide):
//! - several values for one key are OR'ed; for a negated operator (`StringNotEquals`, …) they are
//!   NOR'ed, i.e. the negation of the positive operator;
//! - a key missing from the request makes a positive operator false and a negated one true, except
//!   for `…IfExists` (missing key: true) and `Null` (which tests presence itself);
//! - `ForAllValues:` is true when every request value matches (so also for a missing or empty key),
//!   `ForAnyValue:` when at least one does (so false for a missing key).

use std::net::Ipv4Addr;

use super::scalar::{self, Ipv4Range};
use super::tri::Tri;
use super::wildcard;

/// One condition: an operator applied to one key with one or more values, as written in the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    operator: String,
    key: String,
    values: Vec<String>,
    parsed: Operator,
}

impl Condition {
    /// A condition from its parts as written (`StringEquals`, `kms:ViaService`, values). Operators
    /// this model does not know are kept and evaluate as undetermined.
    pub fn new(operator: &str, key: &str, values: Vec<String>) -> Self {
        Condition {
            operator: operator.to_string(),
            key: key.to_string(),
            values,
            parsed: Operator::parse(operator),
        }
    }

    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The condition key as written, e.g. `kms:ViaService`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy values; booleans and numbers are kept as their JSON text.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    pub(crate) fn parsed(&self) -> &Operator {
        &self.parsed
    }

    /// Whether this condition holds for a request whose value(s) for the key are `present`.
    pub(crate) fn evaluate(&self, present: Option<&[String]>) -> Tri {
        let op = &self.parsed;
        if let Base::Unsupported = op.base {
            return Tri::Unknown(format!(
                "condition operator `{}` is not supported",
                self.operator
            ));
        }
        match (present, &op.base) {
            (_, Base::Null) => self.null_check(present.is_none()),
            (None, _) => op.on_missing_key(),
            (Some(request_values), _) => self.on_values(request_values),
        }
    }

    fn null_check(&self, absent: bool) -> Tri {
        Tri::any(self.values.iter().map(|v| match scalar::boolean(v) {
            Some(wants_absent) => Tri::from_bool(wants_absent == absent),
            None => Tri::Unknown(format!(
                "`Null` expects true or false, not `{v}` for {}",
                self.key
            )),
        }))
    }

    fn on_values(&self, request_values: &[String]) -> Tri {
        let op = &self.parsed;
        // Against one request value: OR over the policy values, negated for `…Not…` operators.
        let one = |request_value: &String| {
            let positive = Tri::any(
                self.values
                    .iter()
                    .map(|policy_value| op.base.compare(request_value, policy_value)),
            );
            if op.negated {
                positive.not()
            } else {
                positive
            }
        };
        match op.set {
            Some(SetQualifier::ForAllValues) => Tri::all(request_values.iter().map(one)),
            Some(SetQualifier::ForAnyValue) => Tri::any(request_values.iter().map(one)),
            // Without a set operator a multi-valued key is read as "some value matches" and the
            // negated operators as "no value matches".
            None => {
                let positive = Tri::any(request_values.iter().flat_map(|request_value| {
                    self.values
                        .iter()
                        .map(|policy_value| op.base.compare(request_value, policy_value))
                }));
                if op.negated {
                    positive.not()
                } else {
                    positive
                }
            }
        }
    }
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name: set qualifier, comparison, negation and `IfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) set: Option<SetQualifier>,
    pub(crate) base: Base,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
}

/// The comparison an operator performs, without its negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    IpAddress,
    /// `ArnEquals` and `ArnLike` behave identically.
    Arn,
    Null,
    /// `BinaryEquals` and anything this model does not know.
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

impl Operator {
    pub(crate) fn parse(name: &str) -> Self {
        let (set, rest) = split_set_qualifier(name);
        let (core, if_exists) = match strip_suffix_ignore_case(rest, "IfExists") {
            Some(core) => (core, true),
            None => (rest, false),
        };
        let (base, negated) = base_of(core);
        // `Null` tests presence itself; an `IfExists` form of it does not exist.
        let base = if base == Base::Null && if_exists {
            Base::Unsupported
        } else {
            base
        };
        Operator {
            set,
            base,
            negated,
            if_exists,
        }
    }

    /// The value of this operator when the request does not carry the key.
    fn on_missing_key(&self) -> Tri {
        if self.if_exists {
            return Tri::Yes;
        }
        match self.set {
            Some(SetQualifier::ForAllValues) => Tri::Yes,
            Some(SetQualifier::ForAnyValue) => Tri::No,
            None => Tri::from_bool(self.negated),
        }
    }

    /// Whether this operator can only hold when the key is present and equal to / like one of the
    /// policy values: the shape that restricts who may call.
    pub(crate) fn requires_match(&self) -> bool {
        !self.negated
            && !self.if_exists
            && self.set != Some(SetQualifier::ForAllValues)
            && matches!(
                self.base,
                Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::Arn
            )
    }
}

impl Operator {
    /// Whether this operator states what the key *is* (a non-negated string or ARN comparison),
    /// so its values name the accepted callers even when `IfExists` or a set qualifier softens it.
    pub(crate) fn is_positive_string(&self) -> bool {
        !self.negated
            && matches!(
                self.base,
                Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::Arn
            )
    }
}

fn split_set_qualifier(name: &str) -> (Option<SetQualifier>, &str) {
    if let Some(rest) = strip_prefix_ignore_case(name, "ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), rest)
    } else if let Some(rest) = strip_prefix_ignore_case(name, "ForAllValues:") {
        (Some(SetQualifier::ForAllValues), rest)
    } else {
        (None, name)
    }
}

/// The comparison and negation of an operator name without qualifier and `IfExists`.
fn base_of(core: &str) -> (Base, bool) {
    const TABLE: &[(&str, Base, bool)] = &[
        ("StringEquals", Base::StringEquals, false),
        ("StringNotEquals", Base::StringEquals, true),
        (
            "StringEqualsIgnoreCase",
            Base::StringEqualsIgnoreCase,
            false,
        ),
        (
            "StringNotEqualsIgnoreCase",
            Base::StringEqualsIgnoreCase,
            true,
        ),
        ("StringLike", Base::StringLike, false),
        ("StringNotLike", Base::StringLike, true),
        ("NumericEquals", Base::Numeric(Cmp::Eq), false),
        ("NumericNotEquals", Base::Numeric(Cmp::Eq), true),
        ("NumericLessThan", Base::Numeric(Cmp::Lt), false),
        ("NumericLessThanEquals", Base::Numeric(Cmp::Le), false),
        ("NumericGreaterThan", Base::Numeric(Cmp::Gt), false),
        ("NumericGreaterThanEquals", Base::Numeric(Cmp::Ge), false),
        ("DateEquals", Base::Date(Cmp::Eq), false),
        ("DateNotEquals", Base::Date(Cmp::Eq), true),
        ("DateLessThan", Base::Date(Cmp::Lt), false),
        ("DateLessThanEquals", Base::Date(Cmp::Le), false),
        ("DateGreaterThan", Base::Date(Cmp::Gt), false),
        ("DateGreaterThanEquals", Base::Date(Cmp::Ge), false),
        ("Bool", Base::Bool, false),
        ("IpAddress", Base::IpAddress, false),
        ("NotIpAddress", Base::IpAddress, true),
        ("ArnEquals", Base::Arn, false),
        ("ArnLike", Base::Arn, false),
        ("ArnNotEquals", Base::Arn, true),
        ("ArnNotLike", Base::Arn, true),
        ("Null", Base::Null, false),
    ];
    TABLE
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(core))
        .map_or((Base::Unsupported, false), |&(_, base, negated)| {
            (base, negated)
        })
}

impl Base {
    /// Whether `request_value` satisfies `policy_value` under this (positive) comparison.
    fn compare(self, request_value: &str, policy_value: &str) -> Tri {
        match self {
            Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::Arn
                if policy_value.contains("${") =>
            {
                Tri::Unknown(format!(
                    "policy variables such as `{policy_value}` are not supported"
                ))
            }
            Base::StringEquals => Tri::from_bool(request_value == policy_value),
            Base::StringEqualsIgnoreCase => {
                Tri::from_bool(request_value.to_lowercase() == policy_value.to_lowercase())
            }
            Base::StringLike => {
                Tri::from_bool(wildcard::matches(policy_value, request_value, false))
            }
            Base::Arn => Tri::from_bool(arn_like(policy_value, request_value)),
            Base::Numeric(cmp) => {
                ordered(request_value, policy_value, cmp, scalar::number, "a number")
            }
            Base::Date(cmp) => ordered(request_value, policy_value, cmp, scalar::date, "a date"),
            Base::Bool => match (
                scalar::boolean(policy_value),
                scalar::boolean(request_value),
            ) {
                (None, _) => Tri::Unknown(format!("`{policy_value}` is not a boolean")),
                (Some(p), Some(r)) => Tri::from_bool(p == r),
                (Some(_), None) => Tri::No,
            },
            Base::IpAddress => ip_in_range(request_value, policy_value),
            Base::Null | Base::Unsupported => Tri::Unknown("not a comparison".into()),
        }
    }
}

/// Numeric and date comparisons: a policy value that cannot be read makes the statement
/// undecidable; a request value that cannot be read simply does not match.
fn ordered(
    request_value: &str,
    policy_value: &str,
    cmp: Cmp,
    read: fn(&str) -> Option<f64>,
    what: &str,
) -> Tri {
    match (read(policy_value), read(request_value)) {
        (None, _) => Tri::Unknown(format!("`{policy_value}` is not {what}")),
        (Some(p), Some(r)) => Tri::from_bool(cmp.holds(r, p)),
        (Some(_), None) => Tri::No,
    }
}

/// `IpAddress` for IPv4. An IPv6 range can never contain an IPv4 address; an IPv6 request
/// address cannot be judged by this model.
fn ip_in_range(request_value: &str, policy_value: &str) -> Tri {
    let address = request_value.trim().parse::<Ipv4Addr>();
    match (Ipv4Range::parse(policy_value), address) {
        (_, Err(_)) if request_value.contains(':') => {
            Tri::Unknown(format!("IPv6 address `{request_value}` is not supported"))
        }
        (_, Err(_)) => Tri::No,
        (Some(range), Ok(addr)) => Tri::from_bool(range.contains(addr)),
        (None, Ok(_)) if policy_value.contains(':') => Tri::No,
        (None, Ok(_)) => Tri::Unknown(format!("`{policy_value}` is not an IP address range")),
    }
}

/// `ArnLike`: each of the six colon-separated parts is matched on its own, so a `*` cannot reach
/// across a colon. A pattern that is not ARN-shaped (such as `*`) is matched as a whole.
fn arn_like(pattern: &str, value: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let value_parts: Vec<&str> = value.splitn(6, ':').collect();
    if pattern_parts.len() == 6 && value_parts.len() == 6 {
        pattern_parts
            .iter()
            .zip(&value_parts)
            .all(|(p, v)| wildcard::matches(p, v, false))
    } else if pattern_parts.len() < 6 {
        wildcard::matches(pattern, value, false)
    } else {
        false
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..cut])
}

#[cfg(test)]
mod tests;
