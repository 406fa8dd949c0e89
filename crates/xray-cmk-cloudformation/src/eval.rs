//! Evaluating a template's values as far as the template allows: `Parameters` (their `Default`,
//! or what `--parameters` gives), `Mappings`, `Conditions` and the intrinsic functions.
//!
//! What cannot be known before deployment is [`R::Unknown`] with the reason: a parameter without
//! a value, `AWS::AccountId` and `AWS::Region` unless given, `Fn::ImportValue`, `Fn::GetAZs`,
//! `Fn::Cidr`, another resource's attribute. A reference to a resource of the template is
//! [`R::Ref`], for the reader to follow (a key's ARN, an alias's target).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::Value as J;

use crate::yaml::{Kind, Node};

/// How many steps a chain of conditions naming conditions may take before it is a loop.
const MAX_CONDITION_HOPS: usize = 32;
/// How deep values and functions may nest while evaluated (the parser already bounds nesting).
const MAX_EVAL_DEPTH: usize = 160;

/// A resolved value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum R {
    Known(J),
    /// Only known at deploy time, and why.
    Unknown(String),
    /// `Ref` (no attribute) or `Fn::GetAtt` of a resource of the template.
    Ref(String, Option<String>),
    /// `AWS::NoValue`: the property is left out.
    NoValue,
}

/// The account and region the template is deployed to, when given, and the parameter values.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    pub values: BTreeMap<String, String>,
}

impl Parameters {
    pub(crate) fn account(&self) -> Option<&str> {
        self.values.get("AWS::AccountId").map(String::as_str)
    }

    pub(crate) fn region(&self) -> Option<&str> {
        self.values.get("AWS::Region").map(String::as_str)
    }
}

/// The stand-in for the deploying account where a value means "this account" (a key policy's
/// `arn:aws:iam::${AWS::AccountId}:root`): the key's ARN uses the same one, so the policy is
/// judged relative to the key's own account.
pub(crate) const SELF_ACCOUNT: &str = "000000000000";

/// The stand-in for the stack's name inside a key policy (a `Sid`, an `Id`, a role name made
/// from it): a name of this stack, in this account.
pub(crate) const STACK_NAME: &str = "STACK";

/// What a nested stack's parent passes to its template's `Parameters`, evaluated in the parent.
pub(crate) struct Passed {
    /// The parent's resource, as messages name it (`parent.yaml/Nested`).
    pub by: String,
    /// Each parameter the parent passes, known or why not.
    pub values: BTreeMap<String, Result<J, String>>,
    /// Why every parameter is unknown, when the whole `Parameters` property is.
    pub all_unknown: Option<String>,
    /// Parameters only known at deploy that a key policy reads as "this stack's" (the parent
    /// passing `!Ref AWS::AccountId`), evaluated in [`Mode::Policy`].
    pub in_policy: BTreeMap<String, J>,
}

/// The resource types whose template CloudFormation deploys as a nested stack.
pub(crate) const NESTED_TYPES: [&str; 2] =
    ["AWS::CloudFormation::Stack", "AWS::Serverless::Application"];

/// What `Fn::GetAtt Nested.Outputs.Name` reads: the outputs of a followed nested stack, or why
/// it was not followed.
pub(crate) type NestedOutputs = Result<BTreeMap<String, R>, String>;

/// One template's evaluation context.
pub(crate) struct Template<'a> {
    params: BTreeMap<String, Result<J, String>>,
    /// What an unknown parameter stands for inside a key policy, where the parent passed "this
    /// stack's" account, region or partition.
    policy_params: BTreeMap<String, J>,
    mappings: Option<&'a Node>,
    conditions: BTreeMap<&'a str, &'a Node>,
    resources: BTreeMap<&'a str, &'a str>,
    given: &'a Parameters,
    /// The outputs of the nested stacks evaluated so far.
    nested: RefCell<BTreeMap<String, NestedOutputs>>,
    /// Set when a value read the outputs of a nested stack not evaluated yet.
    read_pending: Cell<bool>,
}

/// How values that mean "this account" are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `AWS::AccountId`, `AWS::Region` and `AWS::Partition` unknown unless given.
    Strict,
    /// Inside a key policy: the account is [`SELF_ACCOUNT`], the region `-`, the partition
    /// `aws`, the stack name [`STACK_NAME`], and the ARN of an IAM role or user of the template is made from its logical id in
    /// that account; each says "this stack's".
    Policy,
}

