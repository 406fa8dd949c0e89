//! Evaluated modules (from `.tf` files or plan JSON) to the one inventory model the rules judge.
//!
//! - Each `aws_xray_encryption_config` is an X-Ray target: account = the module, region = the
//!   `aws` provider's region (`-` when not set).
//! - Each `aws_kms_key` is a key, with rotation, spec, state, policy (its own, an
//!   `aws_kms_key_policy`'s, or KMS's default), tags (with the provider's `default_tags`) and the
//!   aliases of `aws_kms_alias` resources that target it.
//! - `alias/aws/xray`, given literally or through `data.aws_kms_alias` / `data.aws_kms_key`, is the
//!   AWS managed key. Any other key that is not declared here is unknown.
//! - Each root module records where it turns tracing on, and whether its tree declares the
//!   encryption (for `tf-xray-encryption-missing`).

use std::collections::{BTreeMap, BTreeSet};

use hcl::Value;
use xray_cmk_core::model::{DeclaredConfig, Presence, Rotation, TerraformModule};
use xray_cmk_core::{
    CollectionError, EncryptionType, ErrorKind, Inventory, KeyManager, KeyState, KmsKey, Observed,
    Origin, SourceLocation, XrayEncryption, XrayTarget,
};

use crate::value::{self, resolve, Resolved};

mod tracing;

/// A resource or data source instance, evaluated.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    /// `resource` or `data`.
    pub kind: String,
    pub rtype: String,
    /// `aws_kms_key.x`, `aws_kms_key.x[0]`, `data.aws_kms_alias.y`, `module.m.aws_kms_key.x`.
    pub address: String,
    /// The body as an object: attributes, and nested blocks as arrays of objects.
    pub value: Value,
    pub location: SourceLocation,
    /// Why it may not exist: its own or a calling module's `count` or `for_each` is unknown (the
    /// evaluator then makes the one instance `x[*]`).
    pub maybe: Option<Maybe>,
    /// Where each of its attributes is, for those a finding may point at (a module call's
    /// inputs).
    pub attributes: Vec<(String, SourceLocation)>,
}

/// Why something may not exist, and where that is decided: the resource or `module` block whose
/// `count` or `for_each` is unknown.
#[derive(Debug, Clone)]
pub(crate) struct Maybe {
    pub why: String,
    pub at: SourceLocation,
}

/// A `module` block the evaluation could not follow into a module it read: the called
/// directory was not scanned, the call closes a cycle, or a bound was reached. What that module
/// declares is unknown.
#[derive(Debug, Clone)]
pub(crate) struct UnreadCall {
    /// `module.encryption`, `module.a.module.b[0]`.
    pub address: String,
    /// The directory it names, when it names one.
    pub dir: String,
    pub location: SourceLocation,
    /// Why the call itself may not be made.
    pub maybe: Option<Maybe>,
    pub why: String,
}

/// One evaluated module.
#[derive(Debug, Clone)]
pub(crate) struct ModuleFacts {
    pub path: String,
    pub location: SourceLocation,
    pub instances: Vec<Instance>,
    pub region: Option<String>,
    /// The provider's `allowed_account_ids[0]`, when given.
    pub account: Option<String>,
    pub default_tags: Option<Value>,
    /// The directories of the local modules it calls.
    pub calls: Vec<String>,
    /// The module calls of its tree that were not followed.
    pub unread: Vec<UnreadCall>,
}

/// The AWS managed key X-Ray offers.
const AWS_MANAGED_ALIAS: &str = "alias/aws/xray";

/// How the AWS managed key is indexed in the inventory: its alias ARN in the module's account
/// and region, since each account and region has its own `aws/xray` key.
fn aws_managed_id(module: &ModuleFacts) -> String {
    format!(
        "arn:aws:kms:{}:{}:{AWS_MANAGED_ALIAS}",
        module.region.as_deref().unwrap_or("-"),
        module.account.as_deref().unwrap_or(UNKNOWN_ACCOUNT)
    )
}

fn unknown_error(message: impl Into<String>) -> CollectionError {
    CollectionError {
        operation: "terraform".to_owned(),
        kind: ErrorKind::Other,
        code: None,
        message: message.into(),
    }
}

fn attr<'a>(i: &'a Instance, name: &str) -> Option<Resolved<'a>> {
    value::get(&i.value, name).map(resolve)
}

