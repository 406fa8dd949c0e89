//! Applying a plan to AWS: for each step, read the current state, let the core decide
//! ([`xray_cmk_core::remediation::apply`]), act only when it says run, and record the outcome.
//!
//! A target stops at its first failure; the others go on. Every step can run again after a crash
//! without duplicating anything: created keys carry `managed-by=xray-cmk` and the alias they are
//! for, so a key that lost its alias to a crash is found and adopted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use aws_sdk_xray::types::{EncryptionStatus, EncryptionType};
use aws_smithy_types::date_time::Format;
use xray_cmk_core::remediation::adopt::{self, decide_lost_race, LostRace, PlannedKey};
use xray_cmk_core::remediation::apply::{
    decide_create_key, decide_merge, decide_rotation, decide_tags, decide_xray, keeps_admin,
    Create, Decision, DiscardedKey, KeySnapshot, Outcome, StepResult, TargetResult, XrayNow,
};
use xray_cmk_core::remediation::plan::{
    Action, KeyRef, Precondition, Step, TargetPlan, DISCARD_WINDOW_DAYS, LOST_ALIAS_RACE,
    ORPHAN_TAG,
};
use xray_cmk_core::{CollectionError, ErrorKind, KeyManager, KeyState};

use crate::collect::ClientSource;
use crate::error::classify;
use crate::verify::{check, VerifyError, VerifyOptions};

/// Every AWS action `apply` and `verify` may call besides the audit's, as IAM names them.
/// `xray-cmk iam-policy --mode remediate` prints them; an end-to-end test checks that apply calls
/// only these, and a unit test that they are exactly what [`step_calls`] lists plus
/// [`SETUP_ACTIONS`].
pub const REMEDIATE_ACTIONS: &[&str] = &[
    "iam:SimulatePrincipalPolicy",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:CreateKey",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListKeys",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "xray:BatchGetTraces",
    "xray:GetEncryptionConfig",
    "xray:PutEncryptionConfig",
    "xray:PutTraceSegments",
];

/// What `apply` calls only on a key it created itself and is discarding (it lost the race for the
/// alias): `iam-policy --mode remediate` allows them only on keys tagged `managed-by=xray-cmk`.
pub const DISCARD_ACTIONS: &[&str] = &["kms:DisableKey", "kms:ScheduleKeyDeletion"];

/// What `apply` calls before any step: reaching the account and checking the caller's
/// permissions.
pub const SETUP_ACTIONS: &[&str] = &[
    "iam:SimulatePrincipalPolicy",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
];

/// What a step's call acts on, which decides how the pre-flight simulates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum On {
    /// Not the step's key: the account (`CreateKey`), an alias, X-Ray's settings. Simulated on `*`.
    Account,
    /// The step's key, called by xray-cmk.
    Key,
    /// The key the step creates, once created (tagged `managed-by=xray-cmk`): discarding it when
    /// another run's key got the alias first.
    CreatedKey,
    /// The step's key, by X-Ray with the caller's permissions when it is switched to the key: the
    /// grant it creates for itself (`kms:ViaService` X-Ray, `kms:GrantIsForAWSResource`).
    KeyGrantForXray,
    /// The step's key, through X-Ray (`kms:ViaService` X-Ray): decrypting traces as they are read.
    KeyViaXray,
}

/// One IAM action a step calls, and on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub action: &'static str,
    pub on: On,
}

const fn on(on: On, action: &'static str) -> Call {
    Call { action, on }
}

/// Reading a key a step names ([`snapshot`]): `DescribeKey`, and its tags when it is ours to judge.
const READ_KEY: [Call; 2] = [
    on(On::Key, "kms:DescribeKey"),
    on(On::Key, "kms:ListResourceTags"),
];

/// Every IAM action a step calls when it runs, in the order it calls them: the one list the
/// pre-flight permission check simulates and `REMEDIATE_ACTIONS` is held to.
pub fn step_calls(action: &Action) -> Vec<Call> {
    match action {
        Action::CreateKey { tags, .. } => {
            let mut calls = vec![
                // The alias, and a key of ours left without it by a crash (its policy too, to
                // tell whether it is the planned key): what the key step reads first.
                on(On::Account, "kms:DescribeKey"),
                on(On::Account, "kms:ListResourceTags"),
                on(On::Account, "kms:GetKeyPolicy"),
                on(On::Account, "kms:ListAliases"),
                on(On::Account, "kms:ListKeys"),
                on(On::Account, "kms:CreateKey"),
                on(On::Account, "kms:CreateAlias"),
            ];
            if !tags.is_empty() {
                // CreateKey with Tags needs kms:TagResource too.
                calls.push(on(On::Account, "kms:TagResource"));
            }
            // Another run's key got the alias first: this run's key is discarded.
            calls.extend([
                on(On::CreatedKey, "kms:TagResource"),
                on(On::CreatedKey, "kms:DisableKey"),
                on(On::CreatedKey, "kms:ScheduleKeyDeletion"),
            ]);
            calls
        }
        Action::EnableRotation { .. } => [
            &READ_KEY[..],
            &[
                on(On::Key, "kms:GetKeyRotationStatus"),
                on(On::Key, "kms:EnableKeyRotation"),
            ],
        ]
        .concat(),
        Action::TagKey { .. } => [&READ_KEY[..], &[on(On::Key, "kms:TagResource")]].concat(),
        Action::MergeKeyPolicy { .. } => [
            &READ_KEY[..],
            &[
                on(On::Key, "kms:GetKeyPolicy"),
                on(On::Key, "kms:PutKeyPolicy"),
            ],
        ]
        .concat(),
        Action::SetXrayEncryption { .. } => [
            &[on(On::Account, "xray:GetEncryptionConfig")][..],
            &READ_KEY[..],
            &[
                on(On::Key, "kms:GetKeyPolicy"),
                on(On::Account, "xray:PutEncryptionConfig"),
                // X-Ray requires these of whoever switches it to a key.
                on(On::KeyGrantForXray, "kms:CreateGrant"),
                on(On::Key, "kms:DescribeKey"),
            ],
        ]
        .concat(),
        Action::Verify => vec![
            on(On::Account, "xray:PutTraceSegments"),
            on(On::Account, "xray:BatchGetTraces"),
            // X-Ray decrypts a CMK-encrypted trace only for a reader that may.
            on(On::KeyViaXray, "kms:Decrypt"),
        ],
    }
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The identity applying, to keep it able to administer keys it changes.
    pub caller: String,
    /// The caller's identity in each account (`sts:GetCallerIdentity`), so a failed verification
    /// can tell whether the key policy lets it read traces; `caller` where absent.
    pub account_callers: BTreeMap<String, String>,
    /// How long to wait for X-Ray's encryption status to become `ACTIVE`.
    pub wait_timeout: Duration,
    pub poll_interval: Duration,
    pub verify: VerifyOptions,
    /// Read and decide only: nothing is changed (the pre-flight check).
    pub dry_run: bool,
    /// The policy the deep checks judge with, to refuse a key X-Ray could not use.
    pub policy: xray_cmk_core::OrgPolicy,
    pub today: xray_cmk_core::Date,
}

