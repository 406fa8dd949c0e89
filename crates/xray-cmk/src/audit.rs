//! `xray-cmk audit`: pick the accounts, scan them, evaluate each account's inventory as it
//! arrives, render, and choose the exit code.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context as _, Result};
use xray_cmk_aws::clients::{AccountClients, Shared};
use xray_cmk_aws::fanout::{scan_accounts, AccountSource, ScanOptions};
use xray_cmk_aws::{org, Session};
use xray_cmk_core::{
    evaluate, sort_findings, Context, Date, Finding, Needs, OrgPolicy, Rule, Summary,
    SummaryBuilder,
};
use xray_cmk_report::{asff, csv, json_v1, table, Report, Scope};

use crate::cli::{AuditCommandArgs, AuditOutput, Format, ScanArgs};
use crate::exit::Exit;
use crate::history::Recording;
use crate::progress::Progress;

/// The role session name, so the accounts' CloudTrail shows who scanned.
const SESSION_NAME: &str = "xray-cmk-audit";

/// ASFF documents by (account, region), for `--to-security-hub`.
type ToHub = xray_cmk_aws::securityhub::ByTarget;

pub(crate) fn run(args: AuditCommandArgs, color: bool) -> Result<Exit> {
    let runtime = crate::runtime::runtime()?;
    runtime.block_on(run_async(args, color))
}

/// Reads the aggregator's X-Ray items with the caller's credentials in the home region, one query
/// per region of the scan (`--regions`, else the caller's enabled regions; one query over all
/// regions when those cannot be listed).
async fn read_aggregator(
    name: &str,
    max_age_secs: u64,
    session: &Session,
    shared: &Shared,
    opts: &ScanOptions,
) -> xray_cmk_aws::aggregator::AggregatedXray {
    use xray_cmk_aws::collect::ClientSource;
    let clients = AccountClients::new(session.config.clone(), shared.clone());
    let regions = match &opts.regions {
        Some(r) => r.clone(),
        None => session.enabled_regions().await.unwrap_or_default(),
    };
    xray_cmk_aws::aggregator::read(
        &ClientSource::config(&clients, &clients.home_region()),
        name,
        &regions,
        std::time::Duration::from_secs(max_age_secs),
        SystemTime::now(),
        opts.account_concurrency.min(32),
    )
    .await
}

/// The stderr line that says which account-regions were read from the aggregator and which live.
fn aggregator_line(
    a: &xray_cmk_aws::aggregator::AggregatedXray,
    from_config: usize,
    targets: usize,
) -> String {
    if let Some(err) = &a.unreadable {
        return format!(
            "xray-cmk: AWS Config aggregator {}: cannot be read ({err}); no X-Ray configuration is judged from it, and every result that needs it is an error",
            a.aggregator
        );
    }
    let mut unused = Vec::new();
    for (n, what) in [
        (a.stale, "older than --max-config-age"),
        (a.not_current, "deleted or not recorded"),
        (a.malformed, "not well-formed"),
    ] {
        if n > 0 {
            unused.push(format!("{n} {what}"));
        }
    }
    format!(
        "xray-cmk: AWS Config aggregator {}: X-Ray configuration of {from_config} of {targets} account-regions from configuration items ({} queries); {} read live{}",
        a.aggregator,
        a.queries,
        targets.saturating_sub(from_config),
        if unused.is_empty() {
            String::new()
        } else {
            format!(" (items not used: {})", unused.join(", "))
        }
    )
}

/// What an audit, a plan and a verify start from: the session, the accounts in scope and how to
/// scan them.
pub(crate) struct Prepared {
    pub(crate) shared: Shared,
    pub(crate) session: Session,
    /// The accounts to scan; an organization's are listed while the scan runs.
    pub(crate) accounts: AccountSource,
    pub(crate) opts: ScanOptions,
}

