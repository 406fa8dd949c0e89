//! `xray-cmk apply PLAN` and `xray-cmk verify`.
//!
//! `apply` reads a sealed plan, checks every step's precondition against AWS first (a dry run:
//! a stale plan, a taken alias or a missing permission stops it before anything changes), asks
//! for confirmation, then applies target by target: a target stops at its first failure, the
//! others go on, and the result says what state each target was left in.

use crate::out::{out, outln};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use futures::stream::{self, StreamExt};
use xray_cmk_aws::clients::{AccountClients, Shared};
use xray_cmk_aws::enabled_regions;
use xray_cmk_aws::fanout::{account_clients, ScanOptions};
use xray_cmk_aws::permissions::{self, Unchecked, Verdict};
use xray_cmk_aws::remediate::{apply_target_observed, ApplyOptions};
use xray_cmk_aws::verify::{check, VerifyError, VerifyOptions};
use xray_cmk_core::remediation::apply::{
    in_scope, ApplyResult, ApplySummary, Outcome, StepResult, TargetResult, RESULT_SCHEMA_VERSION,
};
use xray_cmk_core::remediation::plan::{acting_principal, Plan, TargetPlan};
use xray_cmk_core::{CollectionError, Needs};
use xray_cmk_report::verify as verify_table;

use crate::audit::{now, prepare, Prepared};
use crate::cli::{ApplyArgs, VerifyArgs};
use crate::exit::Exit;

const VERSION: &str = env!("CARGO_PKG_VERSION");

use crate::runtime::runtime;

pub fn run(args: ApplyArgs) -> Result<Exit> {
    runtime()?.block_on(apply(args))
}

pub fn run_verify(args: VerifyArgs) -> Result<Exit> {
    runtime()?.block_on(verify_all(args))
}

fn scan_options(role_name: &str, external_id: Option<&str>, session_name: &str) -> ScanOptions {
    ScanOptions {
        role_name: role_name.to_owned(),
        external_id: external_id.map(str::to_owned),
        session_name: session_name.to_owned(),
        regions: None,
        account_concurrency: 1,
        region_concurrency: 1,
        needs: Needs::default(),
        aggregated: None,
    }
}

/// Each account's clients, or why the account could not be reached.
type Clients = BTreeMap<String, Result<AccountClients, CollectionError>>;
/// Who the calls are made as in each reached account.
type Callers = BTreeMap<String, Result<String, CollectionError>>;

