//! A parsed template to the inventory the rules judge, as the Terraform reader does for a module:
//!
//! - each `AWS::KMS::Key` is a key (spec, usage, state, rotation, policy, tags, origin, the
//!   aliases of `AWS::KMS::Alias` resources that target it), judged under a synthetic ARN named
//!   after the template and logical id (and the CDK construct path when there is one);
//! - each automatic guardrail remediation (`AWSConfigRemediation-UpdateXRayKMSKey`) and each
//!   `Custom::XRayEncryptionConfig` is an X-Ray target, with the key it sets, and with Transaction
//!   Search's destination and the `aws/spans` log group when the template declares an
//!   `AWS::XRay::TransactionSearchConfig`;
//! - the template records where it turns tracing on and what sets the encryption (for
//!   `cfn-xray-encryption-missing`);
//! - each nested stack whose template is a local file is evaluated as an instance (see
//!   [`crate::nested`]): its keys and targets join the inventory under the parent's names, its
//!   tracing and setters join the parent's, and its outputs are what the parent's
//!   `Fn::GetAtt Nested.Outputs.Name` reads. One that is not followed may set the encryption
//!   or turn tracing on, so it is both, unknown.

use std::collections::BTreeMap;

use serde_json::Value as J;
use xray_cmk_core::model::{
    CloudFormationTemplate, DeclaredConfig, LogGroup, Presence, Rotation, SegmentDestination,
    TracingSite,
};
use xray_cmk_core::{
    CollectionError, EncryptionType, ErrorKind, Inventory, KeyManager, KeyState, KmsKey, Observed,
    Origin, SourceLocation, XrayEncryption, XrayTarget,
};

use crate::eval::{
    as_bool, as_str, as_u32, refers, Mode, Parameters, Passed, Template, NESTED_TYPES, R,
    SELF_ACCOUNT,
};
use crate::nested::{Nesting, Source};
use crate::yaml::{Key, Node};

const AWS_MANAGED_ALIAS: &str = "alias/aws/xray";

/// One resource of a template.
pub(crate) struct Resource<'a> {
    pub id: &'a str,
    pub rtype: &'a str,
    pub props: Option<&'a Node>,
    /// Whether it is deployed: `Ok(true)`, `Ok(false)` for a false `Condition`, or why unknown.
    pub deployed: Result<bool, String>,
    /// `Metadata.aws:cdk:path`.
    pub cdk_path: Option<&'a str>,
    /// `Metadata.aws:asset:path` with the property it stands for (`aws:asset:property`): the
    /// local file CDK uploads as a nested stack's `TemplateURL`.
    pub asset: Option<(&'a str, &'a str)>,
    pub location: SourceLocation,
}

impl Resource<'_> {
    /// The logical id, with the construct path CDK wrote.
    fn name(&self) -> String {
        match self.cdk_path {
            Some(p) => format!("{} ({p})", self.id),
            None => self.id.to_owned(),
        }
    }

    fn presence(&self) -> Option<Presence> {
        match &self.deployed {
            Ok(true) => Some(Presence::Certain),
            Ok(false) => None,
            Err(why) => Some(Presence::Unknown(why.clone())),
        }
    }
}

/// Where a template is evaluated: on its own, or as a nested stack of a parent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    /// Before every address and key name of the instance: `parent.yaml/Nested/` (empty for a
    /// template on its own), so that the instance never collides with the template alone.
    pub prefix: String,
    /// Before the logical ids messages name: the nested stacks' logical ids (`Nested/`).
    pub label: String,
    /// Why the instance may not be deployed: a nested stack's `Condition` is unknown.
    pub maybe: Option<String>,
}

impl Place {
    /// Certain, unless the instance itself may not be deployed.
    fn presence(&self, own: Presence) -> Presence {
        match (own, &self.maybe) {
            (Presence::Certain, Some(why)) => Presence::Unknown(why.clone()),
            (own, _) => own,
        }
    }
}

/// A template read and ready to be turned into inventory.
pub(crate) struct Parsed<'a> {
    pub path: String,
    pub eval: Template<'a>,
    pub root: &'a Node,
    pub resources: Vec<Resource<'a>>,
    pub given: &'a Parameters,
    pub place: Place,
}

fn location(file: &str, key: &Key) -> SourceLocation {
    SourceLocation {
        file: file.to_owned(),
        line: key.pos.line,
        column: key.pos.column,
        end_line: key.pos.line,
        end_column: key.pos.column + u32::try_from(key.name.chars().count()).unwrap_or(0),
    }
}