/// Resolves the session and the accounts in scope (the callers check their other flags and
/// files first, so a mistake fails before any AWS call).
pub(crate) async fn prepare(args: &ScanArgs, needs: Needs) -> Result<Prepared> {
    let concurrency = usize::from(args.concurrency);
    let shared = Shared::new(concurrency);
    let session = xray_cmk_aws::load(&args.aws.session_options(), &shared).await?;
    let accounts = resolve_accounts(args, &session, &shared).await?;
    // The SCPs are read only in an organization scan, from the organization's root down.
    let needs = Needs {
        scp: needs.scp && (args.org || !args.ou.is_empty()),
        ..needs
    };
    let opts = ScanOptions {
        role_name: args.aws.role_name.clone(),
        external_id: args.aws.external_id.clone(),
        session_name: SESSION_NAME.to_owned(),
        regions: (!args.regions.is_empty()).then(|| {
            let mut r = args.regions.clone();
            r.sort();
            r.dedup();
            r
        }),
        account_concurrency: concurrency,
        region_concurrency: 8,
        needs,
        aggregated: None,
    };
    Ok(Prepared {
        shared,
        session,
        accounts,
        opts,
    })
}

/// Now, as RFC 3339, and today's date.
pub(crate) fn now() -> Result<(String, Date)> {
    let generated_at =
        xray_cmk_aws::time::rfc3339(SystemTime::now()).context("formatting the current time")?;
    let today: Date = generated_at
        .get(..10)
        .and_then(|d| d.parse().ok())
        .context("reading today's date")?;
    Ok((generated_at, today))
}

async fn run_async(args: AuditCommandArgs, color: bool) -> Result<Exit> {
    let started = Instant::now();
    let output = &args.output;
    // Flags, the history database and the policy are checked first: a mistake should fail
    // before any AWS call.
    let rules = xray_cmk_core::select(&args.select.rules, &args.select.skip_rules)
        .map_err(|e| anyhow::anyhow!("--rules/--skip-rules: {e}"))?;
    let store = crate::history::open(&args.history)?;
    let (policy, policy_path) = crate::policy_cmd::load(args.policy.as_deref())?;
    let mut prepared = prepare(&args.scan, Needs::of(&rules)).await?;
    if let Some(name) = &args.config.from_config_aggregator {
        let p = &prepared;
        let read = read_aggregator(
            name,
            args.config.max_config_age,
            &p.session,
            &p.shared,
            &p.opts,
        )
        .await;
        prepared.opts.aggregated = Some(std::sync::Arc::new(read));
    }
    let (generated_at, today) = now()?;
    let mut recording = start_recording(store, &generated_at, &prepared, &rules);

    let mut sink = Sink::new(output.format, &policy, today, &rules);
    let tally = gather(
        &prepared,
        &policy,
        &mut sink,
        recording.as_mut(),
        output,
        &generated_at,
    )
    .await?;

    let scope = Scope {
        accounts: tally.accounts.clone(),
        regions: sink.regions.iter().cloned().collect(),
        policy: policy_path.map(|p| p.display().to_string()),
    };
    let summary = sink.summary.finish();
    let failing_at_threshold = sink
        .open_failure_severities
        .iter()
        .any(|s| *s >= output.fail_on);
    let rendered = render(
        output.format,
        std::mem::take(&mut sink.findings),
        &summary,
        scope,
        &generated_at,
        color,
        output.show_passes,
    );
    write_stdout(&rendered)?;
    if let Some(path) = &output.stats_out {
        write_stats(path, started, &prepared.shared)?;
    }
    report_on_stderr(&prepared, &tally, &summary, started, output.quiet);

    let hub_failed = if output.to_security_hub {
        let p = &prepared;
        !send_to_security_hub(&p.session, &p.shared, &p.opts, tally.to_hub, output.quiet).await
    } else {
        false
    };
    let exit = exit_code(&summary, failing_at_threshold, hub_failed);
    if let Some(mut r) = recording {
        r.set_scope(history_scope(&tally.accounts, &prepared, &rules));
        r.finish(&now()?.0, exit as i32);
    }
    Ok(exit)
}