/// `Type` of a parameter that CloudFormation turns into a list.
fn is_list_type(t: &str) -> bool {
    t == "CommaDelimitedList" || t.starts_with("List<")
}

fn scalar_json(s: &str, plain: bool) -> J {
    if plain {
        match s {
            "true" | "True" | "TRUE" => return J::Bool(true),
            "false" | "False" | "FALSE" => return J::Bool(false),
            _ => {}
        }
        if let Ok(n) = s.parse::<i64>() {
            return J::from(n);
        }
    }
    J::String(s.to_owned())
}

/// A node without intrinsics as JSON, or `None` when it holds one.
fn literal(node: &Node) -> Option<J> {
    Some(match &node.kind {
        Kind::Null => J::Null,
        Kind::Scalar(s, plain) => scalar_json(s, *plain),
        Kind::Seq(items) => J::Array(items.iter().map(literal).collect::<Option<_>>()?),
        Kind::Map(entries) => {
            if intrinsic(node).is_some() {
                return None;
            }
            J::Object(
                entries
                    .iter()
                    .map(|(k, v)| Some((k.name.clone(), literal(v)?)))
                    .collect::<Option<_>>()?,
            )
        }
    })
}

/// The function and argument of a one-key mapping that is an intrinsic function.
pub(crate) fn intrinsic(node: &Node) -> Option<(&str, &Node)> {
    match node.entries() {
        [(k, v)] if k.name == "Ref" || k.name.starts_with("Fn::") || k.name.starts_with('!') => {
            Some((k.name.as_str(), v))
        }
        _ => None,
    }
}