async fn apply(args: ApplyArgs) -> Result<Exit> {
    let plan = read_plan(&args)?;
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let store = crate::history::open(&args.history)?;
    check_only(&args, &plan)?;
    let targets: Vec<&TargetPlan> = plan
        .targets
        .iter()
        .filter(|t| !t.steps.is_empty() && in_scope(&args.only, &t.account, &t.region))
        .collect();
    if targets.is_empty() {
        outln!("nothing to apply: the plan has no steps in scope");
        return Ok(Exit::Clean);
    }

    let shared = Shared::new(usize::from(args.concurrency).max(4));
    let session = xray_cmk_aws::load(&args.aws.session_options(), &shared).await?;
    check_principals(&targets, &session.identity.arn, &args.aws.role_name)?;
    let (started_at, today) = now()?;
    let started = std::time::Instant::now();
    let (clients, callers) = reach(&targets, &session, &shared, &args).await;
    let mut apply_opts = apply_options(&args, &session.identity.arn, &callers, policy, today);

    let (targets, checked) =
        match preflight(&targets, &clients, &callers, &apply_opts, args.concurrency).await? {
            Preflight::Ready { targets, checked } => (targets, checked),
            Preflight::Incomplete => {
                write_stats(args.stats_out.as_deref(), &shared, started)?;
                return Ok(Exit::Incomplete);
            }
        };
    let to_change: usize = checked
        .iter()
        .flat_map(|t| &t.steps)
        .filter(|s| s.outcome == Outcome::NotRun)
        .count();
    if to_change == 0 {
        outln!(
            "nothing to change: every step of the {} target(s) in scope is already in place",
            targets.len()
        );
        write_stats(args.stats_out.as_deref(), &shared, started)?;
        return Ok(Exit::Clean);
    }
    if !(args.yes && args.quiet) {
        eprint!("{}", xray_cmk_report::apply::preview(&checked));
    }
    if !args.yes && !confirm(to_change, targets.len())? {
        eprintln!("not applied: nothing was changed");
        return Ok(Exit::Config);
    }

    apply_opts.dry_run = false;
    let document = execute(
        &targets,
        &clients,
        &apply_opts,
        &args,
        &plan,
        store,
        started_at,
    )
    .await?;
    write_result(&args, &document)?;
    write_stats(args.stats_out.as_deref(), &shared, started)?;
    Ok(if document.summary.failed > 0 {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

/// The sealed plan at `args.plan`.
fn read_plan(args: &ApplyArgs) -> Result<Plan> {
    let text = crate::input::read_text(&args.plan, "plan", crate::input::PLAN_CAP)?;
    Plan::from_json(&text, VERSION).map_err(|e| anyhow!("{}: {e}", args.plan.display()))
}

/// Each --only must select a target of the plan, as each --rules pattern must match a rule.
fn check_only(args: &ApplyArgs, plan: &Plan) -> Result<()> {
    let unmatched: Vec<String> = args
        .only
        .iter()
        .filter(|o| {
            !plan
                .targets
                .iter()
                .any(|t| in_scope(std::slice::from_ref(*o), &t.account, &t.region))
        })
        .map(|o| match &o.region {
            Some(r) => format!("`{}/{r}`", o.account),
            None => format!("`{}`", o.account),
        })
        .collect();
    if !unmatched.is_empty() {
        bail!(
            "--only {} selects no target of {}; nothing was changed",
            unmatched.join(", "),
            args.plan.display()
        );
    }
    Ok(())
}

/// The plan names, per target, the principal its key policies were made for: this run must act
/// as that principal there, or a new key would not keep its administrator. A usage error, known
/// before any account is reached: it takes precedence over targets that could not be read
/// (which a wrong --role-name would cause).
fn check_principals(targets: &[&TargetPlan], caller: &str, role_name: &str) -> Result<()> {
    let wrong_principal: Vec<String> = targets
        .iter()
        .filter_map(|t| {
            let acting = acting_principal(caller, &t.account, role_name);
            (t.principal != acting).then(|| {
                format!(
                    "{} {}: the plan was made for {} to apply, but this run acts there as {acting}; \
                     plan again with the identity (and --role-name) that applies",
                    t.account, t.region, t.principal
                )
            })
        })
        .collect();
    refuse_on(&wrong_principal)
}

/// Prints each problem found before applying and refuses, or does nothing when there is none.
fn refuse_on(problems: &[String]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    for p in problems {
        eprintln!("error: {}", xray_cmk_core::text::for_terminal(p));
    }
    bail!(
        "{} problem{} found before applying; nothing was changed",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )
}

/// Every account of the targets, reached once, and who the calls are made as in each: what the
/// permission check simulates.
async fn reach(
    targets: &[&TargetPlan],
    session: &xray_cmk_aws::Session,
    shared: &Shared,
    args: &ApplyArgs,
) -> (Clients, Callers) {
    let opts = scan_options(
        &args.aws.role_name,
        args.aws.external_id.as_deref(),
        "xray-cmk-apply",
    );
    let mut clients: Clients = BTreeMap::new();
    for t in targets {
        if !clients.contains_key(&t.account) {
            let c = account_clients(session, shared, &t.account, &opts).await;
            clients.insert(t.account.clone(), c);
        }
    }
    let mut callers: Callers = BTreeMap::new();
    for (account, c) in &clients {
        if let Ok(c) = c {
            callers.insert(account.clone(), permissions::caller_arn(&c.sts()).await);
        }
    }
    (clients, callers)
}

/// How to apply: first as the pre-flight's dry run.
fn apply_options(
    args: &ApplyArgs,
    caller: &str,
    callers: &Callers,
    policy: xray_cmk_core::OrgPolicy,
    today: xray_cmk_core::Date,
) -> ApplyOptions {
    ApplyOptions {
        caller: caller.to_owned(),
        account_callers: callers
            .iter()
            .filter_map(|(a, c)| Some((a.clone(), c.as_ref().ok()?.clone())))
            .collect(),
        wait_timeout: Duration::from_secs(args.wait_timeout),
        poll_interval: Duration::from_secs(1),
        verify: VerifyOptions {
            timeout: Duration::from_secs(args.verify_timeout),
            ..VerifyOptions::default()
        },
        dry_run: true,
        policy,
        today,
    }
}

/// Where the pre-flight leaves an apply.
enum Preflight<'p> {
    /// Every target was read and checked: the dry run's results, to preview and apply.
    Ready {
        targets: Vec<&'p TargetPlan>,
        checked: Vec<TargetResult>,
    },
    /// Some target could not be read or checked (said on stderr): nothing is applied (exit 3).
    Incomplete,
}

/// Pre-flight: every target read as the audit reads it, then every precondition checked and the
/// caller's permissions simulated, before anything changes. A target that could not be read is
/// not checked further. A refusal (a failed precondition, a denied permission) is an error.
async fn preflight<'p>(
    all_targets: &[&'p TargetPlan],
    clients: &Clients,
    callers: &Callers,
    opts: &ApplyOptions,
    concurrency: u16,
) -> Result<Preflight<'p>> {
    let unread = unread_targets(all_targets, clients, concurrency).await;
    let targets: Vec<&TargetPlan> = all_targets
        .iter()
        .copied()
        .filter(|t| {
            !unread
                .iter()
                .any(|(a, r, _)| *a == t.account && *r == t.region)
        })
        .collect();
    let checked = run_targets(&targets, clients, opts, concurrency, &|_, _| {}, |_| {}).await;
    let (mut unknown, mut problems) = step_problems(&checked);
    let permissions = check_permissions(
        &targets,
        &checked,
        clients,
        callers,
        &opts.policy,
        concurrency,
    )
    .await;
    problems.extend(permissions.denied);
    unknown.extend(permissions.unchecked);
    if !unread.is_empty() || !unknown.is_empty() {
        for (account, region, err) in &unread {
            eprintln!(
                "error: {account} {region} could not be read: {}",
                xray_cmk_core::text::for_terminal(&err.to_string())
            );
        }
        for p in unknown.iter().chain(&problems) {
            eprintln!("error: {}", xray_cmk_core::text::for_terminal(p));
        }
        let unread_targets: BTreeSet<(&str, &str)> = unread
            .iter()
            .map(|(a, r, _)| (a.as_str(), r.as_str()))
            .chain(
                permissions
                    .unchecked_targets
                    .iter()
                    .map(|(a, r)| (a.as_str(), r.as_str())),
            )
            .chain(checked.iter().filter_map(|t| {
                t.steps
                    .iter()
                    .any(|s| s.outcome == Outcome::Failed && s.failed_call.is_some())
                    .then_some((t.account.as_str(), t.region.as_str()))
            }))
            .collect();
        eprintln!(
            "error: {} of {} targets in scope could not be read or checked{}; nothing was changed (--only leaves targets out)",
            unread_targets.len(),
            all_targets.len(),
            match problems.len() {
                0 => String::new(),
                n => format!(", and {n} other problem{} found", if n == 1 { "" } else { "s" }),
            }
        );
        return Ok(Preflight::Incomplete);
    }
    refuse_on(&problems)?;
    Ok(Preflight::Ready { targets, checked })
}

/// The dry run's failed steps, one line each: those whose read failed (denied, throttled,
/// unreachable) leave their target unknown (exit 3, as for a target that could not be read at
/// all); any other failure is a refusal (exit 2).
fn step_problems(checked: &[TargetResult]) -> (Vec<String>, Vec<String>) {
    let mut unknown: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for t in checked {
        for s in t.steps.iter().filter(|s| s.outcome == Outcome::Failed) {
            let line = format!(
                "{} {} step {} ({}): {}",
                t.account, t.region, s.step, s.action, s.message
            );
            if s.failed_call.is_some() {
                unknown.push(line);
            } else {
                problems.push(line);
            }
        }
    }
    (unknown, problems)
}

/// Applies the targets, recording the run in the history: begun before the first change, and
/// each step written when it ends, so a run that is killed leaves what it did, listed by
/// `xray-cmk history` as incomplete. The result document.
async fn execute(
    targets: &[&TargetPlan],
    clients: &Clients,
    opts: &ApplyOptions,
    args: &ApplyArgs,
    plan: &Plan,
    store: Option<xray_cmk_store::Store>,
    started_at: String,
) -> Result<ApplyResult> {
    let recording = std::sync::Mutex::new(crate::history::Recording::start(
        store,
        &xray_cmk_store::Run {
            kind: "apply",
            started_at: &started_at,
            finished_at: "",
            tool_version: VERSION,
            scope: serde_json::json!({ "plan_digest": plan.digest, "only": args.only.iter().map(|o| match &o.region {
                Some(r) => format!("{}/{r}", o.account),
                None => o.account.clone(),
            }).collect::<Vec<_>>() }),
            exit_code: None,
        },
    ));
    let record_step = |t: &TargetPlan, s: &StepResult| {
        let ended_at = crate::history::rfc3339(std::time::SystemTime::now()).ok();
        let mut guard = recording
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = guard.as_mut() {
            r.add(
                &[],
                &[xray_cmk_store::StepRecord {
                    account: &t.account,
                    region: &t.region,
                    step: s.step,
                    action: s.action,
                    outcome: outcome_word(s.outcome),
                    message: &s.message,
                    ended_at: ended_at.as_deref(),
                }],
            );
        }
    };
    let results = run_targets(
        targets,
        clients,
        opts,
        args.concurrency,
        &record_step,
        |t| {
            if !args.quiet {
                eprintln!(
                    "{} {}: {} · {}",
                    t.account,
                    t.region,
                    xray_cmk_report::apply::status_word(t.status),
                    t.state
                );
            }
        },
    )
    .await;
    let (finished_at, _) = now()?;
    let summary = ApplySummary::of(&results);
    if let Some(r) = recording
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        r.finish(&finished_at, if summary.failed > 0 { 1 } else { 0 });
    }
    Ok(ApplyResult {
        schema_version: RESULT_SCHEMA_VERSION,
        tool_version: VERSION.to_owned(),
        plan_digest: plan.digest.clone(),
        caller: opts.caller.clone(),
        started_at,
        finished_at,
        targets: results,
        summary,
    })
}