/// The run, as the history records it before the scan starts.
fn start_recording(
    store: Option<xray_cmk_store::Store>,
    generated_at: &str,
    prepared: &Prepared,
    rules: &[&'static dyn Rule],
) -> Option<Recording> {
    Recording::start(
        store,
        &xray_cmk_store::Run {
            kind: "audit",
            started_at: generated_at,
            finished_at: generated_at,
            tool_version: env!("CARGO_PKG_VERSION"),
            scope: history_scope(&prepared.accounts.known, prepared, rules),
            exit_code: None,
        },
    )
}

/// The run's scope in the history: at the start, the accounts known before the scan; at the
/// end, every account scanned.
fn history_scope(
    accounts: &[String],
    prepared: &Prepared,
    rules: &[&'static dyn Rule],
) -> serde_json::Value {
    serde_json::json!({
        "accounts": accounts,
        "regions": &prepared.opts.regions,
        "rules": rules.iter().map(|r| r.meta().id).collect::<Vec<_>>(),
    })
}

/// What the scan counted besides the findings `Sink` judged.
struct Tally {
    /// Account-regions whose X-Ray configuration came from a configuration item, and those
    /// whose configuration was read at all (an unreachable account's placeholder is not), for
    /// the aggregator's line.
    from_config: usize,
    read: usize,
    /// For `--to-security-hub`.
    to_hub: ToHub,
    /// Every account scanned, sorted.
    accounts: Vec<String>,
}

/// Scans every account, hands each inventory to `sink` as it arrives, records it, and shows
/// progress on stderr.
async fn gather(
    prepared: &Prepared,
    policy: &OrgPolicy,
    sink: &mut Sink<'_>,
    mut recording: Option<&mut Recording>,
    output: &AuditOutput,
    generated_at: &str,
) -> Result<Tally> {
    let Prepared {
        shared,
        session,
        accounts,
        opts,
    } = prepared;
    let progress = Progress::new(
        accounts.known.len() as u64,
        !output.quiet && std::io::stderr().is_terminal(),
    );
    let mut tally = Tally {
        from_config: 0,
        read: 0,
        to_hub: ToHub::new(),
        accounts: Vec::new(),
    };
    if output.format == Format::Csv {
        write_stdout(&csv::header())?;
    }
    let scanned = scan_accounts(
        session,
        shared,
        accounts.clone(),
        opts,
        policy,
        |scan, listed| {
            tally.from_config += scan.inventory.config_sourced.len();
            tally.read += scan
                .inventory
                .targets
                .iter()
                .filter(|t| t.region != "*")
                .count();
            let findings = sink.account(&scan.inventory);
            if output.to_security_hub {
                for f in &findings {
                    tally
                        .to_hub
                        .entry((f.account().to_owned(), f.region().to_owned()))
                        .or_default()
                        .push(asff::finding(f, generated_at));
                }
            }
            progress.account_done(
                scan.inventory.targets.len(),
                findings
                    .iter()
                    .any(|f| f.status() == xray_cmk_core::Status::Error),
                listed,
            );
            if let Some(r) = recording.as_mut() {
                r.queue(
                    findings,
                    crate::history::key_records(&scan.inventory),
                    crate::history::target_records(&scan.inventory),
                );
            }
        },
    )
    .await;
    progress.finish();
    tally.accounts = scanned?;
    if tally.accounts.is_empty() {
        bail!(NO_ACCOUNT_LEFT);
    }
    Ok(tally)
}

/// The whole output for the formats written at the end; JSON Lines' summary line; nothing for
/// CSV, whose rows were written as each account finished.
fn render(
    format: Format,
    mut findings: Vec<Finding>,
    summary: &Summary,
    scope: Scope,
    generated_at: &str,
    color: bool,
    show_passes: bool,
) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match format {
        Format::Table => {
            sort_findings(&mut findings);
            table::render_grouped(
                &Report::new(version, generated_at, scope, findings),
                color,
                show_passes,
            )
        }
        Format::Json => {
            sort_findings(&mut findings);
            json_v1::render(&Report::new(version, generated_at, scope, findings))
        }
        Format::Jsonl => {
            json_v1::summary_line(&Report::summarised(version, generated_at, scope, *summary))
        }
        Format::Csv => String::new(),
        Format::Asff => {
            sort_findings(&mut findings);
            asff::render(&Report::new(version, generated_at, scope, findings))
        }
    }
}

/// `--stats-out`: elapsed time, HTTP requests by service, operations by IAM action.
fn write_stats(path: &std::path::Path, started: Instant, shared: &Shared) -> Result<()> {
    let stats = serde_json::json!({
        "elapsed_seconds": started.elapsed().as_secs_f64(),
        "api_calls": shared.limits.calls(),
        "operations": shared.limits.operations.snapshot(),
    });
    std::fs::write(path, format!("{stats:#}\n"))
        .with_context(|| format!("writing {}", path.display()))
}

/// The aggregator's line (always, when it could not be read) and the closing summary line.
fn report_on_stderr(
    prepared: &Prepared,
    tally: &Tally,
    summary: &Summary,
    started: Instant,
    quiet: bool,
) {
    if let Some(a) = &prepared.opts.aggregated {
        if !quiet || a.unreadable.is_some() {
            eprintln!("{}", aggregator_line(a, tally.from_config, tally.read));
        }
    }
    if !quiet {
        eprintln!(
            "xray-cmk: {} targets in {} accounts: {} compliant, {} failing, {} error · {:.1} s · {} API calls",
            summary.targets,
            tally.accounts.len(),
            summary.compliant,
            summary.failing,
            summary.errors,
            started.elapsed().as_secs_f64(),
            prepared.shared.limits.total_calls()
        );
    }
}

/// Incomplete (3) over findings (1) over clean (0): unknown is never a pass.
fn exit_code(summary: &Summary, failing_at_threshold: bool, hub_failed: bool) -> Exit {
    if summary.errors > 0 || summary.error_results > 0 || hub_failed {
        Exit::Incomplete
    } else if failing_at_threshold {
        Exit::Findings
    } else {
        Exit::Clean
    }
}

/// Imports the ASFF documents into Security Hub in each account and region; reports on stderr.
/// `false` when anything could not be imported.
async fn send_to_security_hub(
    session: &Session,
    shared: &Shared,
    opts: &ScanOptions,
    by_target: ToHub,
    quiet: bool,
) -> bool {
    let out = xray_cmk_aws::securityhub::import_scan(session, shared, opts, by_target).await;
    if !quiet || !out.failed.is_empty() {
        eprintln!(
            "xray-cmk: Security Hub: {} findings imported, {} problems{}",
            out.imported,
            out.failed.len(),
            out.failed
                .first()
                .map(|f| format!(" (first: {f})"))
                .unwrap_or_default()
        );
    }
    out.failed.is_empty()
}

/// Where each account's findings go as it finishes: kept for the table and JSON, written at once
/// for JSON Lines. The summary is counted either way.
struct Sink<'p> {
    format: Format,
    policy: &'p OrgPolicy,
    today: Date,
    rules: &'p [&'static dyn xray_cmk_core::Rule],
    findings: Vec<Finding>,
    summary: SummaryBuilder,
    regions: BTreeSet<String>,
    /// Severities of unsuppressed failures, for `--fail-on` (JSON Lines keeps no findings).
    open_failure_severities: BTreeSet<xray_cmk_core::Severity>,
}