impl<'a> Parsed<'a> {
    pub fn new(path: String, root: &'a Node, given: &'a Parameters) -> Self {
        Self::at(path, root, given, None, Place::default())
    }

    /// The template as a nested stack deploys it, with what its parent passes.
    pub fn at(
        path: String,
        root: &'a Node,
        given: &'a Parameters,
        passed: Option<&Passed>,
        place: Place,
    ) -> Self {
        let eval = Template::with(root, given, passed);
        let resources = root
            .get("Resources")
            .map_or(&[][..], Node::entries)
            .iter()
            .map(|(k, v)| Resource {
                id: k.name.as_str(),
                rtype: v.get("Type").and_then(Node::as_str).unwrap_or(""),
                props: v.get("Properties"),
                deployed: match v.get("Condition").map(|c| c.as_str()) {
                    None => Ok(true),
                    Some(Some(c)) => eval.condition(c),
                    Some(None) => Err("the resource's Condition is not a name".to_owned()),
                },
                cdk_path: v
                    .get("Metadata")
                    .and_then(|m| m.get("aws:cdk:path"))
                    .and_then(Node::as_str),
                asset: v.get("Metadata").and_then(|m| {
                    Some((
                        m.get("aws:asset:property")?.as_str()?,
                        m.get("aws:asset:path")?.as_str()?,
                    ))
                }),
                location: location(&path, k),
            })
            .collect();
        Parsed {
            path,
            eval,
            root,
            resources,
            given,
            place,
        }
    }

    /// The logical id messages name: with the nested stacks' ids in an instance.
    fn shown(&self, r: &Resource<'_>) -> String {
        format!("{}{}", self.place.label, r.name())
    }

    /// The address of a resource: `FILE/LOGICALID`, after the parent's in an instance.
    fn address(&self, r: &Resource<'_>) -> String {
        format!("{}{}/{}", self.place.prefix, self.path, r.name())
    }

    fn of_type<'s>(&'s self, rtype: &'s str) -> impl Iterator<Item = &'s Resource<'a>> + 's {
        self.resources
            .iter()
            .filter(move |r| r.rtype == rtype && r.deployed != Ok(false))
    }