/// The result document to `--out`, and the result for people on stdout.
fn write_result(args: &ApplyArgs, document: &ApplyResult) -> Result<()> {
    if let Some(path) = &args.out {
        std::fs::write(
            path,
            format!("{}\n", serde_json::to_string_pretty(document)?),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    out!("{}", xray_cmk_report::apply::result(document));
    Ok(())
}

fn write_stats(
    path: Option<&std::path::Path>,
    shared: &Shared,
    started: std::time::Instant,
) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let stats = serde_json::json!({
        "elapsed_seconds": started.elapsed().as_secs_f64(),
        "api_calls": shared.limits.calls(),
        "operations": shared.limits.operations.snapshot(),
    });
    std::fs::write(path, format!("{stats:#}\n"))
        .with_context(|| format!("writing {}", path.display()))
}

/// The targets that could not be read, as `audit` reads them: their account could not be reached,
/// or X-Ray's encryption configuration there could not be read. In plan order.
async fn unread_targets(
    targets: &[&TargetPlan],
    clients: &BTreeMap<String, Result<AccountClients, CollectionError>>,
    concurrency: u16,
) -> Vec<(String, String, CollectionError)> {
    let mut unread: Vec<(usize, String, String, CollectionError)> =
        stream::iter(targets.iter().enumerate())
            .map(|(i, t)| async move {
                let err = match clients.get(&t.account) {
                    Some(Ok(c)) => {
                        let xray = xray_cmk_aws::ClientSource::xray(c, &t.region);
                        match xray_cmk_aws::collect::encryption_config(&xray).await {
                            xray_cmk_core::Observed::Known(_) => None,
                            xray_cmk_core::Observed::Unknown(err) => Some(err),
                        }
                    }
                    Some(Err(err)) => Some(err.clone()),
                    None => None,
                };
                err.map(|e| (i, t.account.clone(), t.region.clone(), e))
            })
            .buffer_unordered(usize::from(concurrency).max(1))
            .filter_map(futures::future::ready)
            .collect()
            .await;
    unread.sort_by_key(|(i, ..)| *i);
    unread.into_iter().map(|(_, a, r, e)| (a, r, e)).collect()
}

/// Applies (or checks) the targets, `concurrency` at a time; results in plan order.
async fn run_targets(
    targets: &[&TargetPlan],
    clients: &BTreeMap<String, Result<AccountClients, CollectionError>>,
    opts: &ApplyOptions,
    concurrency: u16,
    on_step: &(dyn Fn(&TargetPlan, &StepResult) + Send + Sync),
    on_done: impl Fn(&TargetResult),
) -> Vec<TargetResult> {
    let mut results: Vec<(usize, TargetResult)> = stream::iter(targets.iter().enumerate())
        .map(|(i, t)| async move {
            let unreachable = |why: &CollectionError| {
                let result = unreachable_account(t, why);
                for s in &result.steps {
                    on_step(t, s);
                }
                result
            };
            let result = match clients.get(&t.account) {
                Some(Ok(c)) => apply_target_observed(c, t, opts, &|s| on_step(t, s)).await,
                Some(Err(err)) => unreachable(err),
                None => unreachable(&CollectionError {
                    operation: "sts:AssumeRole".into(),
                    kind: xray_cmk_core::ErrorKind::Other,
                    code: None,
                    message: "no clients for the account".into(),
                }),
            };
            (i, result)
        })
        .buffer_unordered(usize::from(concurrency).max(1))
        .inspect(|(_, r)| on_done(r))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Pre-flight, after the preconditions: may the caller make every call of the steps that would
/// run? One line per target that it may not, or whose permissions could not be checked (unknown
/// is not a pass). A root caller is not simulated, and that is said once per account.
async fn check_permissions(
    targets: &[&TargetPlan],
    checked: &[TargetResult],
    clients: &BTreeMap<String, Result<AccountClients, CollectionError>>,
    callers: &BTreeMap<String, Result<String, CollectionError>>,
    policy: &xray_cmk_core::OrgPolicy,
    concurrency: u16,
) -> PermissionProblems {
    let verdicts: Vec<(usize, &str, Result<Verdict, Unchecked>)> =
        stream::iter(targets.iter().zip(checked).enumerate())
            .filter(|(_, (t, r))| {
                // Also for a target whose preconditions failed (a denied read, say): every
                // missing permission is named at once. A target with nothing to run needs none;
                // an unreachable account was reported by the dry run.
                let ready = matches!(clients.get(&t.account), Some(Ok(_)))
                    && r.steps
                        .iter()
                        .any(|s| matches!(s.outcome, Outcome::NotRun | Outcome::Failed));
                futures::future::ready(ready)
            })
            .map(|(i, (t, r))| async move {
                let client = clients.get(&t.account).and_then(|c| c.as_ref().ok());
                let caller = callers.get(&t.account);
                match (client, caller) {
                    (Some(c), Some(Ok(caller))) => {
                        let kms = xray_cmk_aws::ClientSource::kms(c, &t.region);
                        let roles = policy.key_admins_for(&t.account);
                        let verdict =
                            permissions::check_target(&c.iam(), &kms, caller, &roles, t, r).await;
                        (i, caller.as_str(), verdict)
                    }
                    (_, Some(Err(err))) => (i, "the caller", Err(Unchecked::Call(err.clone()))),
                    // The dry run already failed every target of an unreachable account.
                    _ => (
                        i,
                        "the caller",
                        Err(Unchecked::Call(CollectionError {
                            operation: "sts:GetCallerIdentity".into(),
                            kind: xray_cmk_core::ErrorKind::Other,
                            code: None,
                            message: "the account could not be reached".into(),
                        })),
                    ),
                }
            })
            .buffer_unordered(usize::from(concurrency).max(1))
            .collect()
            .await;
    let mut verdicts = verdicts;
    verdicts.sort_by_key(|(i, _, _)| *i);
    let mut problems = PermissionProblems::default();
    let mut root_noted: Vec<&str> = Vec::new();
    for (i, caller, verdict) in &verdicts {
        let t = targets[*i];
        match verdict {
            Ok(Verdict::Allowed) => {}
            Ok(Verdict::Root) => {
                if !root_noted.contains(&t.account.as_str()) {
                    root_noted.push(&t.account);
                    eprintln!(
                        "pre-flight: {caller} is the root user of {}, which has every IAM permission: its permissions are not simulated",
                        t.account
                    );
                }
            }
            Ok(Verdict::Denied(denied)) => problems.denied.push(permissions::denied_message(
                caller, &t.account, &t.region, denied,
            )),
            Err(err) => {
                problems.unchecked.push(permissions::unchecked_message(
                    caller,
                    &t.account,
                    &t.region,
                    &permissions::needed_actions(t, &checked[*i]),
                    err,
                ));
                problems
                    .unchecked_targets
                    .push((t.account.clone(), t.region.clone()));
            }
        }
    }
    problems
}

/// What the permission pre-flight found: actions the caller may not make (a refusal, exit 2),
/// and targets whose permissions could not be checked (unknown, exit 3).
#[derive(Default)]
struct PermissionProblems {
    denied: Vec<String>,
    unchecked: Vec<String>,
    unchecked_targets: Vec<(String, String)>,
}

/// Every step of a target whose account cannot be reached: the first failed, the rest not run.
/// How the history names a step's outcome.
fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Done => "done",
        Outcome::Skipped => "skipped",
        Outcome::Failed => "failed",
        Outcome::NotRun => "not_run",
    }
}