/// Hooks for the binary's end-to-end tests, compiled only with the `test-hooks` feature (the
/// binary's dev-dependencies turn it on): a build of the binary alone has none.
#[cfg(feature = "test-hooks")]
mod test_hooks {
    use std::time::Duration;

    /// Where to abort the process, as a crash would: right after `create_key:before_alias`, or
    /// after a step such as `set_xray_encryption` is done.
    const CRASH_ENV: &str = "XRAY_CMK_TEST_CRASH_AFTER";
    /// Seconds to wait between the last read of `create_key` and `CreateKey`, so that runs
    /// started together race for the alias.
    const PAUSE_ENV: &str = "XRAY_CMK_TEST_PAUSE_BEFORE_CREATE_KEY";

    pub(super) fn crash_point(point: &str) {
        if std::env::var(CRASH_ENV).is_ok_and(|v| v == point) {
            eprintln!("xray-cmk: crashing on purpose after {point} ({CRASH_ENV})");
            std::process::abort();
        }
    }

    pub(super) async fn pause_before_create_key() {
        let pause = std::env::var(PAUSE_ENV)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
    }
}

#[cfg(not(feature = "test-hooks"))]
mod test_hooks {
    pub(super) fn crash_point(_: &str) {}

    pub(super) async fn pause_before_create_key() {}
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, StepError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StepError::Refused(format!("tag: {e}")))
}

/// What a step did: its outcome and what to say about it.
type StepOutcome = Result<(Outcome, String), StepError>;

/// Why a step did not succeed. The kind is kept apart from the words, so that the pre-flight can
/// tell "could not be read" (exit 3) from "refused" (exit 2) without reading the message.
#[derive(Debug)]
enum StepError {
    /// An AWS call failed (denied, throttled, unreachable, ...): what it would have read or
    /// changed is unknown.
    Call { kind: ErrorKind, message: String },
    /// The step must not run: a precondition failed, the plan is malformed, a key is not the
    /// planned one.
    Refused(String),
    /// The step ran, and what it checks did not hold: X-Ray refused the new trace, or did not
    /// give it back.
    Unverified(String),
}

impl StepError {
    fn call(err: CollectionError) -> StepError {
        let message = if err.kind == ErrorKind::AccessDenied {
            format!(
                "{err}. xray-cmk iam-policy --mode remediate prints the permissions apply needs"
            )
        } else {
            err.to_string()
        };
        StepError::Call {
            kind: err.kind,
            message,
        }
    }

    /// The same error, its message rewritten by `f` (to say what the call was for).
    fn reword(self, f: impl FnOnce(&str) -> String) -> StepError {
        match self {
            StepError::Call { kind, message } => StepError::Call {
                kind,
                message: f(&message),
            },
            StepError::Refused(message) => StepError::Refused(f(&message)),
            StepError::Unverified(message) => StepError::Unverified(f(&message)),
        }
    }

    /// The kind of the AWS call that failed, if that is what stopped the step.
    fn failed_call(&self) -> Option<ErrorKind> {
        match self {
            StepError::Call { kind, .. } => Some(*kind),
            StepError::Refused(_) | StepError::Unverified(_) => None,
        }
    }

    fn into_message(self) -> String {
        match self {
            StepError::Call { message, .. }
            | StepError::Refused(message)
            | StepError::Unverified(message) => message,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Call { message, .. }
            | StepError::Refused(message)
            | StepError::Unverified(message) => f.write_str(message),
        }
    }
}

impl From<String> for StepError {
    fn from(message: String) -> StepError {
        StepError::Refused(message)
    }
}

impl From<xray_cmk_core::remediation::apply::Refusal> for StepError {
    fn from(refusal: xray_cmk_core::remediation::apply::Refusal) -> StepError {
        StepError::Refused(refusal.0)
    }
}

impl From<&str> for StepError {
    fn from(message: &str) -> StepError {
        StepError::Refused(message.to_owned())
    }
}

macro_rules! call {
    ($op:literal, $fut:expr) => {
        $fut.await.map_err(|e| StepError::call(classify($op, &e)))
    };
}

/// The key `key_id` names (ARN, id or alias), or `None` when it does not exist; with
/// `with_tags`, a customer managed key's tags too.
async fn snapshot(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    with_tags: bool,
) -> Result<Option<KeySnapshot>, StepError> {
    let described = kms.describe_key().key_id(key_id).send().await;
    let meta = match described {
        Ok(out) => match out.key_metadata {
            Some(m) => m,
            None => {
                return Err(StepError::Call {
                    kind: ErrorKind::Other,
                    message: format!("kms:DescribeKey of {key_id}: no KeyMetadata"),
                })
            }
        },
        Err(e) => {
            let err = classify("kms:DescribeKey", &e);
            if err.kind == ErrorKind::NotFound {
                return Ok(None);
            }
            return Err(StepError::call(err));
        }
    };
    let arn = meta.arn().unwrap_or(key_id).to_owned();
    let manager = meta.key_manager().map(|m| match m.as_str() {
        "AWS" => KeyManager::Aws,
        "CUSTOMER" => KeyManager::Customer,
        other => KeyManager::Other(other.to_owned()),
    });
    let tags = if with_tags && manager == Some(KeyManager::Customer) {
        Some(list_tags(kms, &arn).await?)
    } else {
        None
    };
    #[allow(deprecated)]
    let spec = meta.key_spec().map(|s| s.as_str().to_owned()).or_else(|| {
        meta.customer_master_key_spec()
            .map(|s| s.as_str().to_owned())
    });
    Ok(Some(KeySnapshot {
        state: meta.key_state().map(crate::collect::kms::key_state),
        spec,
        usage: meta.key_usage().map(|u| u.as_str().to_owned()),
        origin: meta.origin().map(|o| o.as_str().to_owned()),
        multi_region: meta.multi_region(),
        manager,
        tags,
        policy: None,
        arn,
    }))
}

/// `snap` with its key policy: what deciding whether it is the planned key needs.
async fn with_policy(
    kms: &aws_sdk_kms::Client,
    mut snap: KeySnapshot,
) -> Result<KeySnapshot, StepError> {
    snap.policy = Some(key_policy(kms, &snap.arn).await?);
    Ok(snap)
}