    fn by_id(&self, id: &str) -> Option<&Resource<'a>> {
        self.resources.iter().find(|r| r.id == id)
    }

    fn prop(&self, r: &Resource<'_>, name: &str, mode: Mode) -> Option<R> {
        r.props?.get(name).map(|n| self.eval.resolve(n, mode))
    }

    /// The value at `path` below `start`: followed through plain mappings, so that a reference
    /// beside the setting does not make it unknown; from an intrinsic on, through its value.
    fn at_path(&self, start: &Node, path: &[&str]) -> Option<R> {
        let mut node = start;
        for (i, name) in path.iter().enumerate() {
            if crate::eval::intrinsic(node).is_some() {
                let v = self.eval.resolve(node, Mode::Strict);
                return path[i..].iter().try_fold(v, |v, n| match v {
                    R::Known(j) => j.get(*n).cloned().map(R::Known),
                    other => Some(other),
                });
            }
            node = node.get(name)?;
        }
        Some(self.eval.resolve(node, Mode::Strict))
    }

    fn account(&self) -> String {
        self.given.account().unwrap_or(SELF_ACCOUNT).to_owned()
    }

    fn region(&self) -> String {
        self.given.region().unwrap_or("-").to_owned()
    }

    /// The synthetic ARN a key of the template is judged under.
    fn key_arn(&self, key: &Resource<'_>) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{}",
            self.region(),
            self.account(),
            self.address(key)
        )
    }

    /// The `AWS::KMS::Key` a value names: by `Ref`/`Fn::GetAtt`, through an `AWS::KMS::Alias`
    /// of the template, or by such an alias's name.
    fn key_named(&self, value: &R) -> Option<&Resource<'a>> {
        let mut value = value.clone();
        for _ in 0..4 {
            let target = match &value {
                R::Ref(id, _) => self.by_id(id)?,
                R::Known(j) => {
                    let name = as_str(j)?;
                    let name = name
                        .rsplit_once(":alias/")
                        .map_or(name.clone(), |(_, n)| format!("alias/{n}"));
                    self.of_type("AWS::KMS::Alias").find(|a| {
                        self.prop(a, "AliasName", Mode::Strict)
                            .is_some_and(|n| matches!(n, R::Known(ref j) if as_str(j).as_deref() == Some(name.as_str())))
                    })?
                }
                _ => return None,
            };
            match target.rtype {
                "AWS::KMS::Key" => return Some(target),
                "AWS::KMS::Alias" => value = self.prop(target, "TargetKeyId", Mode::Strict)?,
                _ => return None,
            }
        }
        None
    }

    fn key(&self, r: &Resource<'_>, aliases: Vec<String>) -> KmsKey {
        let strict = |name: &str| self.prop(r, name, Mode::Strict);
        let known_str = |name: &str, default: &str| match strict(name) {
            None | Some(R::NoValue) => Some(default.to_owned()),
            Some(R::Known(j)) => as_str(&j),
            Some(_) => None,
        };
        let state = match strict("Enabled") {
            None | Some(R::NoValue) => Some(KeyState::Enabled),
            Some(R::Known(j)) => as_bool(&j).map(|on| {
                if on {
                    KeyState::Enabled
                } else {
                    KeyState::Disabled
                }
            }),
            Some(_) => None,
        };
        let flag = |name: &str| match strict(name) {
            None | Some(R::NoValue) => Ok(None),
            Some(R::Known(j)) => as_bool(&j)
                .map(Some)
                .ok_or_else(|| format!("{name} is not a boolean")),
            Some(R::Unknown(why)) => Err(format!("{name}: {why}")),
            Some(R::Ref(id, attr)) => Err(format!("{name} {}", refers(&id, attr.as_deref()))),
        };
        let rotation = (|| {
            let enabled = flag("EnableKeyRotation")?.unwrap_or(false);
            let period = match strict("RotationPeriodInDays") {
                None | Some(R::NoValue) => None,
                Some(R::Known(j)) => {
                    Some(as_u32(&j).ok_or("RotationPeriodInDays is not a number")?)
                }
                Some(R::Unknown(why)) => return Err(format!("RotationPeriodInDays: {why}")),
                Some(R::Ref(id, attr)) => {
                    return Err(format!(
                        "RotationPeriodInDays {}",
                        refers(&id, attr.as_deref())
                    ))
                }
            };
            Ok(Rotation {
                enabled,
                period_days: enabled.then_some(period.unwrap_or(365)),
                next_rotation: None,
            })
        })();
        let policy = match self.prop(r, "KeyPolicy", Mode::Policy) {
            None | Some(R::NoValue) => Ok(default_key_policy(&self.account())),
            Some(R::Known(J::String(text))) => Ok(text),
            Some(R::Known(j @ J::Object(_))) => Ok(j.to_string()),
            Some(R::Known(_)) => Err("KeyPolicy is not an object or a JSON string".to_owned()),
            Some(R::Unknown(why)) => Err(format!("KeyPolicy: {why}")),
            Some(R::Ref(id, attr)) => Err(format!("KeyPolicy {}", refers(&id, attr.as_deref()))),
        };
        let tags = match strict("Tags") {
            None | Some(R::NoValue) => Ok(BTreeMap::new()),
            Some(R::Known(J::Array(items))) => items
                .iter()
                .map(|t| {
                    match (
                        t.get("Key").and_then(as_str),
                        t.get("Value").and_then(as_str),
                    ) {
                        (Some(k), Some(v)) => Ok((k, v)),
                        _ => Err("a tag without a Key and a Value".to_owned()),
                    }
                })
                .collect(),
            Some(R::Known(_)) => Err("Tags is not a list".to_owned()),
            Some(R::Unknown(why)) => Err(format!("Tags: {why}")),
            Some(R::Ref(id, attr)) => Err(format!("Tags {}", refers(&id, attr.as_deref()))),
        };
        KmsKey {
            arn: Some(self.key_arn(r)),
            key_manager: Some(KeyManager::Customer),
            key_state: state,
            key_spec: known_str("KeySpec", "SYMMETRIC_DEFAULT"),
            key_usage: known_str("KeyUsage", "ENCRYPT_DECRYPT"),
            origin: known_str("Origin", "AWS_KMS"),
            multi_region: match strict("MultiRegion") {
                None => Some(false),
                Some(R::Known(j)) => as_bool(&j),
                Some(_) => None,
            },
            rotation: observed(rotation),
            policy: observed(policy),
            tags: observed(tags),
            aliases: Observed::Known(aliases),
            source: Some(r.location.clone()),
            ..KmsKey::described(self.address(r))
        }
    }

    /// The inventory id of the key a target's `KeyId` names; an undeclared key is recorded as
    /// unknown under an id of its own.
    fn target_key(&self, inv: &mut Inventory, at: &Resource<'_>, value: Option<R>) -> String {
        let value = value.unwrap_or_else(|| R::Unknown("no KeyId".to_owned()));
        if let Some(k) = self.key_named(&value) {
            return self.key_arn(k);
        }
        if let R::Known(j) = &value {
            // A key of a nested stack (through its outputs) or of the parent (through a
            // parameter) comes as the name it has in the inventory.
            if let Some(id) = as_str(j).filter(|n| inv.keys.contains_key(n)) {
                return id;
            }
            if as_str(j).is_some_and(|n| {
                n == AWS_MANAGED_ALIAS || n.ends_with(&format!(":{AWS_MANAGED_ALIAS}"))
            }) {
                let id = format!(
                    "arn:aws:kms:{}:{}:{AWS_MANAGED_ALIAS}",
                    self.region(),
                    self.account()
                );
                inv.keys
                    .entry(id.clone())
                    .or_insert_with(|| Observed::Known(aws_managed_key()));
                return id;
            }
        }
        let why = match value {
            R::Known(j) => format!(
                "KeyId {} is not a key of this template; audit the deployed key (`xray-cmk audit`)",
                as_str(&j).unwrap_or_else(|| j.to_string())
            ),
            R::Unknown(why) => format!("KeyId: {why}"),
            R::Ref(id, attr) => format!("KeyId {}", refers(&id, attr.as_deref())),
            R::NoValue => "KeyId is AWS::NoValue".to_owned(),
        };
        let id = format!("{}.KeyId", self.address(at));
        inv.keys
            .insert(id.clone(), Observed::Unknown(unknown_error(why)));
        id
    }

    /// What sets X-Ray's encryption: the automatic guardrail remediation, or xray-cmk's custom
    /// resource; each with the `KeyId` value node.
    fn encryption_setters(&self) -> Vec<(&Resource<'a>, Setter<'a>)> {
        let mut out = Vec::new();
        for r in &self.resources {
            if r.deployed == Ok(false) {
                continue;
            }
            match r.rtype {
                "AWS::Config::RemediationConfiguration" => {
                    let target = self.prop(r, "TargetId", Mode::Strict);
                    let is_runbook = matches!(&target, Some(R::Known(j)) if as_str(j).as_deref() == Some(xray_cmk_core::guard::REMEDIATION_DOCUMENT));
                    let automatic = matches!(self.prop(r, "Automatic", Mode::Strict), Some(R::Known(j)) if as_bool(&j) == Some(true));
                    if is_runbook && automatic {
                        let key = r
                            .props
                            .and_then(|p| p.get("Parameters"))
                            .and_then(|p| p.get("KeyId"))
                            .and_then(|k| k.get("StaticValue"))
                            .and_then(|s| s.get("Values"))
                            .and_then(|v| match &v.kind {
                                crate::yaml::Kind::Seq(items) => items.first(),
                                _ => None,
                            });
                        out.push((r, Setter { key, kms: Ok(true) }));
                    }
                }
                t if t == xray_cmk_core::rules::CFN_XRAY_CUSTOM_RESOURCE => {
                    let kms = match self.prop(r, "Type", Mode::Strict) {
                        Some(R::Known(j)) => match as_str(&j).as_deref() {
                            Some("KMS") => Ok(true),
                            Some("NONE") => Ok(false),
                            _ => Err(format!("Type {j} is neither KMS nor NONE")),
                        },
                        Some(R::Unknown(why)) => Err(format!("Type: {why}")),
                        _ => Err("Type is missing".to_owned()),
                    };
                    out.push((
                        r,
                        Setter {
                            key: r.props.and_then(|p| p.get("KeyId")),
                            kms,
                        },
                    ));
                }
                _ => {}
            }
        }
        out
    }

    /// Transaction Search's destination, for the targets, when the template declares it.
    fn segment_destination(&self) -> Option<Observed<SegmentDestination>> {
        let tsc = self.of_type("AWS::XRay::TransactionSearchConfig").next()?;
        if let Err(why) = &tsc.deployed {
            return Some(Observed::Unknown(unknown_error(why.clone())));
        }
        let mut group = Observed::Known(None);
        for g in self.of_type("AWS::Logs::LogGroup") {
            match self.prop(g, "LogGroupName", Mode::Strict) {
                Some(R::Known(j)) if as_str(&j).as_deref() == Some("aws/spans") => {}
                Some(R::Unknown(why)) => {
                    group = Observed::Unknown(unknown_error(format!(
                        "whether {} is aws/spans: {why}",
                        self.shown(g)
                    )));
                    continue;
                }
                _ => continue,
            }
            let kms = match self.prop(g, "KmsKeyId", Mode::Strict) {
                None | Some(R::NoValue) => Ok(None),
                Some(v) => match (self.key_named(&v), v) {
                    (Some(k), _) => Ok(Some(self.key_arn(k))),
                    (None, R::Known(j)) => Ok(as_str(&j)),
                    (None, R::Unknown(why)) => Err(format!("KmsKeyId: {why}")),
                    (None, R::Ref(id, attr)) => {
                        Err(format!("KmsKeyId {}", refers(&id, attr.as_deref())))
                    }
                    (None, R::NoValue) => Ok(None),
                },
            };
            group = match (kms, &g.deployed) {
                (_, Err(why)) => Observed::Unknown(unknown_error(why.clone())),
                (Ok(kms_key_id), _) => Observed::Known(Some(LogGroup {
                    name: "aws/spans".to_owned(),
                    kms_key_id,
                })),
                (Err(why), _) => Observed::Unknown(unknown_error(why)),
            };
            break;
        }
        Some(Observed::Known(SegmentDestination {
            destination: "CloudWatchLogs".to_owned(),
            status: None,
            spans_log_group: Some(group),
        }))
    }

    /// Adds the template's keys and targets to `inv` (and those of the nested stacks it
    /// follows), and returns what it traces and what sets the encryption, its nested stacks'
    /// included.
    pub fn add_to(&self, inv: &mut Inventory, nest: &mut Nesting<'_>) -> CloudFormationTemplate {
        let mut aliases: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for a in self.of_type("AWS::KMS::Alias") {
            let (Some(target), Some(R::Known(name))) = (
                self.prop(a, "TargetKeyId", Mode::Strict)
                    .as_ref()
                    .and_then(|v| self.key_named(v)),
                self.prop(a, "AliasName", Mode::Strict),
            ) else {
                continue;
            };
            if let Some(name) = as_str(&name) {
                aliases.entry(target.id).or_default().push(name);
            }
        }
        for k in self.of_type("AWS::KMS::Key") {
            let key = self.key(k, aliases.remove(k.id).unwrap_or_default());
            inv.keys.insert(self.key_arn(k), Observed::Known(key));
        }
        let (mut tracing, mut encryption) = self.nested(inv, nest);
        let segments = self.segment_destination();
        for (r, setter) in self.encryption_setters() {
            let enc = match setter.kms {
                Ok(true) => {
                    let value = setter.key.map(|n| self.eval.resolve(n, Mode::Strict));
                    Observed::Known(XrayEncryption {
                        encryption_type: EncryptionType::Kms,
                        key_id: Some(self.target_key(inv, r, value)),
                        status: None,
                    })
                }
                Ok(false) => Observed::Known(XrayEncryption {
                    encryption_type: EncryptionType::None,
                    key_id: None,
                    status: None,
                }),
                Err(why) => Observed::Unknown(unknown_error(why)),
            };
            let address = self.address(r);
            inv.targets.push(XrayTarget {
                account: self.account(),
                region: self.region(),
                origin: Origin::CloudFormation {
                    address: address.clone(),
                    location: r.location.clone(),
                },
                encryption: enc,
                trails: None,
                segment_destination: segments.clone(),
            });
            if let Some(presence) = r.presence() {
                encryption.push(DeclaredConfig {
                    address,
                    location: r.location.clone(),
                    presence: self.place.presence(presence),
                });
            }
        }
        let mut own = self.tracing();
        own.append(&mut tracing);
        CloudFormationTemplate {
            path: self.path.clone(),
            tracing: own,
            encryption,
            location: SourceLocation {
                file: self.path.clone(),
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
            },
        }
    }

    /// The nested stacks: each followed one evaluated as an instance (its keys and targets
    /// added to `inv`, its outputs recorded for `Fn::GetAtt`), with what it traces and sets;
    /// each one not followed an unknown setter and an unknown tracing site. A nested stack
    /// whose `Parameters` read a sibling's outputs is evaluated after it.
    fn nested(
        &self,
        inv: &mut Inventory,
        nest: &mut Nesting<'_>,
    ) -> (Vec<TracingSite>, Vec<DeclaredConfig>) {
        let mut tracing = Vec::new();
        let mut encryption = Vec::new();
        let mut queue: std::collections::VecDeque<(&Resource<'a>, bool)> = self
            .resources
            .iter()
            .filter(|r| NESTED_TYPES.contains(&r.rtype) && r.deployed != Ok(false))
            .map(|r| (r, false))
            .collect();
        while let Some((r, deferred)) = queue.pop_front() {
            let _ = self.eval.take_read_pending();
            let passed = self.passed(r);
            if self.eval.take_read_pending() && !deferred && !queue.is_empty() {
                queue.push_back((r, true));
                continue;
            }
            let maybe = self.place.maybe.clone().or_else(|| match &r.deployed {
                Err(why) => Some(format!("{}: {why}", self.shown(r))),
                Ok(_) => None,
            });
            let place = Place {
                prefix: format!("{}{}/{}/", self.place.prefix, self.path, r.id),
                label: format!("{}/", self.shown(r)),
                maybe,
            };
            let followed = match self.nested_source(r) {
                Source::Local(path) => nest.follow(&path, inv, &passed, place),
                Source::NotFollowed(why) => Err(why),
            };
            match followed {
                Ok(child) => {
                    self.eval.set_outputs(r.id, Ok(child.outputs));
                    tracing.extend(child.template.tracing);
                    encryption.extend(child.template.encryption);
                }
                Err(why) => {
                    self.eval.set_outputs(
                        r.id,
                        Err(format!("the nested stack is not followed: {why}")),
                    );
                    let Some(presence) = r.presence() else {
                        continue;
                    };
                    let also = match self.place.presence(presence) {
                        Presence::Certain => String::new(),
                        Presence::Unknown(w) => format!("; and it may not be deployed: {w}"),
                    };
                    let unknown = |what: &str| {
                        Presence::Unknown(format!(
                            "the nested stack is not followed: {why}; its template {what}{also}"
                        ))
                    };
                    encryption.push(DeclaredConfig {
                        address: self.address(r),
                        location: r.location.clone(),
                        presence: unknown("may set X-Ray's encryption"),
                    });
                    tracing.push(TracingSite {
                        what: format!("{} ({}) nested stack", self.shown(r), r.rtype),
                        location: r.location.clone(),
                        presence: unknown("may turn tracing on"),
                    });
                }
            }
        }
        (tracing, encryption)
    }

    /// Where a nested stack's template is: a local path (joined to this template's directory),
    /// or why it is not followed.
    fn nested_source(&self, r: &Resource<'_>) -> Source {
        let name = if r.rtype == "AWS::Serverless::Application" {
            "Location"
        } else {
            "TemplateURL"
        };
        let dir = std::path::Path::new(&self.path)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        // CDK output names the file it uploads as the template; CDK and the SAM CLI read it.
        if let Some((_, file)) = r.asset.filter(|(property, _)| *property == name) {
            return Source::Local(dir.join(file));
        }
        let text = match self.prop(r, name, Mode::Strict) {
            None | Some(R::NoValue) => return Source::NotFollowed(format!("it has no {name}")),
            Some(R::Known(J::Object(m))) => {
                return Source::NotFollowed(match (m.get("ApplicationId"), m.get("SemanticVersion")) {
                    (Some(id), version) => format!(
                        "{name} names the Serverless Application Repository application {} {}, whose template the scan cannot read",
                        as_str(id).unwrap_or_else(|| id.to_string()),
                        version.and_then(as_str).unwrap_or_default()
                    ),
                    _ => format!("{name} is neither a path nor an application"),
                })
            }
            Some(R::Known(j)) => match as_str(&j) {
                Some(s) if !s.trim().is_empty() => s,
                _ => return Source::NotFollowed(format!("{name} is not a path")),
            },
            Some(R::Unknown(why)) => return Source::NotFollowed(format!("{name}: {why}")),
            Some(R::Ref(id, attr)) => {
                return Source::NotFollowed(format!("{name} {}", refers(&id, attr.as_deref())))
            }
        };
        if crate::nested::is_url(&text) {
            return Source::NotFollowed(format!(
                "{name} {text} is a URL (S3 or HTTPS, as `aws cloudformation package` leaves it): scan the template it was packaged from"
            ));
        }
        Source::Local(dir.join(text.trim()))
    }

    /// What a nested stack resource passes to its template's parameters, evaluated here: a
    /// key of this template (or of a nested stack, through its outputs) is passed as the name
    /// it has in the inventory, so the child's `KeyId` names it.
    fn passed(&self, r: &Resource<'_>) -> Passed {
        let mut out = Passed {
            by: self.address(r),
            values: BTreeMap::new(),
            all_unknown: None,
            in_policy: BTreeMap::new(),
        };
        let Some(node) = r.props.and_then(|p| p.get("Parameters")) else {
            return out;
        };
        let entries = if crate::eval::intrinsic(node).is_some() {
            match self.eval.resolve(node, Mode::Strict) {
                R::Known(J::Object(m)) => {
                    for (k, v) in m {
                        out.values.insert(k, Ok(v));
                    }
                    return out;
                }
                R::NoValue => return out,
                R::Known(_) => {
                    out.all_unknown = Some("not a mapping".to_owned());
                    return out;
                }
                R::Unknown(why) => {
                    out.all_unknown = Some(why);
                    return out;
                }
                R::Ref(id, attr) => {
                    out.all_unknown = Some(refers(&id, attr.as_deref()));
                    return out;
                }
            }
        } else {
            node.entries()
        };
        for (k, v) in entries {
            let value = match self.eval.resolve(v, Mode::Strict) {
                R::Known(j) => Ok(j),
                R::NoValue => continue,
                R::Unknown(why) => {
                    if let R::Known(j) = self.eval.resolve(v, Mode::Policy) {
                        out.in_policy.insert(k.name.clone(), j);
                    }
                    Err(why)
                }
                R::Ref(id, attr) => match self.key_named(&R::Ref(id.clone(), attr.clone())) {
                    Some(key) => Ok(J::String(self.key_arn(key))),
                    None => Err(refers(&id, attr.as_deref())),
                },
            };
            out.values.insert(k.name.clone(), value);
        }
        out
    }

    /// The template's `Outputs` as its parent's `Fn::GetAtt Nested.Outputs.Name` reads them: a
    /// key of the template by the name it has in the inventory, another resource unknown.
    pub fn outputs(&self) -> BTreeMap<String, R> {
        let mut out = BTreeMap::new();
        for (k, o) in self.root.get("Outputs").map_or(&[][..], Node::entries) {
            let deployed = match o.get("Condition").map(|c| c.as_str()) {
                None => Ok(true),
                Some(Some(c)) => self.eval.condition(c),
                Some(None) => Err("the output's Condition is not a name".to_owned()),
            };
            let value = match (deployed, o.get("Value")) {
                (Ok(false), _) => continue,
                (Err(why), _) => R::Unknown(format!("output {}: {why}", k.name)),
                (Ok(true), None) => R::Unknown(format!("output {} has no Value", k.name)),
                (Ok(true), Some(v)) => match self.eval.resolve(v, Mode::Strict) {
                    R::Ref(id, attr) => match self.key_named(&R::Ref(id.clone(), attr.clone())) {
                        Some(key) => R::Known(J::String(self.key_arn(key))),
                        None => R::Unknown(format!(
                            "output {} of {}: {}",
                            k.name,
                            self.path,
                            refers(&id, attr.as_deref())
                        )),
                    },
                    other => other,
                },
            };
            out.insert(k.name.clone(), value);
        }
        out
    }

    /// What turns X-Ray tracing on, or may, with where.
    fn tracing(&self) -> Vec<TracingSite> {
        let globals = self.root.get("Globals");
        let global = |section: &str, name: &str| {
            globals
                .and_then(|g| g.get(section))
                .and_then(|s| s.get(name))
                .map(|n| self.eval.resolve(n, Mode::Strict))
        };
        let mut out = Vec::new();
        for r in &self.resources {
            let Some(presence) = r.presence() else {
                continue;
            };
            let own = |path: &[&str]| -> Option<R> { self.at_path(r.props?, path) };
            let (setting, value, on): (String, Option<R>, fn(&J) -> bool) = match r.rtype {
                "AWS::Lambda::Function" => (
                    "TracingConfig.Mode".into(),
                    own(&["TracingConfig", "Mode"]),
                    is_active,
                ),
                "AWS::Serverless::Function" => match own(&["Tracing"]) {
                    Some(v) => ("Tracing".into(), Some(v), is_active),
                    None => (
                        "Tracing (from Globals)".into(),
                        global("Function", "Tracing"),
                        is_active,
                    ),
                },
                "AWS::ApiGateway::Stage" => {
                    ("TracingEnabled".into(), own(&["TracingEnabled"]), is_true)
                }
                "AWS::Serverless::Api" => match own(&["TracingEnabled"]) {
                    Some(v) => ("TracingEnabled".into(), Some(v), is_true),
                    None => (
                        "TracingEnabled (from Globals)".into(),
                        global("Api", "TracingEnabled"),
                        is_true,
                    ),
                },
                "AWS::StepFunctions::StateMachine" => (
                    "TracingConfiguration.Enabled".into(),
                    own(&["TracingConfiguration", "Enabled"]),
                    is_true,
                ),
                "AWS::Serverless::StateMachine" => (
                    "Tracing.Enabled".into(),
                    own(&["Tracing", "Enabled"]),
                    is_true,
                ),
                "AWS::AppRunner::ObservabilityConfiguration" => (
                    "TraceConfiguration".into(),
                    own(&["TraceConfiguration"]),
                    |j| !j.is_null(),
                ),
                "AWS::AppRunner::Service" => (
                    "ObservabilityConfiguration.ObservabilityEnabled".into(),
                    own(&["ObservabilityConfiguration", "ObservabilityEnabled"]),
                    is_true,
                ),
                "AWS::AppSync::GraphQLApi" => {
                    ("XrayEnabled".into(), own(&["XrayEnabled"]), is_true)
                }
                "AWS::XRay::Group"
                | "AWS::XRay::SamplingRule"
                | "AWS::XRay::TransactionSearchConfig" => {
                    ("declared".into(), Some(R::Known(J::Bool(true))), is_true)
                }
                _ => continue,
            };
            let what = |detail: String| format!("{} ({}) {detail}", self.shown(r), r.rtype);
            let site = |what: String, presence: Presence| TracingSite {
                what,
                location: r.location.clone(),
                presence: self.place.presence(presence),
            };
            match value {
                None | Some(R::NoValue) => {}
                Some(R::Known(j)) if on(&j) => {
                    let shown = match &j {
                        J::Bool(_) | J::String(_) | J::Number(_) => {
                            format!("{setting}: {}", as_str(&j).unwrap_or_default())
                        }
                        _ => setting.clone(),
                    };
                    let shown = if setting == "declared" {
                        "declared".to_owned()
                    } else {
                        shown
                    };
                    out.push(site(what(shown), presence));
                }
                Some(R::Known(_)) => {}
                Some(R::Unknown(why)) => {
                    out.push(site(what(setting.clone()), Presence::Unknown(why)))
                }
                Some(R::Ref(id, attr)) => out.push(site(
                    what(setting.clone()),
                    Presence::Unknown(refers(&id, attr.as_deref())),
                )),
            }
        }
        out
    }
}