/// The account a key declared in Terraform is judged in, which the code rarely says: the
/// provider's `allowed_account_ids`, else the account whose root the key policy names, else a
/// placeholder.
fn key_account(module: &ModuleFacts, i: &Instance) -> String {
    if let Some(a) = &module.account {
        return a.clone();
    }
    let policy = value::get(&i.value, "policy")
        .and_then(value::as_str)
        .unwrap_or("");
    let mut rest = policy;
    while let Some(at) = rest.find(":iam::") {
        let tail = &rest[at + 6..];
        let id: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if id.len() == 12 && tail[12..].starts_with(":root") {
            return id;
        }
        rest = tail;
    }
    UNKNOWN_ACCOUNT.to_owned()
}

/// Stands for the account a module is applied to when nothing says which.
const UNKNOWN_ACCOUNT: &str = "000000000000";

/// What identifies a resource across every module of a scan: the module's directory (or plan
/// file) and the resource's full address. Two modules that both declare `aws_kms_key.this` are
/// two keys.
fn qualified(module: &ModuleFacts, address: &str) -> String {
    format!("{}/{address}", module.path)
}

/// The synthetic ARN a declared key is judged under, named after its module and address.
fn key_arn(module: &ModuleFacts, i: &Instance) -> String {
    format!(
        "arn:aws:kms:{}:{}:key/{}",
        module.region.as_deref().unwrap_or("-"),
        key_account(module, i),
        qualified(module, &i.address)
    )
}

fn is_aws_managed(name: &str) -> bool {
    name == AWS_MANAGED_ALIAS || name.ends_with(&format!(":{AWS_MANAGED_ALIAS}"))
}

/// The shape of the policy AWS gives `aws/xray`: any principal of the account, through X-Ray
/// only. AWS owns it; the scanner cannot read the real one, so this stands in for it.
fn aws_managed_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "auto-xray",
        "Statement": [{
            "Sid": "Allow access through X-Ray for all principals in the account that are authorized to use X-Ray",
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": { "StringEquals": {
                "kms:CallerAccount": UNKNOWN_ACCOUNT,
                "kms:ViaService": "xray.us-east-1.amazonaws.com",
            } },
        }],
    })
    .to_string()
}

fn aws_managed_key() -> KmsKey {
    KmsKey {
        policy: Observed::Known(aws_managed_policy()),
        key_manager: Some(KeyManager::Aws),
        key_state: Some(KeyState::Enabled),
        key_spec: Some("SYMMETRIC_DEFAULT".into()),
        key_usage: Some("ENCRYPT_DECRYPT".into()),
        aliases: Observed::Known(vec![AWS_MANAGED_ALIAS.into()]),
        ..KmsKey::described(AWS_MANAGED_ALIAS)
    }
}

/// KMS's default key policy: the account root, which delegates to IAM.
fn default_key_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
            "Action": "kms:*",
            "Resource": "*",
        }],
    })
    .to_string()
}

fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(_) => value::as_str(v).map(|s| (k.clone(), s.to_owned())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                _ => None,
            })
            .collect(),
        Value::Null => Some(BTreeMap::new()),
        _ => None,
    }
}

/// One module's facts, with its instances by address: references resolve within the module
/// (and the module instances it calls, whose addresses are full).
struct Module<'a> {
    facts: &'a ModuleFacts,
    by_address: BTreeMap<&'a str, &'a Instance>,
    /// `aws_kms_alias` by its `name` (the first declared, as a lookup by name finds it).
    alias_by_name: BTreeMap<&'a str, &'a Instance>,
    /// The alias names of each `aws_kms_key` (by address), in declaration order.
    aliases_of_key: BTreeMap<&'a str, Vec<String>>,
    /// The `aws_kms_key_policy` of each `aws_kms_key` (by address): the first declared for it.
    policy_of_key: BTreeMap<&'a str, &'a Instance>,
}

/// How many aliases naming aliases are followed before a chain is given up as a loop.
const MAX_ALIAS_HOPS: usize = 8;

