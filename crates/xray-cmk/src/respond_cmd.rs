//! `xray-cmk erase`, `restore` and `rotate-now`: act on the key X-Ray uses, after showing the
//! blast radius, with the key id typed back as confirmation and a reason, and a record of who
//! did it and when in the history.

use crate::out::{out, outln};
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use xray_cmk_aws::fanout::{account_clients, ScanOptions};
use xray_cmk_aws::respond::{
    act, key_facts, who_disabled, xray_key, Disabler, EraseRecord, KeyAction, KeyFacts,
    RespondError,
};
use xray_cmk_core::Needs;

use crate::cli::{KeyActionArgs, RotateArgs};
use crate::exit::Exit;

use crate::runtime::runtime;

/// The key id typed back, from `--confirm` or the terminal; anything else refuses.
fn confirmed(facts: &KeyFacts, given: Option<&str>, what: &str) -> Result<()> {
    let typed = match given {
        Some(g) => g.to_owned(),
        None => {
            if !std::io::stdin().is_terminal() {
                bail!("refusing to {what} without --confirm {}: standard input is not a terminal; nothing was changed", facts.key_id);
            }
            eprint!("Type the key id ({}) to {what}: ", facts.key_id);
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    if typed == facts.key_id || typed == facts.arn {
        Ok(())
    } else {
        bail!(
            "the confirmation `{typed}` is not the key id {}; nothing was changed",
            facts.key_id
        )
    }
}

/// What disabling a key does to everything else it protects.
const ERASE_WARNING: &str = "  warning: anything else encrypted with this key (other services, other accounts through grants or the key policy) becomes unreadable too while it is disabled\n";
/// What re-enabling a key brings back, and what it cannot.
const RESTORE_NOTE: &str = "  restoring: traces X-Ray writes from now on are encrypted with this key and readable again, as are stored traces it encrypted (within X-Ray's retention); traces sent while it was disabled were dropped and do not come back\n";

fn blast_radius(facts: &KeyFacts, users: &[String], note: &str) -> String {
    let mut out = format!(
        "key {}\n  state {} · manager {}\n  aliases: {}\n  grants: {}\n  X-Ray configurations using it: {}\n",
        facts.arn,
        facts.state,
        facts.manager,
        if facts.aliases.is_empty() { "none".to_owned() } else { facts.aliases.join(", ") },
        if facts.grants.is_empty() { "none".to_owned() } else { facts.grants.join("; ") },
        users.join(", ")
    );
    out.push_str(note);
    out
}

const NOTHING_CHANGED: &str = "nothing was changed";
const NO_EVIDENCE: &str = "no evidence was written";

/// Where a command stops on `err`, before it changed anything: a call that could not be made
/// means what it would have read is unknown, so the run is incomplete (exit 3), never a
/// refusal; anything else (no key to act on, a malformed answer) is a refusal (exit 2).
fn stop(err: RespondError, after: &str) -> Result<Exit> {
    match err {
        RespondError::Call(_) => {
            eprintln!("error: {err}; {after}");
            Ok(Exit::Incomplete)
        }
        other => bail!("{other}; {after}"),
    }
}

/// The value, or the command's end through [`stop`].
macro_rules! read {
    ($e:expr, $after:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return stop(err.into(), $after),
        }
    };
}

struct Target {
    clients: xray_cmk_aws::clients::AccountClients,
    caller: String,
    session: xray_cmk_aws::Session,
    shared: xray_cmk_aws::clients::Shared,
    opts: ScanOptions,
}

/// The session, then the account's clients; `Err` inside when the account cannot be reached.
async fn connect(
    args: &crate::cli::AwsAccess,
    account: &str,
) -> Result<Result<Target, RespondError>> {
    let shared = xray_cmk_aws::clients::Shared::new(4);
    let session = xray_cmk_aws::load(&args.session_options(), &shared).await?;
    let opts = ScanOptions {
        role_name: args.role_name.clone(),
        external_id: args.external_id.clone(),
        session_name: "xray-cmk-respond".to_owned(),
        regions: None,
        account_concurrency: 1,
        region_concurrency: 1,
        needs: Needs::default(),
        aggregated: None,
    };
    let clients = match account_clients(&session, &shared, account, &opts).await {
        Ok(c) => c,
        Err(err) => return Ok(Err(RespondError::Call(err))),
    };
    Ok(Ok(Target {
        clients,
        caller: session.identity.arn.clone(),
        session,
        shared,
        opts,
    }))
}

/// The X-Ray configurations in `region` that use `key_arn`: the one given, and with `org` every
/// other ACTIVE account of the organization (a key can be shared across accounts). The second
/// value counts the accounts that could not be checked: the radius shown is incomplete.
async fn users_of(
    target: &Target,
    account: &str,
    region: &str,
    key_arn: &str,
    org: bool,
) -> Result<(Vec<String>, usize)> {
    let mut users = vec![format!("{account}/{region}")];
    let mut unchecked = 0;
    if !org {
        users.push("(other accounts not checked: pass --org)".to_owned());
        return Ok((users, unchecked));
    }
    let client = xray_cmk_aws::clients::AccountClients::new(
        target.session.config.clone(),
        target.shared.clone(),
    )
    .organizations();
    for other in xray_cmk_aws::org::active_accounts(&client).await? {
        if other.id == account {
            continue;
        }
        let why =
            match account_clients(&target.session, &target.shared, &other.id, &target.opts).await {
                Ok(c) => match xray_key(&c, region).await {
                    Ok(k) if k == key_arn => {
                        users.push(format!("{}/{region}", other.id));
                        continue;
                    }
                    Ok(_) | Err(RespondError::NoKey { .. }) => continue,
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
        unchecked += 1;
        users.push(format!("{}/{region} (not checked: {why})", other.id));
    }
    Ok((users, unchecked))
}

/// The key acted on, by whom, where.
struct Subject<'a> {
    caller: &'a str,
    facts: &'a KeyFacts,
    account: &'a str,
    region: &'a str,
}

/// Records `action` on the subject's key in the history (when history is on).
fn record(
    history: &crate::cli::HistoryArgs,
    subject: &Subject<'_>,
    action: &str,
    reason: &str,
    state_after: &str,
) -> Result<()> {
    let Some(mut store) = crate::history::open(history)? else {
        return Ok(());
    };
    let (at, _) = crate::audit::now()?;
    store.record_action(&xray_cmk_store::ActionRecord {
        at,
        who: subject.caller.to_owned(),
        action: action.to_owned(),
        key_arn: subject.facts.arn.clone(),
        account: subject.account.to_owned(),
        region: subject.region.to_owned(),
        reason: reason.to_owned(),
        state_after: state_after.to_owned(),
    })?;
    Ok(())
}

/// `erase` (`enable = false`) and `restore` (`enable = true`).
pub fn run(args: &KeyActionArgs, enable: bool) -> Result<Exit> {
    runtime()?.block_on(run_async(args, enable))
}

async fn run_async(args: &KeyActionArgs, enable: bool) -> Result<Exit> {
    let (verb, name) = if enable {
        ("re-enable", "restore")
    } else {
        ("disable", "erase")
    };
    if enable && args.schedule_deletion.is_some() {
        bail!("--schedule-deletion goes with erase, not restore");
    }
    if !enable && args.force {
        bail!("--force goes with restore, not erase");
    }
    if args.reason.trim().is_empty() {
        bail!("--reason must say why (it is recorded with who and when)");
    }
    // The history is opened first: a broken database stops this before anything changes.
    drop(crate::history::open(&args.history)?);
    let target = read!(connect(&args.aws, &args.account).await?, NOTHING_CHANGED);
    let key = read!(
        xray_key(&target.clients, &args.region).await,
        NOTHING_CHANGED
    );
    let facts = read!(
        key_facts(&target.clients, &args.region, &key).await,
        NOTHING_CHANGED
    );
    if facts.manager != "CUSTOMER" {
        bail!(
            "{} is an AWS managed key: AWS does not let you {verb} it; nothing was changed",
            facts.arn
        );
    }
    // What restore undoes, known before anything is shown or asked.
    let mut forced = None;
    if enable {
        let disabler = match restorable(args, &target, &facts).await? {
            Restorable::AlreadyEnabled => return Ok(Exit::Clean),
            Restorable::Disabled(d) => d,
        };
        eprintln!("{}", disabler_text(&disabler));
        if disabler.needs_force() {
            if !args.force {
                let why = match &disabler {
                    Disabler::Unknown { .. } => "who disabled it cannot be told",
                    _ => "xray-cmk's erase did not disable it",
                };
                let msg = format!(
                    "refusing to restore {}: {why}, and whoever did may have had a reason (an incident response). Find out, then pass --force with the confirmation; nothing was changed",
                    facts.arn
                );
                if matches!(disabler, Disabler::Unknown { .. }) {
                    eprintln!("error: {msg}");
                    return Ok(Exit::Incomplete);
                }
                bail!("{msg}");
            }
            forced = Some(disabler_text(&disabler));
        }
    }
    let (users, unchecked) =
        users_of(&target, &args.account, &args.region, &facts.arn, args.org).await?;
    eprint!(
        "{}",
        blast_radius(
            &facts,
            &users,
            if enable { RESTORE_NOTE } else { ERASE_WARNING }
        )
    );
    confirmed(&facts, args.confirm.as_deref(), verb)?;
    if let Some(days) = args.schedule_deletion {
        // Checked before anything changes: the second confirmation is separate, never implied.
        match args.confirm_deletion.as_deref() {
            Some(k) if k == facts.key_id || k == facts.arn => {}
            _ => bail!(
                "scheduling deletion in {days} days needs a second, separate --confirm-deletion {}; nothing was changed",
                facts.key_id
            ),
        }
    }
    let subject = Subject {
        caller: &target.caller,
        facts: &facts,
        account: &args.account,
        region: &args.region,
    };
    let action = if enable {
        KeyAction::Enable
    } else {
        KeyAction::Disable
    };
    let state = act(&target.clients, &args.region, &facts.arn, action)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let reason = match &forced {
        Some(d) => format!("{} [--force: {d}]", args.reason),
        None => args.reason.clone(),
    };
    record(&args.history, &subject, name, &reason, &state)?;
    outln!(
        "{name}: {} is now {state} (by {}, reason: {})",
        facts.arn,
        target.caller,
        args.reason
    );
    if enable && state == "Enabled" {
        outln!(
            "traces X-Ray writes from now on are readable again; those sent while the key was disabled were dropped"
        );
    }
    // What was shown before the confirmation may have missed users of the key: unknown, never a
    // clean run, whatever the action did.
    let radius = if unchecked > 0 {
        eprintln!(
            "warning: the blast radius shown is incomplete: {unchecked} account{} could not be checked for X-Ray configurations using {}",
            if unchecked == 1 { "" } else { "s" },
            facts.arn
        );
        Exit::Incomplete
    } else {
        Exit::Clean
    };
    let expected = if enable { "Enabled" } else { "Disabled" };
    if state != expected {
        eprintln!("error: the key is {state}, not {expected}");
        return Ok(if radius == Exit::Incomplete {
            radius
        } else {
            Exit::Findings
        });
    }
    if let Some(days) = args.schedule_deletion {
        eprintln!(
            "warning: scheduling deletion makes every trace encrypted with {} unreadable for good after {days} days",
            facts.arn
        );
        let state = act(
            &target.clients,
            &args.region,
            &facts.arn,
            KeyAction::ScheduleDeletion(days),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        record(
            &args.history,
            &subject,
            "schedule-deletion",
            &format!("{} (in {days} days)", args.reason),
            &state,
        )?;
        outln!(
            "deletion of {} scheduled in {days} days: it is now {state}",
            facts.arn
        );
    }
    Ok(radius)
}

/// Where `restore` stands before it asks anything.
enum Restorable {
    /// Nothing to do: said, and nothing recorded.
    AlreadyEnabled,
    Disabled(Disabler),
}

/// The key's state allows a restore, and who disabled it: the history's last `erase` or
/// `restore` of the key, and CloudTrail's last `DisableKey` on it (90 days).
async fn restorable(args: &KeyActionArgs, target: &Target, facts: &KeyFacts) -> Result<Restorable> {
    match facts.state.as_str() {
        "Enabled" => {
            outln!(
                "restore: {} is already Enabled: there is nothing to restore; nothing was changed or recorded",
                facts.arn
            );
            return Ok(Restorable::AlreadyEnabled);
        }
        "Disabled" | "PendingDeletion" => {}
        other => bail!(
            "{} is {other}: restore re-enables a Disabled key (or one pending deletion); nothing was changed",
            facts.arn
        ),
    }
    let last = match crate::history::open(&args.history)? {
        Some(store) => store
            .last_action(&facts.arn, &["erase", "restore"])?
            .map(|a| {
                (
                    a.action,
                    EraseRecord {
                        at: a.at,
                        who: a.who,
                        reason: a.reason,
                    },
                )
            }),
        None => None,
    };
    let since = std::time::SystemTime::now() - std::time::Duration::from_secs(90 * 86_400);
    let trail = xray_cmk_aws::evidence::last_disable_key(
        &target.clients,
        &args.region,
        &facts.arn,
        since,
        xray_cmk_aws::evidence::LOOKUP_INTERVAL,
    )
    .await;
    Ok(Restorable::Disabled(who_disabled(
        last.as_ref().map(|(a, r)| (a.as_str(), r.clone())),
        trail,
    )))
}

/// Who disabled the key, for the person deciding whether to restore it. What CloudTrail and the
/// history say is shown escaped: it never acts on the terminal.
fn disabler_text(d: &Disabler) -> String {
    xray_cmk_core::text::for_terminal(&disabler_words(d)).into_owned()
}

fn disabler_words(d: &Disabler) -> String {
    match d {
        Disabler::Erase(e) => format!(
            "disabled by xray-cmk erase at {} by {} (reason: {}), as the history records; CloudTrail shows no later DisableKey",
            e.at, e.who, e.reason
        ),
        Disabler::Other { at, principal } => format!(
            "NOT disabled by xray-cmk erase: CloudTrail's last DisableKey on it was at {at} by {principal}"
        ),
        Disabler::NoRecord => "NOT disabled by xray-cmk erase: who disabled it is unknown: no record (no erase in the history, no DisableKey in CloudTrail's last 90 days)".to_owned(),
        Disabler::Unknown { erase, error } => format!(
            "who disabled it is unknown: CloudTrail could not be read ({}){}",
            RespondError::Call(error.clone()),
            match erase {
                Some(e) => format!(
                    "; the history records an erase at {} by {}, but not whether anyone disabled it since",
                    e.at, e.who
                ),
                None => "; the history records no erase of it".to_owned(),
            }
        ),
    }
}

pub fn rotate_now(args: &RotateArgs) -> Result<Exit> {
    runtime()?.block_on(rotate_async(args))
}

async fn rotate_async(args: &RotateArgs) -> Result<Exit> {
    if args.reason.trim().is_empty() {
        bail!("--reason must say why (it is recorded with who and when)");
    }
    let (account, region) = xray_cmk_core::model::arn_account_region(&args.key)
        .map(|(a, r)| (a.to_owned(), r.to_owned()))
        .ok_or_else(|| {
            anyhow::anyhow!("KEY must be a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")
        })?;
    drop(crate::history::open(&args.history)?);
    let target = read!(connect(&args.aws, &account).await?, NOTHING_CHANGED);
    let facts = read!(
        key_facts(&target.clients, &region, &args.key).await,
        NOTHING_CHANGED
    );
    eprint!("{}", blast_radius(&facts, &[], ERASE_WARNING));
    confirmed(&facts, args.confirm.as_deref(), "rotate")?;
    let subject = Subject {
        caller: &target.caller,
        facts: &facts,
        account: &account,
        region: &region,
    };
    let state = act(&target.clients, &region, &facts.arn, KeyAction::RotateNow)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    record(&args.history, &subject, "rotate-now", &args.reason, &state)?;
    outln!("rotate-now: {} rotated on demand; it is {state}", facts.arn);
    Ok(Exit::Clean)
}

/// `xray-cmk evidence`: who used the key, whether it rotates, its policy and tags now.
pub fn evidence(args: &crate::cli::EvidenceArgs) -> Result<Exit> {
    runtime()?.block_on(evidence_async(args))
}

/// The key the evidence is about: `--key`, or the one X-Ray uses at `--account` and `--region`
/// (`None`: to be read from X-Ray).
fn evidence_subject(args: &crate::cli::EvidenceArgs) -> Result<(String, String, Option<String>)> {
    match (&args.key, &args.account, &args.region) {
        (Some(k), _, _) => {
            let (a, r) = xray_cmk_core::model::arn_account_region(k)
                .ok_or_else(|| anyhow::anyhow!("--key must be a key ARN"))?;
            Ok((a.to_owned(), r.to_owned(), Some(k.clone())))
        }
        (None, Some(a), Some(r)) => Ok((a.clone(), r.clone(), None)),
        _ => bail!("give --key KEY_ARN, or --account and --region of an X-Ray configuration"),
    }
}

/// Reads everything the evidence is made of; a read that fails ends the command (exit 3).
async fn collect_evidence(
    target: &Target,
    account: &str,
    region: &str,
    facts: &KeyFacts,
    days: u64,
) -> std::result::Result<xray_cmk_core::evidence::Collected, RespondError> {
    use xray_cmk_aws::evidence::{key_events, policy_and_tags, rotation, LOOKUP_INTERVAL};
    let since = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    let events = key_events(&target.clients, region, &facts.arn, since, LOOKUP_INTERVAL).await?;
    let rotation = rotation(&target.clients, region, &facts.arn).await?;
    let (key_policy, tags) = policy_and_tags(&target.clients, region, &facts.arn).await?;
    Ok(xray_cmk_core::evidence::Collected {
        key: xray_cmk_core::evidence::EvidenceKey {
            arn: facts.arn.clone(),
            account: account.to_owned(),
            region: region.to_owned(),
            state: facts.state.clone(),
            aliases: facts.aliases.clone(),
        },
        days,
        events,
        rotation,
        key_policy,
        tags,
    })
}

/// Records the evidence in the history (when history is on): the run names the key, the
/// evidence table holds the document.
fn record_evidence(
    store: Option<xray_cmk_store::Store>,
    evidence: &xray_cmk_core::evidence::Evidence,
    document: &serde_json::Value,
) -> Result<()> {
    let (at, _) = crate::audit::now()?;
    let key = &evidence.key;
    if let Some(mut r) = crate::history::Recording::start(
        store,
        &xray_cmk_store::Run {
            kind: "evidence",
            started_at: &at,
            finished_at: &at,
            tool_version: env!("CARGO_PKG_VERSION"),
            scope: serde_json::json!({
                "key": key.arn, "account": key.account, "region": key.region,
            }),
            exit_code: None,
        },
    ) {
        r.add_evidence(&xray_cmk_store::EvidenceRecord {
            key_arn: &key.arn,
            account: &key.account,
            region: &key.region,
            days: evidence.days,
            document,
        });
        r.finish(&at, 0);
    }
    Ok(())
}

async fn evidence_async(args: &crate::cli::EvidenceArgs) -> Result<Exit> {
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let store = crate::history::open(&args.history)?;
    let (account, region, key) = evidence_subject(args)?;
    let target = read!(connect(&args.aws, &account).await?, NO_EVIDENCE);
    let key = match key {
        Some(k) => k,
        None => read!(xray_key(&target.clients, &region).await, NO_EVIDENCE),
    };
    let facts = read!(key_facts(&target.clients, &region, &key).await, NO_EVIDENCE);
    let collected = read!(
        collect_evidence(&target, &account, &region, &facts, args.days).await,
        NO_EVIDENCE
    );
    let evidence = xray_cmk_core::evidence::aggregate(
        collected,
        xray_cmk_core::evidence::expected_principals(&policy, &account),
    );
    let document = xray_cmk_report::evidence::document(&evidence);
    record_evidence(store, &evidence, &document)?;
    match args.format {
        crate::cli::EvidenceFormat::Json => {
            outln!("{}", serde_json::to_string_pretty(&document)?)
        }
        crate::cli::EvidenceFormat::Csv => out!("{}", xray_cmk_report::evidence::csv(&evidence)),
        crate::cli::EvidenceFormat::Table => {
            out!("{}", xray_cmk_report::evidence::table(&evidence))
        }
    }
    Ok(Exit::Clean)
}