/// The key's `default` key policy, as text.
async fn key_policy(kms: &aws_sdk_kms::Client, arn: &str) -> Result<String, StepError> {
    Ok(call!(
        "kms:GetKeyPolicy",
        kms.get_key_policy()
            .key_id(arn)
            .policy_name("default")
            .send()
    )?
    .policy
    .unwrap_or_default())
}

async fn list_tags(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
) -> Result<BTreeMap<String, String>, StepError> {
    let mut tags = BTreeMap::new();
    let mut marker = None;
    loop {
        let out = call!(
            "kms:ListResourceTags",
            kms.list_resource_tags()
                .key_id(key_id)
                .set_marker(marker.take())
                .send()
        )?;
        for t in out.tags() {
            tags.insert(t.tag_key().to_owned(), t.tag_value().to_owned());
        }
        match out.next_marker {
            Some(m) if out.truncated => marker = Some(m),
            _ => return Ok(tags),
        }
    }
}

/// The keys `apply` could adopt for `alias`: tagged as xray-cmk's for it, named by no alias, not
/// discarded (`xray-cmk-orphan`) and not pending deletion, with their key policies. A crash between
/// `CreateKey` and `CreateAlias` leaves one; anyone allowed to create and tag keys can plant one,
/// so the core decides whether it is the planned key. A key whose tags cannot be read stops the
/// search: it could be ours, and skipping it could create a second key.
async fn candidates(kms: &aws_sdk_kms::Client, alias: &str) -> Result<Vec<KeySnapshot>, StepError> {
    let mut aliased = BTreeSet::new();
    let mut pages = kms.list_aliases().into_paginator().items().send();
    while let Some(a) = pages.next().await {
        let a = a.map_err(|e| StepError::call(classify("kms:ListAliases", &e)))?;
        if let Some(id) = a.target_key_id() {
            aliased.insert(id.to_owned());
        }
    }
    let mut found = Vec::new();
    let mut keys = kms.list_keys().into_paginator().items().send();
    while let Some(k) = keys.next().await {
        let k = k.map_err(|e| StepError::call(classify("kms:ListKeys", &e)))?;
        let Some(id) = k.key_id() else { continue };
        if aliased.contains(id) {
            continue;
        }
        let tags = list_tags(kms, id).await.map_err(|e| {
            e.reword(|e| format!(
                "looking for a key of xray-cmk's left without {alias}: the tags of {}, which no alias names, could not be read ({e}); unknown is not a pass, since creating a key now could make a second one. Let the caller read its tags (kms:ListResourceTags), or delete it if it is not needed",
                k.key_arn().unwrap_or(id)
            ))
        })?;
        if !adopt::tagged_for(&tags, alias) || adopt::discarded(&tags) {
            continue;
        }
        let Some(snap) = snapshot(kms, id, false).await? else {
            continue;
        };
        if snap.state == Some(KeyState::PendingDeletion) {
            continue;
        }
        found.push(
            with_policy(
                kms,
                KeySnapshot {
                    tags: Some(tags),
                    ..snap
                },
            )
            .await?,
        );
    }
    Ok(found)
}

/// Applies (or, with `dry_run`, checks) one target's steps in order, stopping at the first
/// failure.
pub async fn apply_target(
    clients: &dyn ClientSource,
    target: &TargetPlan,
    opts: &ApplyOptions,
) -> TargetResult {
    apply_target_observed(clients, target, opts, &|_| {}).await
}

/// [`apply_target`], calling `on_step` with each step's result as soon as the step ends (before
/// the crash hook), so that what a killed run did can be recorded.
pub async fn apply_target_observed(
    clients: &dyn ClientSource,
    target: &TargetPlan,
    opts: &ApplyOptions,
    on_step: &(dyn Fn(&StepResult) + Send + Sync),
) -> TargetResult {
    let mut runner = Runner {
        kms: clients.kms(&target.region),
        xray: clients.xray(&target.region),
        opts,
        caller: opts
            .account_callers
            .get(&target.account)
            .unwrap_or(&opts.caller),
        created_alias: None,
        account: &target.account,
        region: &target.region,
        rotation_days: target
            .steps
            .iter()
            .find_map(|s| match s.action {
                Action::EnableRotation { period_days, .. } => Some(period_days),
                _ => None,
            })
            .unwrap_or(opts.policy.rotation.max_period_days),
        discarded: Vec::new(),
    };
    let mut results: Vec<StepResult> = Vec::new();
    let mut failed = false;
    for (i, step) in target.steps.iter().enumerate() {
        let mut failed_call = None;
        // Verification proves a change did not stop traces; when this run changed nothing, a
        // second apply stays a no-op (`xray-cmk verify` checks on demand).
        let changes = results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Done | Outcome::NotRun));
        let (outcome, message) = if failed {
            (Outcome::NotRun, "an earlier step failed".to_owned())
        } else if matches!(step.action, Action::Verify) && !changes {
            (
                Outcome::Skipped,
                "nothing changed in this run; `xray-cmk verify` checks again".to_owned(),
            )
        } else {
            match runner.step(step).await {
                Ok(done) => done,
                Err(err) => {
                    failed = true;
                    failed_call = err.failed_call();
                    (Outcome::Failed, err.into_message())
                }
            }
        };
        let result = StepResult {
            step: i + 1,
            action: step.action.kind(),
            outcome,
            message,
            failed_call,
        };
        on_step(&result);
        if result.outcome == Outcome::Done {
            test_hooks::crash_point(step.action.kind());
        }
        results.push(result);
    }
    TargetResult {
        discarded_keys: runner.discarded,
        ..TargetResult::from_steps(&target.account, &target.region, results)
    }
}

struct Runner<'a> {
    kms: aws_sdk_kms::Client,
    xray: aws_sdk_xray::Client,
    opts: &'a ApplyOptions,
    /// Who the target's calls are made as.
    caller: &'a str,
    /// In a dry run, the alias an earlier step would create: later steps may name it.
    created_alias: Option<String>,
    account: &'a str,
    region: &'a str,
    /// The rotation period the plan gives a key it creates: adoption judges a key as the plan
    /// leaves it.
    rotation_days: u32,
    /// Keys this run created and discarded, having lost the race for their alias.
    discarded: Vec<DiscardedKey>,
}