impl<'p> Sink<'p> {
    fn new(
        format: Format,
        policy: &'p OrgPolicy,
        today: Date,
        rules: &'p [&'static dyn xray_cmk_core::Rule],
    ) -> Self {
        Sink {
            format,
            policy,
            today,
            rules,
            findings: Vec::new(),
            summary: SummaryBuilder::default(),
            regions: BTreeSet::new(),
            open_failure_severities: BTreeSet::new(),
        }
    }

    /// Evaluates one account's inventory and takes its findings; returns them for progress.
    fn account(&mut self, inventory: &xray_cmk_core::Inventory) -> Vec<Finding> {
        let findings = evaluate(&Context {
            inventory,
            policy: self.policy,
            today: self.today,
            rules: self.rules,
        });
        self.regions.extend(
            inventory
                .targets
                .iter()
                .filter(|t| t.region != "*")
                .map(|t| t.region.clone()),
        );
        for f in &findings {
            self.summary.add(f);
            if f.is_open_failure() {
                self.open_failure_severities.insert(f.severity());
            }
        }
        match self.format {
            Format::Jsonl => {
                let lines: String = findings.iter().map(json_v1::result_line).collect();
                // A closed stdout (`| head`) ends the stream; the scan result is still counted.
                let _ = write_stdout(&lines);
            }
            Format::Csv => {
                let rows: String = findings.iter().map(csv::line).collect();
                let _ = write_stdout(&rows);
            }
            Format::Table | Format::Json | Format::Asff => {
                self.findings.extend(findings.iter().cloned())
            }
        }
        findings
    }
}

fn write_stdout(text: &str) -> Result<()> {
    crate::out::write(text);
    Ok(())
}