pub(crate) fn as_str(j: &J) -> Option<String> {
    match j {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A boolean as CloudFormation takes one: `true`, or the string `"true"` in any case.
pub(crate) fn as_bool(j: &J) -> Option<bool> {
    match j {
        J::Bool(b) => Some(*b),
        J::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        J::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub(crate) fn as_u32(j: &J) -> Option<u32> {
    match j {
        J::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        J::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(T[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A passed value as CloudFormation hands it to the nested stack: a string (a list stays a
/// list, for a list parameter).
fn passed_value(j: &J) -> J {
    match j {
        J::Bool(_) | J::Number(_) => J::String(as_str(j).unwrap_or_default()),
        other => other.clone(),
    }
}

impl<'a> Template<'a> {
    /// A template on its own: its parameters from `given` (`--parameters`), then defaults.
    #[cfg(test)]
    pub fn new(root: &'a Node, given: &'a Parameters) -> Self {
        Self::with(root, given, None)
    }

    /// A template as its parent's nested stack deploys it: its parameters from what the parent
    /// passes, then defaults; the pseudo parameters from `given`.
    pub fn with(root: &'a Node, given: &'a Parameters, passed: Option<&Passed>) -> Self {
        let mut params = BTreeMap::new();
        for (k, p) in root.get("Parameters").map_or(&[][..], Node::entries) {
            let list = p
                .get("Type")
                .and_then(Node::as_str)
                .is_some_and(is_list_type);
            let default = || {
                p.get("Default").map(|d| {
                    literal(d)
                        .ok_or_else(|| format!("parameter {}'s Default is not a literal", k.name))
                })
            };
            let value = match passed {
                None => match given.values.get(&k.name) {
                    Some(v) => Ok(J::String(v.clone())),
                    None => default().unwrap_or_else(|| {
                        Err(format!(
                            "parameter {} has no Default (give it with --parameters)",
                            k.name
                        ))
                    }),
                },
                Some(passed) => match (&passed.all_unknown, passed.values.get(&k.name)) {
                    (Some(why), _) => Err(format!(
                        "parameter {} is unknown: {} passes Parameters that are ({why})",
                        k.name, passed.by
                    )),
                    (None, Some(Ok(j))) => Ok(passed_value(j)),
                    (None, Some(Err(why))) => Err(format!(
                        "parameter {} is unknown: {why} (passed by {})",
                        k.name, passed.by
                    )),
                    (None, None) => default().unwrap_or_else(|| {
                        Err(format!(
                            "parameter {} has no Default and {} does not pass it",
                            k.name, passed.by
                        ))
                    }),
                },
            };
            let value = value.map(|v| match (&v, list) {
                (J::String(s), true) => J::Array(
                    s.split(',')
                        .map(|p| J::String(p.trim().to_owned()))
                        .collect(),
                ),
                _ => v,
            });
            params.insert(k.name.clone(), value);
        }
        let policy_params = passed
            .map(|p| {
                p.in_policy
                    .iter()
                    .filter(|(k, _)| params.contains_key(*k))
                    .map(|(k, v)| (k.clone(), passed_value(v)))
                    .collect()
            })
            .unwrap_or_default();
        let conditions = root
            .get("Conditions")
            .map_or(&[][..], Node::entries)
            .iter()
            .map(|(k, v)| (k.name.as_str(), v))
            .collect();
        let resources = root
            .get("Resources")
            .map_or(&[][..], Node::entries)
            .iter()
            .map(|(k, v)| {
                (
                    k.name.as_str(),
                    v.get("Type").and_then(Node::as_str).unwrap_or(""),
                )
            })
            .collect();
        Template {
            params,
            policy_params,
            mappings: root.get("Mappings"),
            conditions,
            resources,
            given,
            nested: RefCell::new(BTreeMap::new()),
            read_pending: Cell::new(false),
        }
    }

    /// Records what `Fn::GetAtt id.Outputs.*` reads.
    pub fn set_outputs(&self, id: &str, outputs: NestedOutputs) {
        self.nested.borrow_mut().insert(id.to_owned(), outputs);
    }

    /// Whether a value read since the last call read a nested stack's outputs before they were
    /// evaluated; and resets it.
    pub fn take_read_pending(&self) -> bool {
        self.read_pending.replace(false)
    }

    /// A named condition's value, or why it is unknown.
    pub fn condition(&self, name: &str) -> Result<bool, String> {
        self.condition_within(name, MAX_CONDITION_HOPS)
    }

    fn condition_within(&self, name: &str, hops: usize) -> Result<bool, String> {
        let hops = hops
            .checked_sub(1)
            .ok_or_else(|| format!("Condition {name}: conditions name each other in a loop"))?;
        let node = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("Condition {name} is not declared"))?;
        self.cond_value(node, hops, 0)
            .map_err(|why| format!("Condition {name} is unknown: {why}"))
    }

    fn cond_value(&self, node: &Node, hops: usize, depth: usize) -> Result<bool, String> {
        if let [(k, v)] = node.entries() {
            if k.name == "Condition" {
                let name = v.as_str().ok_or("Condition takes a name")?;
                return self.condition_within(name, hops);
            }
        }
        match self.eval(node, Mode::Strict, hops, depth + 1) {
            R::Known(j) => as_bool(&j).ok_or_else(|| "not a boolean".to_owned()),
            R::Unknown(why) => Err(why),
            R::Ref(id, _) => Err(format!("refers to the resource {id}")),
            R::NoValue => Err("AWS::NoValue is not a boolean".to_owned()),
        }
    }

    /// The value of `node`.
    pub fn resolve(&self, node: &Node, mode: Mode) -> R {
        self.eval(node, mode, MAX_CONDITION_HOPS, 0)
    }

    fn eval(&self, node: &Node, mode: Mode, hops: usize, depth: usize) -> R {
        if depth > MAX_EVAL_DEPTH {
            return R::Unknown("nested too deeply to evaluate".to_owned());
        }
        if let Some((f, arg)) = intrinsic(node) {
            return self.function(f, arg, mode, hops, depth + 1);
        }
        match &node.kind {
            Kind::Null => R::Known(J::Null),
            Kind::Scalar(s, plain) => R::Known(scalar_json(s, *plain)),
            Kind::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match self.eval(item, mode, hops, depth + 1) {
                        R::Known(j) => out.push(j),
                        R::NoValue => {}
                        R::Unknown(why) => return R::Unknown(why),
                        R::Ref(id, attr) => return R::Unknown(refers(&id, attr.as_deref())),
                    }
                }
                R::Known(J::Array(out))
            }
            Kind::Map(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    match self.eval(v, mode, hops, depth + 1) {
                        R::Known(j) => {
                            out.insert(k.name.clone(), j);
                        }
                        R::NoValue => {}
                        R::Unknown(why) => return R::Unknown(format!("{}: {why}", k.name)),
                        R::Ref(id, attr) => {
                            return R::Unknown(format!(
                                "{}: {}",
                                k.name,
                                refers(&id, attr.as_deref())
                            ))
                        }
                    }
                }
                R::Known(J::Object(out))
            }
        }
    }

    /// A known value, or the reason it is not, for a function's argument.
    fn known(&self, node: &Node, mode: Mode, hops: usize, depth: usize) -> Result<J, String> {
        match self.eval(node, mode, hops, depth) {
            R::Known(j) => Ok(j),
            R::Unknown(why) => Err(why),
            R::Ref(id, attr) => Err(refers(&id, attr.as_deref())),
            R::NoValue => Err("AWS::NoValue where a value is needed".to_owned()),
        }
    }

    fn reference(&self, name: &str, mode: Mode) -> R {
        let policy = mode == Mode::Policy;
        match name {
            "AWS::NoValue" => return R::NoValue,
            "AWS::AccountId" => {
                return match self.given.account() {
                    Some(a) => R::Known(J::String(a.to_owned())),
                    None if policy => R::Known(J::String(SELF_ACCOUNT.to_owned())),
                    None => R::Unknown(
                        "AWS::AccountId is only known at deploy (give it with --parameters)"
                            .to_owned(),
                    ),
                }
            }
            "AWS::Region" => {
                return match self.given.region() {
                    Some(r) => R::Known(J::String(r.to_owned())),
                    None if policy => R::Known(J::String("-".to_owned())),
                    None => R::Unknown(
                        "AWS::Region is only known at deploy (give it with --parameters)"
                            .to_owned(),
                    ),
                }
            }
            "AWS::Partition" | "AWS::URLSuffix" | "AWS::StackName" => {
                if let Some(v) = self.given.values.get(name) {
                    return R::Known(J::String(v.clone()));
                }
                if policy {
                    let v = match name {
                        "AWS::Partition" => "aws",
                        "AWS::URLSuffix" => "amazonaws.com",
                        _ => STACK_NAME,
                    };
                    return R::Known(J::String(v.to_owned()));
                }
                return R::Unknown(format!("{name} is only known at deploy"));
            }
            _ => {}
        }
        if let Some(p) = self.params.get(name) {
            return match (p, self.policy_params.get(name)) {
                (Ok(j), _) => R::Known(j.clone()),
                (Err(_), Some(j)) if policy => R::Known(j.clone()),
                (Err(why), _) => R::Unknown(why.clone()),
            };
        }
        if name.starts_with("AWS::") {
            return R::Unknown(format!("{name} is only known at deploy"));
        }
        if self.resources.contains_key(name) {
            return R::Ref(name.to_owned(), None);
        }
        R::Unknown(format!("Ref {name}: no such parameter or resource"))
    }

    /// `Fn::GetAtt` of a resource; in a key policy, an IAM role's or user's `Arn` is made from
    /// its logical id in [`SELF_ACCOUNT`].
    fn get_att(&self, id: &str, attr: &str, mode: Mode) -> R {
        let Some(rtype) = self.resources.get(id) else {
            return R::Unknown(format!("Fn::GetAtt {id}.{attr}: no such resource"));
        };
        if let (true, Some(name)) = (NESTED_TYPES.contains(rtype), attr.strip_prefix("Outputs.")) {
            return match self.nested.borrow().get(id) {
                Some(Ok(outputs)) => outputs.get(name).cloned().unwrap_or_else(|| {
                    R::Unknown(format!(
                        "Fn::GetAtt {id}.{attr}: the nested stack's template has no output {name}"
                    ))
                }),
                Some(Err(why)) => R::Unknown(format!("Fn::GetAtt {id}.{attr}: {why}")),
                None => {
                    self.read_pending.set(true);
                    R::Unknown(format!(
                        "Fn::GetAtt {id}.{attr}: the nested stack is not evaluated (not deployed, or its outputs are read in a loop)"
                    ))
                }
            };
        }
        if mode == Mode::Policy && attr == "Arn" {
            let kind = match *rtype {
                "AWS::IAM::Role" => Some("role"),
                "AWS::IAM::User" => Some("user"),
                _ => None,
            };
            if let Some(kind) = kind {
                let account = self.given.account().unwrap_or(SELF_ACCOUNT);
                return R::Known(J::String(format!("arn:aws:iam::{account}:{kind}/{id}")));
            }
        }
        R::Ref(id.to_owned(), Some(attr.to_owned()))
    }

    fn function(&self, f: &str, arg: &Node, mode: Mode, hops: usize, depth: usize) -> R {
        let d = depth + 1;
        let items = || match &arg.kind {
            Kind::Seq(items) => Some(items.as_slice()),
            _ => None,
        };
        let res = |r: Result<J, String>| match r {
            Ok(j) => R::Known(j),
            Err(why) => R::Unknown(why),
        };
        match f {
            "Ref" => match self
                .known(arg, mode, hops, d)
                .ok()
                .as_ref()
                .and_then(as_str)
            {
                Some(name) => self.reference(&name, mode),
                None => R::Unknown("Ref takes a name".to_owned()),
            },
            "Fn::GetAtt" => {
                let (id, attr) = match (&arg.kind, items()) {
                    (Kind::Scalar(s, _), _) => match s.split_once('.') {
                        Some((id, attr)) => (id.to_owned(), Ok(attr.to_owned())),
                        None => return R::Unknown(format!("Fn::GetAtt {s}: no attribute")),
                    },
                    (_, Some([id, attr])) => (
                        id.as_str().unwrap_or_default().to_owned(),
                        self.known(attr, mode, hops, d)
                            .and_then(|a| as_str(&a).ok_or_else(|| "not a name".to_owned())),
                    ),
                    _ => return R::Unknown("Fn::GetAtt takes a resource and an attribute".into()),
                };
                match attr {
                    Ok(attr) => self.get_att(&id, &attr, mode),
                    Err(why) => R::Unknown(format!("Fn::GetAtt {id}: {why}")),
                }
            }
            "Fn::Sub" => self.sub(arg, mode, hops, d),
            "Fn::Join" => {
                let Some([sep, list]) = items() else {
                    return R::Unknown("Fn::Join takes a delimiter and a list".into());
                };
                res((|| {
                    let sep = self.known(sep, mode, hops, d)?;
                    let sep = as_str(&sep).ok_or("Fn::Join: the delimiter is not a string")?;
                    let list = self.known(list, mode, hops, d)?;
                    let J::Array(parts) = list else {
                        return Err("Fn::Join: not a list".to_owned());
                    };
                    let parts: Option<Vec<String>> = parts.iter().map(as_str).collect();
                    Ok(J::String(
                        parts
                            .ok_or("Fn::Join: an element is not a string")?
                            .join(&sep),
                    ))
                })())
            }
            "Fn::Select" => {
                let Some([index, list]) = items() else {
                    return R::Unknown("Fn::Select takes an index and a list".into());
                };
                let index = match self.known(index, mode, hops, d) {
                    Ok(i) => as_u32(&i),
                    Err(why) => return R::Unknown(why),
                };
                // The list may hold references: select before resolving the others.
                if let (Some(i), Kind::Seq(elems)) = (index, &list.kind) {
                    return match elems.get(i as usize) {
                        Some(e) => self.eval(e, mode, hops, d),
                        None => R::Unknown("Fn::Select: index out of range".into()),
                    };
                }
                res((|| {
                    let i = index.ok_or("Fn::Select: the index is not a number")?;
                    match self.known(list, mode, hops, d)? {
                        J::Array(a) => a
                            .get(i as usize)
                            .cloned()
                            .ok_or_else(|| "Fn::Select: index out of range".to_owned()),
                        _ => Err("Fn::Select: not a list".to_owned()),
                    }
                })())
            }
            "Fn::Split" => {
                let Some([sep, text]) = items() else {
                    return R::Unknown("Fn::Split takes a delimiter and a string".into());
                };
                res((|| {
                    let sep = as_str(&self.known(sep, mode, hops, d)?).ok_or("not a string")?;
                    let text = as_str(&self.known(text, mode, hops, d)?).ok_or("not a string")?;
                    if sep.is_empty() {
                        return Err("Fn::Split: an empty delimiter".to_owned());
                    }
                    Ok(J::Array(
                        text.split(sep.as_str())
                            .map(|s| J::String(s.to_owned()))
                            .collect(),
                    ))
                })())
            }
            "Fn::FindInMap" => {
                let Some(args) = items().filter(|a| a.len() >= 3) else {
                    return R::Unknown("Fn::FindInMap takes a map and two keys".into());
                };
                let keys: Result<Vec<String>, String> = args[..3]
                    .iter()
                    .map(|a| {
                        self.known(a, mode, hops, d)
                            .and_then(|j| as_str(&j).ok_or_else(|| "a key is not a string".into()))
                    })
                    .collect();
                let keys = match keys {
                    Ok(k) => k,
                    Err(why) => return R::Unknown(format!("Fn::FindInMap: {why}")),
                };
                let found = self
                    .mappings
                    .and_then(|m| m.get(&keys[0]))
                    .and_then(|m| m.get(&keys[1]))
                    .and_then(|m| m.get(&keys[2]));
                match found {
                    Some(v) => self.eval(v, mode, hops, d),
                    None => R::Unknown(format!(
                        "Fn::FindInMap: Mappings has no {}.{}.{}",
                        keys[0], keys[1], keys[2]
                    )),
                }
            }
            "Fn::If" => {
                let Some([cond, then, otherwise]) = items() else {
                    return R::Unknown("Fn::If takes a condition and two values".into());
                };
                let Some(name) = cond.as_str() else {
                    return R::Unknown("Fn::If: the condition is not a name".into());
                };
                match self.condition_within(name, hops) {
                    Ok(true) => self.eval(then, mode, hops, d),
                    Ok(false) => self.eval(otherwise, mode, hops, d),
                    Err(why) => {
                        let (a, b) = (
                            self.eval(then, mode, hops, d),
                            self.eval(otherwise, mode, hops, d),
                        );
                        if a == b {
                            a
                        } else {
                            R::Unknown(why)
                        }
                    }
                }
            }
            "Fn::Equals" => {
                let Some([a, b]) = items() else {
                    return R::Unknown("Fn::Equals takes two values".into());
                };
                res((|| {
                    let (a, b) = (self.known(a, mode, hops, d)?, self.known(b, mode, hops, d)?);
                    Ok(J::Bool(match (as_str(&a), as_str(&b)) {
                        (Some(a), Some(b)) => a == b,
                        _ => a == b,
                    }))
                })())
            }
            "Fn::Not" | "Fn::And" | "Fn::Or" => {
                let Some(args) = items() else {
                    return R::Unknown(format!("{f} takes a list of conditions"));
                };
                let values: Vec<Result<bool, String>> =
                    args.iter().map(|a| self.cond_value(a, hops, d)).collect();
                match f {
                    "Fn::Not" => match values.as_slice() {
                        [Ok(v)] => R::Known(J::Bool(!v)),
                        [Err(why)] => R::Unknown(why.clone()),
                        _ => R::Unknown("Fn::Not takes one condition".into()),
                    },
                    // A known `false` decides an `And`, a known `true` an `Or`, whatever is
                    // unknown beside it.
                    _ => {
                        let decisive = f == "Fn::Or";
                        if values.iter().any(|v| v.as_ref() == Ok(&decisive)) {
                            return R::Known(J::Bool(decisive));
                        }
                        match values.into_iter().find_map(Result::err) {
                            Some(why) => R::Unknown(why),
                            None => R::Known(J::Bool(!decisive)),
                        }
                    }
                }
            }
            "Condition" => match arg.as_str() {
                Some(name) => res(self.condition_within(name, hops).map(J::Bool)),
                None => R::Unknown("Condition takes a name".into()),
            },
            "Fn::Base64" => res(self
                .known(arg, mode, hops, d)
                .and_then(|j| as_str(&j).ok_or_else(|| "Fn::Base64: not a string".to_owned()))
                .map(|s| J::String(base64(s.as_bytes())))),
            "Fn::ImportValue" => R::Unknown(
                "Fn::ImportValue: another stack's export, only known at deploy".to_owned(),
            ),
            "Fn::GetAZs" => R::Unknown("Fn::GetAZs: only known at deploy".to_owned()),
            "Fn::Cidr" => R::Unknown("Fn::Cidr is not evaluated".to_owned()),
            other if other.starts_with('!') => R::Unknown(format!(
                "the tag {other} is not a CloudFormation intrinsic function"
            )),
            other => R::Unknown(format!("{other} is not evaluated")),
        }
    }

    /// `Fn::Sub`: a string, or a string and a map of variables. A string that is only
    /// `${Resource}` or `${Resource.Attr}` is that reference.
    fn sub(&self, arg: &Node, mode: Mode, hops: usize, depth: usize) -> R {
        let (text, vars) = match &arg.kind {
            Kind::Scalar(s, _) => (s.as_str(), None),
            Kind::Seq(items) => match items.as_slice() {
                [t, v] => match t.as_str() {
                    Some(t) => (t, Some(v)),
                    None => return R::Unknown("Fn::Sub: the template is not a string".into()),
                },
                _ => return R::Unknown("Fn::Sub takes a string and variables".into()),
            },
            _ => return R::Unknown("Fn::Sub takes a string".into()),
        };
        let mut out = String::new();
        let mut rest = text;
        let mut only_ref = None;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            if let Some(lit) = after.strip_prefix('!') {
                out.push_str("${");
                rest = lit;
                continue;
            }
            let Some(end) = after.find('}') else {
                return R::Unknown("Fn::Sub: an unclosed ${".into());
            };
            let name = after[..end].trim();
            let whole = out.is_empty() && after[end + 1..].is_empty();
            let value = match vars.and_then(|v| v.get(name)) {
                Some(v) => self.eval(v, mode, hops, depth + 1),
                None => match name.split_once('.') {
                    Some((id, attr)) if !name.starts_with("AWS::") => self.get_att(id, attr, mode),
                    _ => self.reference(name, mode),
                },
            };
            match value {
                R::Known(j) => match as_str(&j) {
                    Some(s) => out.push_str(&s),
                    None => return R::Unknown(format!("Fn::Sub: ${{{name}}} is not a string")),
                },
                R::Ref(id, attr) if whole => only_ref = Some(R::Ref(id, attr)),
                R::Ref(id, attr) => {
                    return R::Unknown(format!("Fn::Sub: {}", refers(&id, attr.as_deref())))
                }
                R::Unknown(why) => return R::Unknown(why),
                R::NoValue => return R::Unknown("Fn::Sub: AWS::NoValue".into()),
            }
            rest = &after[end + 1..];
        }
        if let Some(r) = only_ref {
            return r;
        }
        out.push_str(rest);
        R::Known(J::String(out))
    }
}

/// "refers to X.Arn, only known at deploy".
pub(crate) fn refers(id: &str, attr: Option<&str>) -> String {
    match attr {
        Some(a) => format!("refers to {id}.{a}, only known at deploy"),
        None => format!("refers to {id}, only known at deploy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, given: &[(&str, &str)]) -> R {
        let doc = crate::yaml::parse(text).expect("parses");
        let given = Parameters {
            values: given
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let t = Template::new(&doc, &given);
        let v = doc.get("Value").expect("Value");
        t.resolve(v, Mode::Strict)
    }

    const HEAD: &str = "Parameters:\n  Env: {Type: String, Default: prod}\n  Mode: {Type: String}\n  Names: {Type: CommaDelimitedList, Default: 'a,b'}\nMappings:\n  M: {prod: {rot: 90}}\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\n  ByMode: !Equals [!Ref Mode, Active]\n  Both: !And [!Condition IsProd, !Condition ByMode]\n  Either: !Or [!Condition IsProd, !Condition ByMode]\nResources:\n  Key: {Type: AWS::KMS::Key}\n";

    fn v(expr: &str) -> String {
        format!("{HEAD}Value: {expr}\n")
    }

    #[test]
    fn parameters_mappings_and_conditions_resolve() {
        assert_eq!(
            eval(&v("!Ref Env"), &[]),
            R::Known(J::String("prod".into()))
        );
        assert_eq!(
            eval(&v("!FindInMap [M, !Ref Env, rot]"), &[]),
            R::Known(J::from(90))
        );
        assert_eq!(
            eval(&v("!If [IsProd, yes-it-is, no]"), &[]),
            R::Known(J::String("yes-it-is".into()))
        );
        assert_eq!(
            eval(&v("!Select [1, !Ref Names]"), &[]),
            R::Known(J::String("b".into()))
        );
        assert_eq!(
            eval(&v("!Join ['-', [a, !Ref Env]]"), &[]),
            R::Known(J::String("a-prod".into()))
        );
        assert_eq!(
            eval(&v("!Sub '${Env}-${!Lit}'"), &[]),
            R::Known(J::String("prod-${Lit}".into()))
        );
        assert_eq!(
            eval(&v("{'Fn::Join': ['', [x, {'Ref': Env}]]}"), &[]),
            R::Known(J::String("xprod".into())),
            "the long form reads as the short"
        );
        assert_eq!(
            eval(&v("!Base64 abc"), &[]),
            R::Known(J::String("YWJj".into()))
        );
        assert_eq!(
            eval(&v("!Split [',', 'a,b']"), &[]),
            R::Known(serde_json::json!(["a", "b"]))
        );
        // Or: one known true decides it.
        assert_eq!(
            eval(&v("!If [Either, on, off]"), &[]),
            R::Known(J::String("on".into()))
        );
    }

    #[test]
    fn what_is_only_known_at_deploy_is_unknown_with_why() {
        let R::Unknown(why) = eval(&v("!Ref Mode"), &[]) else {
            panic!("unknown")
        };
        assert!(why.contains("Mode has no Default"), "{why}");
        assert!(matches!(eval(&v("!If [Both, a, b]"), &[]), R::Unknown(w) if w.contains("Mode")));
        assert!(matches!(
            eval(&v("!Ref AWS::AccountId"), &[]),
            R::Unknown(_)
        ));
        assert!(matches!(
            eval(&v("!ImportValue Shared"), &[]),
            R::Unknown(_)
        ));
        assert!(matches!(eval(&v("!GetAZs ''"), &[]), R::Unknown(_)));
        assert!(matches!(
            eval(&v("!Cidr [10.0.0.0/16, 2, 8]"), &[]),
            R::Unknown(_)
        ));
        assert!(matches!(eval(&v("!Bogus x"), &[]), R::Unknown(w) if w.contains("!Bogus")));
        // Given, they are known.
        assert_eq!(
            eval(&v("!If [Both, a, b]"), &[("Mode", "Active")]),
            R::Known(J::String("a".into()))
        );
        assert_eq!(
            eval(
                &v("!Sub 'arn:aws:iam::${AWS::AccountId}:root'"),
                &[("AWS::AccountId", "111122223333")]
            ),
            R::Known(J::String("arn:aws:iam::111122223333:root".into()))
        );
    }

    #[test]
    fn references_to_resources_are_kept_for_the_reader() {
        assert_eq!(eval(&v("!Ref Key"), &[]), R::Ref("Key".into(), None));
        assert_eq!(
            eval(&v("!GetAtt Key.Arn"), &[]),
            R::Ref("Key".into(), Some("Arn".into()))
        );
        assert_eq!(
            eval(&v("!GetAtt [Key, Arn]"), &[]),
            R::Ref("Key".into(), Some("Arn".into()))
        );
        assert_eq!(
            eval(&v("!Sub '${Key.Arn}'"), &[]),
            R::Ref("Key".into(), Some("Arn".into()))
        );
        assert!(matches!(eval(&v("!Sub 'x-${Key}'"), &[]), R::Unknown(_)));
    }

    #[test]
    fn in_a_key_policy_this_stacks_names_stand_for_themselves() {
        let text = v("!Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}'");
        let doc = crate::yaml::parse(&text).expect("parses");
        let given = Parameters::default();
        let t = Template::new(&doc, &given);
        let value = doc.get("Value").expect("Value");
        assert!(matches!(t.resolve(value, Mode::Strict), R::Unknown(_)));
        assert_eq!(
            t.resolve(value, Mode::Policy),
            R::Known(J::String("arn:aws:iam::000000000000:role/STACK".into()))
        );
    }

    #[test]
    fn a_condition_loop_is_unknown_not_a_hang() {
        let text = "Conditions:\n  A: !Condition B\n  B: !Condition A\nValue: !If [A, x, y]\n";
        assert!(matches!(eval(text, &[]), R::Unknown(w) if w.contains("loop")));
    }

    #[test]
    fn a_nested_stack_takes_what_its_parent_passes_then_defaults() {
        let text = "Parameters:\n  Rotate: {Type: String, Default: 'true'}\n  Owner: {Type: String}\n  Names: {Type: CommaDelimitedList}\n  Account: {Type: String}\n  Env: {Type: String}\nResources: {}\n";
        let doc = crate::yaml::parse(text).expect("parses");
        let given = Parameters {
            values: [("Owner".to_owned(), "from-the-command-line".to_owned())].into(),
        };
        let passed = Passed {
            by: "parent.yaml/Nested".into(),
            values: [
                ("Names".to_owned(), Ok(J::String("a, b".into()))),
                ("Rotate".to_owned(), Ok(J::Bool(false))),
                (
                    "Account".to_owned(),
                    Err("AWS::AccountId is only known at deploy".into()),
                ),
                ("Env".to_owned(), Err("parameter Env has no Default".into())),
            ]
            .into(),
            all_unknown: None,
            in_policy: [("Account".to_owned(), J::String(SELF_ACCOUNT.into()))].into(),
        };
        let t = Template::with(&doc, &given, Some(&passed));
        let r = |name: &str, mode| t.reference(name, mode);
        assert_eq!(
            r("Rotate", Mode::Strict),
            R::Known(J::String("false".into()))
        );
        assert_eq!(
            r("Names", Mode::Strict),
            R::Known(serde_json::json!(["a", "b"]))
        );
        let R::Unknown(why) = r("Owner", Mode::Strict) else {
            panic!("--parameters are the root's, not the nested stack's")
        };
        assert!(why.contains("parent.yaml/Nested does not pass it"), "{why}");
        let R::Unknown(why) = r("Env", Mode::Strict) else {
            panic!("unknown")
        };
        assert!(why.contains("passed by parent.yaml/Nested"), "{why}");
        assert!(matches!(r("Account", Mode::Strict), R::Unknown(_)));
        assert_eq!(
            r("Account", Mode::Policy),
            R::Known(J::String(SELF_ACCOUNT.into())),
            "in a key policy, the parent's own account is this stack's"
        );
    }
}