fn unreachable_account(t: &TargetPlan, why: &CollectionError) -> TargetResult {
    let steps = t
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| xray_cmk_core::remediation::apply::StepResult {
            step: i + 1,
            action: s.action.kind(),
            outcome: if i == 0 {
                Outcome::Failed
            } else {
                Outcome::NotRun
            },
            message: if i == 0 {
                format!("account not reachable: {why}")
            } else {
                "an earlier step failed".to_owned()
            },
            failed_call: (i == 0).then_some(why.kind),
        })
        .collect();
    TargetResult::from_steps(&t.account, &t.region, steps)
}

fn confirm(steps: usize, targets: usize) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to apply without --yes: standard input is not a terminal, so nobody can confirm; nothing was changed");
    }
    eprint!("Apply {steps} step(s) to {targets} target(s)? Type `yes` to go on: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// An account of `verify`'s scope, reached, with the regions to verify in it; or why not.
type Reached = Result<(AccountClients, Vec<String>), CollectionError>;

async fn verify_all(args: VerifyArgs) -> Result<Exit> {
    let Prepared {
        session,
        shared,
        accounts,
        mut opts,
        ..
    } = prepare(&args.scan, Needs::default()).await?;
    opts.session_name = "xray-cmk-verify".to_owned();
    let accounts = accounts.all().await?;
    if accounts.is_empty() {
        bail!(crate::audit::NO_ACCOUNT_LEFT);
    }
    let verify_opts = VerifyOptions {
        timeout: Duration::from_secs(args.timeout),
        ..VerifyOptions::default()
    };
    // Every account in scope is reached, and its regions listed, before anything is written: an
    // --only that selects nothing is refused first.
    let mut reached: Vec<(String, Reached)> = Vec::new();
    for account in &accounts {
        if !args.only.is_empty() && !args.only.iter().any(|o| &o.account == account) {
            continue;
        }
        let r = match account_clients(&session, &shared, account, &opts).await {
            Err(err) => Err(err),
            Ok(clients) => match &opts.regions {
                Some(r) => Ok((clients, r.clone())),
                None => match enabled_regions(&clients.account()).await {
                    Ok(r) => Ok((clients, r)),
                    Err(err) => Err(CollectionError {
                        operation: "account:ListRegions".into(),
                        kind: xray_cmk_core::ErrorKind::Other,
                        code: None,
                        message: err.to_string(),
                    }),
                },
            },
        };
        reached.push((account.clone(), r));
    }
    let unmatched = unmatched_only(&args.only, &reached);
    if !unmatched.is_empty() {
        bail!(
            "--only selects no target for {}; nothing was verified",
            unmatched.join("; ")
        );
    }

    let mut rows: Vec<verify_table::Row> = Vec::new();
    let row = |account: &str, region: String, res: Result<String, VerifyError>| verify_table::Row {
        account: account.to_owned(),
        region,
        outcome: match res {
            Ok(seen) => verify_table::Outcome::Verified(seen),
            Err(e @ VerifyError::Failed(_)) => verify_table::Outcome::Failed(e.to_string()),
            Err(e @ VerifyError::Unchecked(_)) => verify_table::Outcome::Unchecked(e.to_string()),
        },
    };
    for (account, r) in &reached {
        let (clients, regions) = match r {
            Ok(ok) => ok,
            Err(err) => {
                rows.push(row(
                    account,
                    "*".into(),
                    Err(VerifyError::Unchecked(err.clone())),
                ));
                continue;
            }
        };
        let regions: Vec<String> = regions
            .iter()
            .filter(|r| in_scope(&args.only, account, r))
            .cloned()
            .collect();
        // Who reads the trace back, to tell whether the key policy lets it decrypt.
        let caller = permissions::caller_arn(&clients.sts()).await.ok();
        let caller = caller.as_deref();
        let done: Vec<(String, Result<String, VerifyError>)> = stream::iter(regions)
            .map(|region| async move {
                let xray = xray_cmk_aws::ClientSource::xray(clients, &region);
                let kms = xray_cmk_aws::ClientSource::kms(clients, &region);
                let r = check(&xray, &kms, caller, verify_opts).await;
                (region, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        rows.extend(done.into_iter().map(|(r, res)| row(account, r, res)));
    }
    let (out, counts) = verify_table::render(rows);
    out!("{out}");
    // Unknown is never a pass: a target that could not be checked makes the run incomplete.
    Ok(if counts.unchecked > 0 {
        Exit::Incomplete
    } else if counts.failed > 0 {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

/// The `--only` entries that select no target of `reached`, each with why. An account that could
/// not be reached, or whose regions could not be listed, may hold the region asked for: it is
/// selected, and reported as not checked.
fn unmatched_only(
    only: &[xray_cmk_core::remediation::apply::Only],
    reached: &[(String, Reached)],
) -> Vec<String> {
    only.iter()
        .filter_map(|o| {
            let shown = match &o.region {
                Some(r) => format!("{}/{r}", o.account),
                None => o.account.clone(),
            };
            let Some((_, r)) = reached.iter().find(|(a, _)| *a == o.account) else {
                let whose = match &o.region {
                    Some(_) => format!(": {}", o.account),
                    None => String::new(),
                };
                return Some(format!(
                    "`{shown}`{whose} is not an account in scope (widen it with --accounts, --ou or --org)"
                ));
            };
            match (r, &o.region) {
                (Ok((_, regions)), Some(region)) if !regions.contains(region) => Some(format!(
                    "`{shown}`: {region} is not a region verified in {} (not enabled there, or outside --regions)",
                    o.account
                )),
                _ => None,
            }
        })
        .collect()
}