impl<'a> Module<'a> {
    /// The module with its indexes built once, so that judging N keys with N aliases is linear,
    /// not N keys each scanning every alias.
    fn new(facts: &'a ModuleFacts) -> Self {
        let mut m = Module {
            facts,
            by_address: facts
                .instances
                .iter()
                .map(|i| (i.address.as_str(), i))
                .collect(),
            alias_by_name: BTreeMap::new(),
            aliases_of_key: BTreeMap::new(),
            policy_of_key: BTreeMap::new(),
        };
        let mut alias_by_name: BTreeMap<&'a str, &'a Instance> = BTreeMap::new();
        for a in m.of_type("aws_kms_alias") {
            if let Some(name) = value::get(&a.value, "name").and_then(value::as_str) {
                alias_by_name.entry(name).or_insert(a);
            }
        }
        m.alias_by_name = alias_by_name;
        let mut aliases_of_key: BTreeMap<&'a str, Vec<String>> = BTreeMap::new();
        for a in m.of_type("aws_kms_alias") {
            if let (Some(k), Some(name)) = (
                m.key_of(a, "target_key_id"),
                value::get(&a.value, "name").and_then(value::as_str),
            ) {
                aliases_of_key
                    .entry(k.address.as_str())
                    .or_default()
                    .push(name.to_owned());
            }
        }
        let mut policy_of_key: BTreeMap<&'a str, &'a Instance> = BTreeMap::new();
        for p in m.of_type("aws_kms_key_policy") {
            if let Some(k) = m.key_of(p, "key_id") {
                policy_of_key.entry(k.address.as_str()).or_insert(p);
            }
        }
        m.aliases_of_key = aliases_of_key;
        m.policy_of_key = policy_of_key;
        m
    }