/// The accounts to scan: `--org`, `--ou` and `--accounts` together, less `--exclude-accounts`;
/// the caller's own account when none is given. `--org`'s accounts are listed while the scan runs
/// (`fanout::scan_accounts`); the others are known here, and none left is an error before any scan.
async fn resolve_accounts(
    args: &ScanArgs,
    session: &Session,
    shared: &Shared,
) -> Result<AccountSource> {
    let mut known: BTreeSet<String> = BTreeSet::new();
    let org_client = (args.org || !args.ou.is_empty())
        .then(|| AccountClients::new(session.config.clone(), shared.clone()).organizations());
    if args.org {
        // ListAccounts includes the management account; the caller's own (a delegated admin) is
        // audited too.
        known.insert(session.identity.account.clone());
    }
    if let Some(org_client) = &org_client {
        for ou in &args.ou {
            let listed = org::accounts_under(org_client, ou).await?;
            known.extend(listed.into_iter().map(|a| a.id));
        }
    }
    known.extend(expand_ids(&args.accounts, "--accounts")?);
    if !args.org && args.ou.is_empty() && args.accounts.is_empty() {
        known.insert(session.identity.account.clone());
    }
    let excluded: BTreeSet<String> = expand_ids(&args.exclude_accounts, "--exclude-accounts")?
        .into_iter()
        .collect();
    known.retain(|a| !excluded.contains(a));
    if known.is_empty() && !args.org {
        bail!(NO_ACCOUNT_LEFT);
    }
    Ok(AccountSource {
        known: known.into_iter().collect(),
        organization: if args.org { org_client } else { None },
        excluded,
    })
}

/// When `--exclude-accounts` leaves nothing to scan.
pub(crate) const NO_ACCOUNT_LEFT: &str = "no account left to audit after --exclude-accounts";

/// Account ids from a flag: ids, or `@FILE` with one id per line (blank lines and `#` comments
/// ignored). Every id must be 12 digits.
fn expand_ids(values: &[String], flag: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for value in values {
        match value.strip_prefix('@') {
            Some(path) => {
                let text = crate::input::read_text(
                    std::path::Path::new(path),
                    &format!("{flag} file"),
                    crate::input::ACCOUNTS_CAP,
                )?;
                for (n, line) in text.lines().enumerate() {
                    let line = line.split('#').next().unwrap_or_default().trim();
                    for id in line.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
                        check_id(id).with_context(|| format!("{path}:{}", n + 1))?;
                        ids.push(id.to_owned());
                    }
                }
            }
            None => {
                check_id(value).with_context(|| flag.to_owned())?;
                ids.push(value.clone());
            }
        }
    }
    Ok(ids)
}

fn check_id(id: &str) -> Result<()> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        bail!("`{id}` is not a 12-digit AWS account id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_scan_outranks_findings_and_findings_outrank_clean() {
        let clean = Summary::default();
        let unread_target = Summary {
            errors: 1,
            ..Summary::default()
        };
        let error_result = Summary {
            error_results: 1,
            ..Summary::default()
        };
        assert_eq!(exit_code(&clean, false, false), Exit::Clean);
        assert_eq!(exit_code(&clean, true, false), Exit::Findings);
        assert_eq!(exit_code(&unread_target, true, false), Exit::Incomplete);
        assert_eq!(exit_code(&error_result, false, false), Exit::Incomplete);
        // Results Security Hub did not take make the run incomplete too.
        assert_eq!(exit_code(&clean, true, true), Exit::Incomplete);
    }

    #[test]
    fn ids_from_flags_and_files() {
        let dir = std::env::temp_dir().join(format!("xray-cmk-ids-{}", std::process::id()));
        std::fs::write(&dir, "# prod\n111111111111\n222222222222, 333333333333\n\n")
            .expect("write");
        let ids = expand_ids(
            &["444444444444".into(), format!("@{}", dir.display())],
            "--accounts",
        )
        .expect("ids");
        assert_eq!(
            ids,
            [
                "444444444444",
                "111111111111",
                "222222222222",
                "333333333333"
            ]
        );
        std::fs::write(&dir, "12345\n").expect("write");
        let err = expand_ids(&[format!("@{}", dir.display())], "--accounts").expect_err("bad id");
        assert!(
            format!("{err:#}").contains(":1: `12345` is not a 12-digit"),
            "{err:#}"
        );
        let _ = std::fs::remove_file(&dir);
        assert!(expand_ids(&["abc".into()], "--accounts").is_err());
    }
}