/// What a setter of X-Ray's encryption says.
pub(crate) struct Setter<'a> {
    /// The `KeyId` value, unresolved.
    key: Option<&'a Node>,
    /// `Ok(true)` for KMS, `Ok(false)` for NONE, or why unknown.
    kms: Result<bool, String>,
}

fn observed<T>(r: Result<T, String>) -> Observed<T> {
    match r {
        Ok(v) => Observed::Known(v),
        Err(why) => Observed::Unknown(unknown_error(why)),
    }
}

fn is_active(j: &J) -> bool {
    as_str(j).as_deref() == Some("Active")
}

fn is_true(j: &J) -> bool {
    as_bool(j) == Some(true)
}

fn unknown_error(message: impl Into<String>) -> CollectionError {
    CollectionError {
        operation: "cloudformation".to_owned(),
        kind: ErrorKind::Other,
        code: None,
        message: message.into(),
    }
}

/// KMS's default key policy: the account root, which delegates to IAM. CloudFormation gives a
/// key without `KeyPolicy` this policy.
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

/// The shape of the policy AWS gives `aws/xray`: any principal of the account, through X-Ray.
fn aws_managed_key() -> KmsKey {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Id": "auto-xray",
        "Statement": [{
            "Sid": "Allow access through X-Ray for all principals in the account that are authorized to use X-Ray",
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": { "StringEquals": {
                "kms:CallerAccount": SELF_ACCOUNT,
                "kms:ViaService": "xray.us-east-1.amazonaws.com",
            } },
        }],
    });
    KmsKey {
        policy: Observed::Known(policy.to_string()),
        key_manager: Some(KeyManager::Aws),
        key_state: Some(KeyState::Enabled),
        key_spec: Some("SYMMETRIC_DEFAULT".into()),
        key_usage: Some("ENCRYPT_DECRYPT".into()),
        aliases: Observed::Known(vec![AWS_MANAGED_ALIAS.into()]),
        ..KmsKey::described(AWS_MANAGED_ALIAS)
    }
}

/// Whether a parsed document is a CloudFormation template: `AWSTemplateFormatVersion`, or a
/// `Resources` mapping with an entry of `Type: AWS::…`.
pub(crate) fn is_template(root: &Node) -> bool {
    root.get("AWSTemplateFormatVersion").is_some()
        || root.get("Resources").is_some_and(|r| {
            r.entries().iter().any(|(_, v)| {
                v.get("Type")
                    .and_then(Node::as_str)
                    .is_some_and(|t| t.starts_with("AWS::"))
            })
        })
}