    /// The instance a reference names: `aws_kms_key.x` or one of its instances.
    fn lookup(&self, address: &str) -> Option<&'a Instance> {
        self.by_address.get(address).copied()
    }

    fn of_type<'s>(&'s self, rtype: &'s str) -> impl Iterator<Item = &'a Instance> + 's {
        self.facts
            .instances
            .iter()
            .filter(move |i| i.kind == "resource" && i.rtype == rtype)
    }

    fn key(&self, i: &Instance) -> KmsKey {
        let arn = key_arn(self.facts, i);
        let known_str = |name: &str, default: &str| -> Result<String, String> {
            match attr(i, name) {
                None => Ok(default.to_owned()),
                Some(Resolved::Known(v)) => value::as_str(v)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name} is not a string")),
                Some(Resolved::Unknown(why)) => Err(format!("{name}: {why}")),
                Some(Resolved::Ref(r)) => Err(format!("{name} refers to {r}")),
            }
        };
        let spec = known_str("customer_master_key_spec", "SYMMETRIC_DEFAULT")
            .and_then(|d| known_str("key_spec", &d))
            .ok();
        let usage = known_str("key_usage", "ENCRYPT_DECRYPT").ok();
        let state = match attr(i, "is_enabled") {
            None => Some(KeyState::Enabled),
            Some(Resolved::Known(v)) => value::as_bool(v).map(|on| {
                if on {
                    KeyState::Enabled
                } else {
                    KeyState::Disabled
                }
            }),
            Some(_) => None,
        };
        let rotation = match (
            attr(i, "enable_key_rotation"),
            attr(i, "rotation_period_in_days"),
        ) {
            (Some(Resolved::Unknown(why)), _) | (_, Some(Resolved::Unknown(why))) => {
                Observed::Unknown(unknown_error(format!("rotation: {why}")))
            }
            (on, period) => {
                let enabled = on
                    .and_then(|r| match r {
                        Resolved::Known(v) => value::as_bool(v),
                        _ => None,
                    })
                    .unwrap_or(false);
                let period_days = period
                    .and_then(|r| match r {
                        Resolved::Known(v) => value::as_u32(v),
                        _ => None,
                    })
                    .or(enabled.then_some(365));
                Observed::Known(Rotation {
                    enabled,
                    period_days: period_days.filter(|_| enabled),
                    next_rotation: None,
                })
            }
        };
        let policy_attr = self
            .policy_of_key
            .get(i.address.as_str())
            .and_then(|p| attr(p, "policy"))
            .or_else(|| attr(i, "policy"));
        let default_policy = || Observed::Known(default_key_policy(&key_account(self.facts, i)));
        let policy = match policy_attr {
            None => default_policy(),
            // The provider sends no policy for an empty or null one: KMS applies its default.
            Some(Resolved::Known(Value::Null)) => default_policy(),
            Some(Resolved::Known(v)) => match value::as_str(v) {
                Some("") => default_policy(),
                Some(text) => Observed::Known(text.to_owned()),
                None => Observed::Unknown(unknown_error("policy is not a string")),
            },
            Some(Resolved::Unknown(why)) => {
                Observed::Unknown(unknown_error(format!("policy: {why}")))
            }
            Some(Resolved::Ref(r)) => {
                Observed::Unknown(unknown_error(format!("policy refers to {r}")))
            }
        };
        let tags = {
            let own = value::get(&i.value, "tags").cloned().unwrap_or(Value::Null);
            let defaults = self.facts.default_tags.clone().unwrap_or(Value::Null);
            match (string_map(&defaults), string_map(&own)) {
                (Some(mut all), Some(own)) => {
                    all.extend(own);
                    Observed::Known(all)
                }
                _ => Observed::Unknown(unknown_error("tags are only known after apply")),
            }
        };
        let aliases = self
            .aliases_of_key
            .get(i.address.as_str())
            .cloned()
            .unwrap_or_default();
        KmsKey {
            arn: Some(arn),
            key_manager: Some(KeyManager::Customer),
            key_state: state,
            key_spec: spec,
            key_usage: usage,
            origin: Some("AWS_KMS".into()),
            multi_region: None,
            rotation,
            policy,
            tags,
            aliases: Observed::Known(aliases),
            source: Some(i.location.clone()),
            ..KmsKey::described(qualified(self.facts, &i.address))
        }
    }

    /// The `aws_kms_key` an attribute of `i` refers to, through an alias if need be.
    fn key_of(&self, i: &Instance, name: &str) -> Option<&'a Instance> {
        self.key_of_within(i, name, MAX_ALIAS_HOPS)
    }

    fn key_of_within(&self, i: &Instance, name: &str, hops: usize) -> Option<&'a Instance> {
        let hops = hops.checked_sub(1)?;
        match attr(i, name)? {
            Resolved::Ref(r) => self.resolve_key_within(r, hops),
            Resolved::Known(v) => {
                let s = value::as_str(v)?;
                let alias = self.alias_by_name.get(s)?;
                self.key_of_within(alias, "target_key_id", hops)
            }
            Resolved::Unknown(_) => None,
        }
    }

    fn resolve_key(&self, address: &str) -> Option<&'a Instance> {
        self.resolve_key_within(address, MAX_ALIAS_HOPS)
    }

    fn resolve_key_within(&self, address: &str, hops: usize) -> Option<&'a Instance> {
        let target = self.lookup(address)?;
        match (target.kind.as_str(), target.rtype.as_str()) {
            ("resource", "aws_kms_key") => Some(target),
            ("resource", "aws_kms_alias") => self.key_of_within(target, "target_key_id", hops),
            _ => None,
        }
    }

    /// What an X-Ray configuration's `key_id` names: a declared key, the AWS managed key, or
    /// unknown (with why).
    fn xray_key(&self, key_id: Resolved<'_>) -> Result<KeyChoice<'a>, String> {
        match key_id {
            Resolved::Unknown(why) => Err(format!("key_id: {why}")),
            Resolved::Known(v) => {
                let s = value::as_str(v).ok_or("key_id is not a string")?;
                if is_aws_managed(s) {
                    return Ok(KeyChoice::AwsManaged);
                }
                self.alias_by_name
                    .get(s)
                    .and_then(|a| self.key_of(a, "target_key_id"))
                    .map(KeyChoice::Declared)
                    .ok_or_else(|| {
                        format!(
                            "key_id `{s}` names a key that is not declared in this configuration"
                        )
                    })
            }
            Resolved::Ref(address) => {
                let target = self
                    .lookup(address)
                    .ok_or_else(|| format!("key_id refers to {address}, which is not declared"))?;
                match (target.kind.as_str(), target.rtype.as_str()) {
                    ("data", "aws_kms_alias") => {
                        let name = value::get(&target.value, "name").and_then(value::as_str);
                        match name {
                            Some(n) if is_aws_managed(n) => Ok(KeyChoice::AwsManaged),
                            Some(n) => Err(format!("key_id is data.aws_kms_alias `{n}`, a key not declared in this configuration")),
                            None => Err("key_id is a data.aws_kms_alias whose name is unknown".into()),
                        }
                    }
                    ("data", "aws_kms_key") => {
                        let id = value::get(&target.value, "key_id").and_then(value::as_str);
                        match id {
                            Some(n) if is_aws_managed(n) => Ok(KeyChoice::AwsManaged),
                            Some(n) => Err(format!("key_id is data.aws_kms_key `{n}`, a key not declared in this configuration")),
                            None => Err("key_id is a data.aws_kms_key whose key_id is unknown".into()),
                        }
                    }
                    _ => self
                        .resolve_key(address)
                        .map(KeyChoice::Declared)
                        .ok_or_else(|| {
                            format!("key_id refers to {address}, which is not a KMS key or alias")
                        }),
                }
            }
        }
    }
}

enum KeyChoice<'a> {
    AwsManaged,
    Declared(&'a Instance),
}