impl Runner<'_> {
    fn decided<T>(&self, decision: Decision<T>) -> Result<Result<T, (Outcome, String)>, StepError> {
        match decision {
            Decision::Run(t) if self.opts.dry_run => {
                let _ = t;
                Ok(Err((Outcome::NotRun, "would run (dry run)".to_owned())))
            }
            Decision::Run(t) => Ok(Ok(t)),
            Decision::Skip(why) => Ok(Err((Outcome::Skipped, why))),
            Decision::Refuse(why) => Err(StepError::Refused(why)),
        }
    }

    /// The key a step names, as it is now. In a dry run, a key an earlier step would create is
    /// `None`.
    async fn key(&self, key: &KeyRef) -> Result<Option<KeySnapshot>, StepError> {
        let found = snapshot(&self.kms, key.id(), true).await?;
        match (&found, key) {
            (None, KeyRef::Alias(a))
                if self.opts.dry_run && self.created_alias.as_deref() == Some(a) =>
            {
                Ok(None)
            }
            (None, _) => Err(StepError::Refused(format!(
                "precondition failed: key {} does not exist",
                key.id()
            ))),
            (Some(_), _) => Ok(found),
        }
    }

    async fn step(&mut self, step: &Step) -> StepOutcome {
        match &step.action {
            Action::CreateKey {
                alias,
                description,
                tags,
                policy,
            } => {
                let planned = PlannedKey {
                    account: self.account,
                    region: self.region,
                    alias,
                    tags,
                    policy,
                    rotation_days: self.rotation_days,
                };
                self.create_key(&planned, description).await
            }
            Action::EnableRotation { key, period_days } => self.rotation(key, *period_days).await,
            Action::TagKey { key, tags } => self.tag(key, tags).await,
            Action::MergeKeyPolicy { key, statements } => {
                let Precondition::KeyPolicyIs { sha256, .. } = &step.precondition else {
                    return Err(
                        "malformed plan: merge_key_policy without a key_policy_is precondition"
                            .into(),
                    );
                };
                self.merge(key, statements, sha256).await
            }
            Action::SetXrayEncryption { key } => self.switch(key, &step.precondition).await,
            Action::Verify => {
                if self.opts.dry_run {
                    return Ok((Outcome::NotRun, "would verify (dry run)".to_owned()));
                }
                // A check that could not be made is the AWS call that failed (its kind says why,
                // and that the target is unknown); one that was made and failed is not a refusal.
                check(&self.xray, &self.kms, Some(self.caller), self.opts.verify)
                    .await
                    .map(|m| (Outcome::Done, m))
                    .map_err(|e| match e {
                        VerifyError::Unchecked(err) => StepError::Call {
                            kind: err.kind,
                            message: err.to_string(),
                        },
                        VerifyError::Failed(why) => StepError::Unverified(why),
                    })
            }
        }
    }

    async fn create_key(&mut self, planned: &PlannedKey<'_>, description: &str) -> StepOutcome {
        let alias = planned.alias;
        let aliased = match snapshot(&self.kms, alias, true).await? {
            Some(key) if key.is_ours() => Some(with_policy(&self.kms, key).await?),
            other => other,
        };
        let candidates = match aliased {
            None => candidates(&self.kms, alias).await?,
            Some(_) => Vec::new(),
        };
        let decision = decide_create_key(
            planned,
            aliased.as_ref(),
            &candidates,
            &self.opts.policy,
            self.opts.today,
        );
        if let Decision::Run(Create::New) = &decision {
            keeps_admin(planned.policy, self.caller)?;
        }
        if matches!(decision, Decision::Run(_)) && self.opts.dry_run {
            self.created_alias = Some(alias.to_owned());
        }
        let how = match self.decided(decision)? {
            Ok(how) => how,
            Err(done) => return Ok(done),
        };
        let (arn, created) = match how {
            Create::Adopt(arn) => (arn, false),
            Create::New => {
                test_hooks::pause_before_create_key().await;
                let created = call!(
                    "kms:CreateKey",
                    self.kms
                        .create_key()
                        .key_spec(KeySpec::SymmetricDefault)
                        .key_usage(KeyUsageType::EncryptDecrypt)
                        .description(description)
                        .policy(planned.policy.to_string())
                        .set_tags(Some(sdk_tags(planned.tags)?))
                        .send()
                )?;
                let arn = created
                    .key_metadata()
                    .and_then(|m| m.arn())
                    .ok_or("kms:CreateKey returned no key ARN")?
                    .to_owned();
                test_hooks::crash_point("create_key:before_alias");
                (arn, true)
            }
        };
        // The alias is the lock: of the runs that created or adopted a key for it, the first to
        // name its key wins, and the others find it taken.
        let aliased = self
            .kms
            .create_alias()
            .alias_name(alias)
            .target_key_id(&arn)
            .send()
            .await;
        match aliased {
            Ok(_) => Ok((
                Outcome::Done,
                if created {
                    format!("created {alias} -> {arn}")
                } else {
                    format!("adopted {arn} as {alias}: an interrupted run left it without its alias, and it is exactly the planned key")
                },
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) =>
            {
                self.lost_race(planned, &arn, created).await
            }
            Err(e) => Err(
                StepError::call(classify("kms:CreateAlias", &e)).reword(|e| {
                    format!(
                        "{e}. The key {arn} exists without its alias; run apply again to adopt it"
                    )
                }),
            ),
        }
    }

    /// `CreateAlias` found the alias taken: another run named its key first. The key this run
    /// created is discarded; the target carries on with the winner if it is the planned key.
    async fn lost_race(
        &mut self,
        planned: &PlannedKey<'_>,
        ours: &str,
        created: bool,
    ) -> StepOutcome {
        let alias = planned.alias;
        let winner = match snapshot(&self.kms, alias, true).await? {
            Some(key) => Some(with_policy(&self.kms, key).await?),
            None => None,
        };
        let (winner, usable) =
            match decide_lost_race(ours, winner.as_ref(), planned, &self.opts.policy, self.opts.today) {
                LostRace::AliasIsOurs => {
                    return Ok((
                        Outcome::Done,
                        format!("{alias} -> {ours}: another run gave it the alias first"),
                    ))
                }
                LostRace::Vanished => {
                    return Err(StepError::Refused(format!(
                        "kms:CreateAlias found {alias} taken, but it names no key now; the key {ours} exists without its alias: run apply again to adopt it"
                    )))
                }
                LostRace::Lost { winner, usable } => (winner, usable),
            };
        let ours_now = if created {
            match self.discard(ours, alias, &winner).await {
                Ok(d) => {
                    let said = format!(
                        "this run's key {ours} was tagged {ORPHAN_TAG}={LOST_ALIAS_RACE}, disabled and scheduled for deletion{}",
                        d.deletion_date
                            .as_deref()
                            .map(|when| format!(" on {when}"))
                            .unwrap_or_default()
                    );
                    self.discarded.push(d);
                    said
                }
                Err(why) => {
                    return Err(why.reword(|why| format!(
                        "another run named its key {winner} {alias} first, and this run's key {ours} could not be discarded: {why}. Nothing uses it: disable it and schedule its deletion yourself (aws kms schedule-key-deletion --key-id {ours} --pending-window-in-days {DISCARD_WINDOW_DAYS})"
                    )))
                }
            }
        } else {
            format!("{ours}, which this run was adopting, stays without an alias (kms-orphaned-xray-cmk-key reports it)")
        };
        match usable {
            Ok(()) => Ok((
                Outcome::Done,
                format!("lost the race for {alias}: another run named its key {winner} first, and this target carries on with it; {ours_now}"),
            )),
            Err(why) => Err(StepError::Refused(format!(
                "lost the race for {alias}: {why}; {ours_now}"
            ))),
        }
    }

    /// Tags the key [`ORPHAN_TAG`] (first, so that it is never adopted even if the rest fails),
    /// disables it and schedules its deletion with the longest waiting period.
    async fn discard(
        &self,
        key: &str,
        alias: &str,
        winner: &str,
    ) -> Result<DiscardedKey, StepError> {
        let tag = BTreeMap::from([(ORPHAN_TAG.to_owned(), LOST_ALIAS_RACE.to_owned())]);
        call!(
            "kms:TagResource",
            self.kms
                .tag_resource()
                .key_id(key)
                .set_tags(Some(sdk_tags(&tag)?))
                .send()
        )?;
        call!("kms:DisableKey", self.kms.disable_key().key_id(key).send())
            .map_err(|e| e.reword(|e| format!("{e} (it is tagged {ORPHAN_TAG}, still enabled)")))?;
        let scheduled = call!(
            "kms:ScheduleKeyDeletion",
            self.kms
                .schedule_key_deletion()
                .key_id(key)
                .pending_window_in_days(DISCARD_WINDOW_DAYS)
                .send()
        )
        .map_err(|e| e.reword(|e| format!("{e} (it is tagged {ORPHAN_TAG} and disabled)")))?;
        Ok(DiscardedKey {
            key: key.to_owned(),
            alias: alias.to_owned(),
            winner: winner.to_owned(),
            reason: LOST_ALIAS_RACE.to_owned(),
            deletion_date: scheduled
                .deletion_date()
                .and_then(|d| d.fmt(Format::DateTime).ok()),
        })
    }

    async fn rotation(&mut self, key: &KeyRef, period_days: u32) -> StepOutcome {
        let Some(snap) = self.key(key).await? else {
            return Ok((
                Outcome::NotRun,
                "would run on the new key (dry run)".to_owned(),
            ));
        };
        let status = call!(
            "kms:GetKeyRotationStatus",
            self.kms.get_key_rotation_status().key_id(&snap.arn).send()
        )?;
        let period = status
            .rotation_period_in_days()
            .and_then(|d| u32::try_from(d).ok());
        let decision = decide_rotation(&snap, status.key_rotation_enabled, period, period_days);
        if let Err(done) = self.decided(decision)? {
            return Ok(done);
        }
        call!(
            "kms:EnableKeyRotation",
            self.kms
                .enable_key_rotation()
                .key_id(&snap.arn)
                .rotation_period_in_days(i32::try_from(period_days).unwrap_or(365))
                .send()
        )?;
        Ok((
            Outcome::Done,
            format!("rotation on every {period_days} days for {}", snap.arn),
        ))
    }

    async fn tag(&mut self, key: &KeyRef, tags: &BTreeMap<String, String>) -> StepOutcome {
        let Some(snap) = self.key(key).await? else {
            return Ok((
                Outcome::NotRun,
                "would run on the new key (dry run)".to_owned(),
            ));
        };
        let have = snap.tags.clone().unwrap_or_default();
        let missing = match self.decided(decide_tags(&snap, &have, tags))? {
            Ok(m) => m,
            Err(done) => return Ok(done),
        };
        call!(
            "kms:TagResource",
            self.kms
                .tag_resource()
                .key_id(&snap.arn)
                .set_tags(Some(sdk_tags(&missing)?))
                .send()
        )?;
        Ok((
            Outcome::Done,
            format!(
                "tagged {} with {}",
                snap.arn,
                missing.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ))
    }

    async fn merge(
        &mut self,
        key: &KeyRef,
        statements: &[serde_json::Value],
        sha256: &str,
    ) -> StepOutcome {
        let Some(snap) = self.key(key).await? else {
            return Err(StepError::Refused(format!(
                "precondition failed: key {} does not exist",
                key.id()
            )));
        };
        let current = key_policy(&self.kms, &snap.arn).await?;
        let decision = decide_merge(&snap, &current, statements, sha256, self.caller);
        let merged = match self.decided(decision)? {
            Ok(m) => m,
            Err(done) => return Ok(done),
        };
        // KMS's own lockout safety check stays on (BypassPolicyLockoutSafetyCheck is never set).
        call!(
            "kms:PutKeyPolicy",
            self.kms
                .put_key_policy()
                .key_id(&snap.arn)
                .policy_name("default")
                .policy(merged.to_string())
                .send()
        )?;
        Ok((
            Outcome::Done,
            format!(
                "added {} statement(s) to the key policy of {}",
                statements.len(),
                snap.arn
            ),
        ))
    }

    async fn xray_now(&self) -> Result<(XrayNow, Option<String>), StepError> {
        let out = call!(
            "xray:GetEncryptionConfig",
            self.xray.get_encryption_config().send()
        )?;
        let cfg = out.encryption_config();
        Ok((
            XrayNow {
                // A missing Type is never taken for NONE: no precondition holds on it.
                encryption_type: xray_cmk_core::EncryptionType::from_wire(
                    cfg.and_then(|c| c.r#type()).map(|t| t.as_str()),
                ),
                key_id: cfg.and_then(|c| c.key_id()).map(str::to_owned),
            },
            cfg.and_then(|c| c.status()).map(|s| s.as_str().to_owned()),
        ))
    }

    async fn switch(&mut self, key: &KeyRef, planned_from: &Precondition) -> StepOutcome {
        let (now, status) = self.xray_now().await?;
        let Some(snap) = self.key(key).await? else {
            // Dry run, key still to be created: only staleness can be checked now.
            if let Precondition::XrayEncryptionIs {
                encryption_type,
                key_id,
            } = planned_from
            {
                if *encryption_type != now.encryption_type || *key_id != now.key_id {
                    return Err(StepError::Refused(format!(
                        "precondition failed: X-Ray is now {}{}, not {encryption_type} as planned; plan again",
                        now.encryption_type,
                        now.key_id.as_deref().map(|k| format!(" with {k}")).unwrap_or_default()
                    )));
                }
            }
            return Ok((
                Outcome::NotRun,
                "would switch to the new key (dry run)".to_owned(),
            ));
        };
        let decision = decide_xray(&now, planned_from, &snap);
        if matches!(decision, Decision::Run(())) {
            self.usable_by_xray(&snap).await?;
        }
        let already = match self.decided(decision)? {
            Ok(()) => false,
            Err((Outcome::Skipped, _)) => true,
            Err(done) => return Ok(done),
        };
        if already && status.as_deref() != Some("ACTIVE") {
            // X-Ray names the key but has not finished switching to it (an earlier run stopped
            // waiting): the wait, and the verification after it, are still to be done.
            let now_status = status.as_deref().unwrap_or("of an unknown status");
            if self.opts.dry_run {
                return Ok((
                    Outcome::NotRun,
                    format!(
                        "X-Ray names {} but is {now_status}: would wait for ACTIVE (dry run)",
                        snap.arn
                    ),
                ));
            }
            let waited = self.wait_active(&snap.arn).await?;
            return Ok((
                Outcome::Done,
                format!(
                    "X-Ray named {} while {now_status}; ACTIVE after {waited:.1} s",
                    snap.arn
                ),
            ));
        }
        if !already {
            call!(
                "xray:PutEncryptionConfig",
                self.xray
                    .put_encryption_config()
                    .r#type(EncryptionType::Kms)
                    .key_id(&snap.arn)
                    .send()
            )?;
        }
        let waited = self.wait_active(&snap.arn).await?;
        Ok(if already {
            (
                Outcome::Skipped,
                format!("X-Ray already uses {}; status ACTIVE", snap.arn),
            )
        } else {
            (
                Outcome::Done,
                format!(
                    "X-Ray encrypts with {}; ACTIVE after {waited:.1} s",
                    snap.arn
                ),
            )
        })
    }

    /// Never switch X-Ray to a key the deep checks say it cannot use.
    async fn usable_by_xray(&self, snap: &KeySnapshot) -> Result<(), StepError> {
        let policy = key_policy(&self.kms, &snap.arn).await?;
        let (account, region) = xray_cmk_core::model::arn_account_region(&snap.arn)
            .ok_or_else(|| format!("{} is not a key ARN", snap.arn))?;
        let key = xray_cmk_core::KmsKey {
            arn: Some(snap.arn.clone()),
            key_manager: snap.manager.clone(),
            key_state: snap.state.clone(),
            key_spec: snap.spec.clone(),
            key_usage: Some("ENCRYPT_DECRYPT".to_owned()),
            policy: xray_cmk_core::Observed::Known(policy),
            ..xray_cmk_core::KmsKey::described(snap.arn.clone())
        };
        xray_cmk_core::remediation::apply::xray_can_use(
            key,
            account,
            region,
            &self.opts.policy,
            self.opts.today,
        )
        .map_err(|e| StepError::Refused(e.to_string()))
    }

    async fn wait_active(&self, arn: &str) -> Result<f64, StepError> {
        let started = Instant::now();
        loop {
            let (now, status) = self.xray_now().await?;
            if now.key_id.as_deref() != Some(arn) {
                return Err(StepError::Refused(format!(
                    "X-Ray's encryption changed under us while waiting: now {} {}",
                    now.encryption_type,
                    now.key_id.unwrap_or_default()
                )));
            }
            if status.as_deref() == Some(EncryptionStatus::Active.as_str()) {
                return Ok(started.elapsed().as_secs_f64());
            }
            if started.elapsed() >= self.opts.wait_timeout {
                return Err(StepError::Refused(format!(
                    "X-Ray accepted {arn} but its status is still {} after {} s; it is set, run apply again to wait and verify",
                    status.unwrap_or_else(|| "unknown".into()),
                    self.opts.wait_timeout.as_secs()
                )));
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }
}

/// The account and region of every target of the plan that has steps, in plan order.
pub fn targets_with_steps(targets: &[TargetPlan]) -> impl Iterator<Item = &TargetPlan> {
    targets.iter().filter(|t| !t.steps.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use xray_cmk_core::remediation::plan::MANAGED_BY_TAG;

    /// One of each action, so the match in `step_calls` is exercised in full.
    fn every_action() -> Vec<Action> {
        let key = KeyRef::Alias("alias/xray".into());
        vec![
            Action::CreateKey {
                alias: "alias/xray".into(),
                description: "d".into(),
                tags: BTreeMap::from([(MANAGED_BY_TAG.0.into(), MANAGED_BY_TAG.1.into())]),
                policy: json!({}),
            },
            Action::EnableRotation {
                key: key.clone(),
                period_days: 365,
            },
            Action::TagKey {
                key: key.clone(),
                tags: BTreeMap::new(),
            },
            Action::MergeKeyPolicy {
                key: key.clone(),
                statements: vec![],
            },
            Action::SetXrayEncryption { key },
            Action::Verify,
        ]
    }

    #[test]
    fn remediate_actions_are_exactly_what_the_steps_call_plus_setup() {
        let mut from_steps: BTreeSet<&str> = every_action()
            .iter()
            .flat_map(step_calls)
            .map(|c| c.action)
            .collect();
        from_steps.extend(SETUP_ACTIONS);
        let listed: BTreeSet<&str> = REMEDIATE_ACTIONS.iter().copied().collect();
        assert_eq!(listed.len(), REMEDIATE_ACTIONS.len(), "duplicates");
        assert_eq!(from_steps, listed);
    }

    #[test]
    fn x_ray_switch_and_read_back_need_the_keys_grant_and_decrypt() {
        let actions = every_action();
        let calls =
            |kind: &str| step_calls(actions.iter().find(|a| a.kind() == kind).expect("action"));
        assert!(calls("set_xray_encryption").contains(&Call {
            action: "kms:CreateGrant",
            on: On::KeyGrantForXray
        }));
        assert!(calls("verify").contains(&Call {
            action: "kms:Decrypt",
            on: On::KeyViaXray
        }));
        // Tags passed to CreateKey need kms:TagResource; without tags they do not.
        assert!(calls("create_key")
            .iter()
            .any(|c| c.action == "kms:TagResource"));
        let untagged = Action::CreateKey {
            alias: "alias/xray".into(),
            description: "d".into(),
            tags: BTreeMap::new(),
            policy: json!({}),
        };
        assert!(!step_calls(&untagged)
            .iter()
            .any(|c| c.action == "kms:TagResource" && c.on == On::Account));
        // Discarding a key that lost its alias tags it, on that key only.
        assert!(step_calls(&untagged).contains(&Call {
            action: "kms:TagResource",
            on: On::CreatedKey
        }));
    }

    mod race {
        //! The key step against mocked KMS: the alias as the lock, and a tag read that fails.

        use super::*;
        use aws_sdk_kms::operation::create_key::CreateKeyOutput;
        use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
        use aws_sdk_kms::operation::disable_key::DisableKeyOutput;
        use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
        use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
        use aws_sdk_kms::operation::list_keys::ListKeysOutput;
        use aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput;
        use aws_sdk_kms::operation::schedule_key_deletion::ScheduleKeyDeletionOutput;
        use aws_sdk_kms::operation::tag_resource::TagResourceOutput;
        use aws_sdk_kms::types::{
            KeyListEntry, KeyManagerType, KeyMetadata, KeyState as SdkKeyState, OriginType,
        };
        use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
        use aws_smithy_types::DateTime;
        use xray_cmk_core::remediation::key_policy::generate;
        use xray_cmk_core::remediation::plan::tags_for;

        const ACCOUNT: &str = "111122223333";
        const REGION: &str = "eu-west-1";
        const ALIAS: &str = "alias/xray-cmk-traces";
        const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/XrayCmkAdmin/s";
        const OURS: &str = "arn:aws:kms:eu-west-1:111122223333:key/ours";
        const WINNER: &str = "arn:aws:kms:eu-west-1:111122223333:key/winner";
        /// 2026-11-28T00:00:00Z plus 30 days.
        const DELETION: i64 = 1_795_824_000 + 30 * 86_400;

        fn kms_error(code: &'static str) -> aws_smithy_runtime_api::http::Response {
            crate::collect::tests::wire(
                400,
                None,
                match code {
                    "NotFoundException" => {
                        r#"{"__type":"NotFoundException","message":"Alias is not found."}"#
                    }
                    "AlreadyExistsException" => {
                        r#"{"__type":"AlreadyExistsException","message":"An alias with the name alias/xray-cmk-traces already exists"}"#
                    }
                    "AccessDeniedException" => {
                        r#"{"__type":"AccessDeniedException","message":"not authorized to perform: kms:ListResourceTags"}"#
                    }
                    _ => r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                },
            )
        }

        fn kms(rules: &[&Rule]) -> aws_sdk_kms::Client {
            mock_client!(
                aws_sdk_kms,
                RuleMode::MatchAny,
                rules.iter().copied(),
                |c| c.retry_config(aws_config::retry::RetryConfig::disabled())
            )
        }

        fn opts() -> ApplyOptions {
            ApplyOptions {
                caller: CALLER.into(),
                account_callers: BTreeMap::new(),
                wait_timeout: Duration::from_secs(1),
                poll_interval: Duration::from_millis(10),
                verify: VerifyOptions::default(),
                dry_run: false,
                policy: xray_cmk_core::OrgPolicy::default(),
                today: xray_cmk_core::Date::new(2026, 11, 28).expect("date"),
            }
        }

        struct Planned {
            tags: BTreeMap<String, String>,
            policy: serde_json::Value,
        }

        impl Planned {
            /// The key the planned `create_key` step asks for, in the test account and region.
            fn key(&self) -> PlannedKey<'_> {
                PlannedKey {
                    account: ACCOUNT,
                    region: REGION,
                    alias: ALIAS,
                    tags: &self.tags,
                    policy: &self.policy,
                    rotation_days: 365,
                }
            }
        }

        fn planned_step(opts: &ApplyOptions) -> Planned {
            Planned {
                tags: tags_for(&opts.policy, Some(ALIAS)),
                policy: generate(&opts.policy, ACCOUNT, REGION, CALLER),
            }
        }

        fn runner<'a>(kms: aws_sdk_kms::Client, opts: &'a ApplyOptions) -> Runner<'a> {
            Runner {
                kms,
                xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, &[]),
                opts,
                caller: CALLER,
                created_alias: None,
                account: ACCOUNT,
                region: REGION,
                rotation_days: 365,
                discarded: Vec::new(),
            }
        }

        fn metadata(arn: &str) -> KeyMetadata {
            KeyMetadata::builder()
                .key_id(arn.rsplit('/').next().expect("id"))
                .arn(arn)
                .key_manager(KeyManagerType::Customer)
                .key_state(SdkKeyState::Enabled)
                .key_spec(KeySpec::SymmetricDefault)
                .key_usage(KeyUsageType::EncryptDecrypt)
                .origin(OriginType::AwsKms)
                .multi_region(false)
                .build()
                .expect("key id")
        }

        fn tag_list(tags: &BTreeMap<String, String>) -> ListResourceTagsOutput {
            ListResourceTagsOutput::builder()
                .set_tags(Some(sdk_tags(tags).expect("tags")))
                .build()
        }

        /// KMS as a losing run sees it: the alias free at first, no key left without one, then
        /// `CreateAlias` finds it taken by `winner_tags`/`winner_policy`'s key.
        fn losing(winner_tags: BTreeMap<String, String>, winner_policy: String) -> Vec<Rule> {
            vec![
                mock!(aws_sdk_kms::Client::describe_key)
                    .match_requests(|r| r.key_id() == Some(ALIAS))
                    .sequence()
                    .http_response(|| kms_error("NotFoundException"))
                    .output(|| {
                        DescribeKeyOutput::builder()
                            .key_metadata(metadata(WINNER))
                            .build()
                    })
                    .build(),
                mock!(aws_sdk_kms::Client::list_aliases)
                    .then_output(|| ListAliasesOutput::builder().build()),
                mock!(aws_sdk_kms::Client::list_keys)
                    .then_output(|| ListKeysOutput::builder().build()),
                mock!(aws_sdk_kms::Client::create_key).then_output(|| {
                    CreateKeyOutput::builder()
                        .key_metadata(metadata(OURS))
                        .build()
                }),
                mock!(aws_sdk_kms::Client::create_alias)
                    .then_http_response(|| kms_error("AlreadyExistsException")),
                mock!(aws_sdk_kms::Client::list_resource_tags)
                    .match_requests(|r| r.key_id() == Some(WINNER))
                    .then_output(move || tag_list(&winner_tags)),
                mock!(aws_sdk_kms::Client::get_key_policy)
                    .match_requests(|r| r.key_id() == Some(WINNER))
                    .then_output(move || {
                        GetKeyPolicyOutput::builder()
                            .policy(winner_policy.clone())
                            .build()
                    }),
            ]
        }

        /// The discarding calls, each only on this run's key: tagged first, then disabled, then
        /// scheduled for deletion in 30 days.
        fn discarding() -> [Rule; 3] {
            [
                mock!(aws_sdk_kms::Client::tag_resource)
                    .match_requests(|r| {
                        r.key_id() == Some(OURS)
                            && r.tags().iter().any(|t| {
                                t.tag_key() == ORPHAN_TAG && t.tag_value() == LOST_ALIAS_RACE
                            })
                    })
                    .then_output(|| TagResourceOutput::builder().build()),
                mock!(aws_sdk_kms::Client::disable_key)
                    .match_requests(|r| r.key_id() == Some(OURS))
                    .then_output(|| DisableKeyOutput::builder().build()),
                mock!(aws_sdk_kms::Client::schedule_key_deletion)
                    .match_requests(|r| {
                        r.key_id() == Some(OURS) && r.pending_window_in_days() == Some(30)
                    })
                    .then_output(|| {
                        ScheduleKeyDeletionOutput::builder()
                            .key_id(OURS)
                            .key_state(SdkKeyState::PendingDeletion)
                            .pending_window_in_days(30)
                            .deletion_date(DateTime::from_secs(DELETION))
                            .build()
                    }),
            ]
        }

        /// The verify step's two ways to fail: a check that could not be made is the failed call
        /// (the target is unknown, with the call's kind), one that X-Ray answered with a refusal
        /// of the segment is a failure of the step, and neither is a refusal of the plan.
        #[tokio::test]
        async fn a_verify_that_could_not_be_made_is_the_failed_call_not_a_refusal() {
            use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsOutput;
            use aws_sdk_xray::types::UnprocessedTraceSegment;
            let opts = opts();
            let verify = Step {
                action: Action::Verify,
                precondition: Precondition::None,
                because: "xray-default-encryption".into(),
            };
            let denied = mock!(aws_sdk_xray::Client::put_trace_segments).then_http_response(|| {
                crate::collect::tests::wire(
                    400,
                    None,
                    r#"{"__type":"AccessDeniedException","message":"not authorized to perform: xray:PutTraceSegments"}"#,
                )
            });
            let refused = mock!(aws_sdk_xray::Client::put_trace_segments).then_output(|| {
                PutTraceSegmentsOutput::builder()
                    .unprocessed_trace_segments(
                        UnprocessedTraceSegment::builder()
                            .error_code("KMSAccessDenied")
                            .message("no access")
                            .build(),
                    )
                    .build()
            });
            for (rule, kind) in [(&denied, Some(ErrorKind::AccessDenied)), (&refused, None)] {
                let mut runner = Runner {
                    xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, [rule], |c| c
                        .retry_config(aws_config::retry::RetryConfig::disabled())),
                    ..runner(kms(&[]), &opts)
                };
                let err = runner.step(&verify).await.expect_err("not verified");
                assert_eq!(err.failed_call(), kind, "{err}");
                assert!(!matches!(err, StepError::Refused(_)), "{err}");
                match kind {
                    Some(_) => assert!(err.to_string().contains("xray:PutTraceSegments"), "{err}"),
                    None => assert!(err.to_string().contains("KMSAccessDenied"), "{err}"),
                }
            }
        }

        #[tokio::test]
        async fn the_loser_of_the_alias_discards_its_key_and_carries_on_with_the_winners() {
            let opts = opts();
            let step = planned_step(&opts);
            let rules = losing(step.tags.clone(), step.policy.to_string());
            let discard = discarding();
            let all: Vec<&Rule> = rules.iter().chain(&discard).collect();
            let mut runner = runner(kms(&all), &opts);
            let planned = step.key();
            let (outcome, message) = runner
                .create_key(&planned, "d")
                .await
                .expect("the target carries on");
            assert_eq!(outcome, Outcome::Done);
            assert_eq!(
                message,
                format!("lost the race for {ALIAS}: another run named its key {WINNER} first, and this target carries on with it; this run's key {OURS} was tagged xray-cmk-orphan=lost-alias-race, disabled and scheduled for deletion on 2026-12-28T00:00:00Z")
            );
            for r in &discard {
                assert_eq!(r.num_calls(), 1);
            }
            assert_eq!(
                runner.discarded,
                [DiscardedKey {
                    key: OURS.into(),
                    alias: ALIAS.into(),
                    winner: WINNER.into(),
                    reason: LOST_ALIAS_RACE.into(),
                    deletion_date: Some("2026-12-28T00:00:00Z".into()),
                }]
            );
        }

        #[tokio::test]
        async fn a_winner_that_is_not_the_planned_key_fails_the_target_and_ours_is_still_discarded()
        {
            let opts = opts();
            let step = planned_step(&opts);
            let mut planted = step.policy.clone();
            planted["Statement"]
                .as_array_mut()
                .expect("statements")
                .push(json!({"Sid": "Planted", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}));
            let rules = losing(step.tags.clone(), planted.to_string());
            let discard = discarding();
            let all: Vec<&Rule> = rules.iter().chain(&discard).collect();
            let mut runner = runner(kms(&all), &opts);
            let planned = step.key();
            let err = runner
                .create_key(&planned, "d")
                .await
                .expect_err("the target stops");
            assert_eq!(err.failed_call(), None, "a refusal, not a failed call");
            let why = err.into_message();
            assert!(
                why.starts_with(&format!("lost the race for {ALIAS}: {ALIAS} names {WINNER}, which is not the key the plan would create")),
                "{why}"
            );
            assert!(why.contains(r#""Planted""#), "{why}");
            assert!(
                why.contains(&format!("this run's key {OURS} was tagged xray-cmk-orphan")),
                "{why}"
            );
            assert_eq!(runner.discarded.len(), 1);
        }

        #[tokio::test]
        async fn a_tag_read_that_fails_while_looking_for_our_key_stops_the_target() {
            for code in ["AccessDeniedException", "ThrottlingException"] {
                let opts = opts();
                let step = planned_step(&opts);
                let create = mock!(aws_sdk_kms::Client::create_key).then_output(|| {
                    CreateKeyOutput::builder()
                        .key_metadata(metadata(OURS))
                        .build()
                });
                let rules = [
                    mock!(aws_sdk_kms::Client::describe_key)
                        .then_http_response(|| kms_error("NotFoundException")),
                    mock!(aws_sdk_kms::Client::list_aliases)
                        .then_output(|| ListAliasesOutput::builder().build()),
                    mock!(aws_sdk_kms::Client::list_keys).then_output(|| {
                        ListKeysOutput::builder()
                            .keys(
                                KeyListEntry::builder()
                                    .key_id("unreadable")
                                    .key_arn("arn:aws:kms:eu-west-1:111122223333:key/unreadable")
                                    .build(),
                            )
                            .build()
                    }),
                    mock!(aws_sdk_kms::Client::list_resource_tags)
                        .then_http_response(move || kms_error(code)),
                    create,
                ];
                let all: Vec<&Rule> = rules.iter().collect();
                let mut runner = runner(kms(&all), &opts);
                let planned = step.key();
                let err = runner
                    .create_key(&planned, "d")
                    .await
                    .expect_err("unknown is not a pass");
                let kind = match code {
                    "AccessDeniedException" => ErrorKind::AccessDenied,
                    _ => ErrorKind::Throttled,
                };
                assert_eq!(err.failed_call(), Some(kind), "a failed call: {err}");
                let why = err.into_message();
                assert!(
                    why.contains("the tags of arn:aws:kms:eu-west-1:111122223333:key/unreadable, which no alias names, could not be read")
                        && why.contains(code),
                    "{why}"
                );
                assert_eq!(rules[4].num_calls(), 0, "no key is created");
            }
        }
    }
}