/// The inventory of every module scanned.
pub(crate) fn inventory(all: &[ModuleFacts]) -> Inventory {
    let mut inv = Inventory::default();
    let modules: Vec<Module<'_>> = all.iter().map(Module::new).collect();
    for m in &modules {
        for i in m.of_type("aws_kms_key") {
            let key = m.key(i);
            let id = key
                .arn
                .clone()
                .unwrap_or_else(|| qualified(m.facts, &i.address));
            inv.keys.insert(id, Observed::Known(key));
        }
        for cfg in m.of_type("aws_xray_encryption_config") {
            // The account the configuration is judged in: its key's, when the key is declared.
            let mut account = None;
            let encryption = match attr(cfg, "type") {
                Some(Resolved::Known(v)) => match value::as_str(v) {
                    Some("NONE") => Observed::Known(XrayEncryption {
                        encryption_type: EncryptionType::None,
                        key_id: None,
                        status: None,
                    }),
                    Some("KMS") => {
                        let key_id = attr(cfg, "key_id")
                            .unwrap_or(Resolved::Unknown("KMS without key_id".into()));
                        let id = match m.xray_key(key_id) {
                            Ok(KeyChoice::AwsManaged) => {
                                let id = aws_managed_id(m.facts);
                                inv.keys
                                    .entry(id.clone())
                                    .or_insert_with(|| Observed::Known(aws_managed_key()));
                                id
                            }
                            Ok(KeyChoice::Declared(k)) => {
                                account = Some(key_account(m.facts, k));
                                key_arn(m.facts, k)
                            }
                            Err(why) => {
                                let id = format!("{}.key_id", qualified(m.facts, &cfg.address));
                                inv.keys
                                    .insert(id.clone(), Observed::Unknown(unknown_error(why)));
                                id
                            }
                        };
                        Observed::Known(XrayEncryption {
                            encryption_type: EncryptionType::Kms,
                            key_id: Some(id),
                            status: None,
                        })
                    }
                    Some(other) => Observed::Known(XrayEncryption {
                        encryption_type: EncryptionType::Other(other.to_owned()),
                        key_id: None,
                        status: None,
                    }),
                    None => Observed::Unknown(unknown_error("type is not a string")),
                },
                Some(Resolved::Unknown(why)) => {
                    Observed::Unknown(unknown_error(format!("type: {why}")))
                }
                Some(Resolved::Ref(r)) => {
                    Observed::Unknown(unknown_error(format!("type refers to {r}")))
                }
                None => Observed::Unknown(unknown_error("type is required and missing")),
            };
            inv.targets.push(XrayTarget {
                account: account.unwrap_or_else(|| {
                    m.facts
                        .account
                        .clone()
                        .unwrap_or_else(|| UNKNOWN_ACCOUNT.to_owned())
                }),
                region: m.facts.region.clone().unwrap_or_else(|| "-".to_owned()),
                origin: Origin::Terraform {
                    address: qualified(m.facts, &cfg.address),
                    location: cfg.location.clone(),
                },
                encryption,
                trails: None,
                segment_destination: None,
            });
        }
    }
    inv.terraform_modules = root_modules(&modules);
    inv
}

/// Root modules (those no other scanned module calls), each with what its tree traces and the
/// encryption it declares. The evaluation already made the tree: the instances of the modules
/// it calls are the root's, under their full addresses, and what may not exist (a call with an
/// unknown `count`) says so. A called module the evaluation could not follow may declare the
/// encryption, so it is an unknown declaration.
fn root_modules(modules: &[Module<'_>]) -> Vec<TerraformModule> {
    let called: BTreeSet<&str> = modules
        .iter()
        .flat_map(|m| m.facts.calls.iter().map(String::as_str))
        .collect();
    modules
        .iter()
        .filter(|m| !called.contains(m.facts.path.as_str()))
        .map(|root| {
            let mut encryption: Vec<DeclaredConfig> = root
                .of_type("aws_xray_encryption_config")
                .map(|c| {
                    let (presence, location) = tracing::existence(c);
                    DeclaredConfig {
                        address: qualified(root.facts, &c.address),
                        location,
                        presence,
                    }
                })
                .collect();
            encryption.extend(root.facts.unread.iter().map(|u| DeclaredConfig {
                address: if u.dir.is_empty() {
                    u.address.clone()
                } else {
                    format!("{} ({})", u.address, u.dir)
                },
                location: u.location.clone(),
                presence: Presence::Unknown(match &u.maybe {
                    Some(maybe) => {
                        format!("{}; and the call may not be made: {}", u.why, maybe.why)
                    }
                    None => u.why.clone(),
                }),
            }));
            TerraformModule {
                path: root.facts.path.clone(),
                tracing: tracing::sites(root),
                encryption,
                location: root.facts.location.clone(),
            }
        })
        .collect()
}
