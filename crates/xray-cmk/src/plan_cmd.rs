//! `xray-cmk plan`: what would make each target compliant, as ordered steps with their
//! preconditions. Reads only; nothing is changed. A target that could not be read is left alone,
//! and makes the exit code 3: the plan is incomplete.

use crate::out::out;

use anyhow::{Context as _, Result};
use xray_cmk_aws::fanout::scan_accounts;
use xray_cmk_core::remediation::key_policy;
use xray_cmk_core::remediation::plan::{acting_principal, plan_targets_with, Plan, PlanInput};
use xray_cmk_core::{Context, Needs, Status, SummaryBuilder};

use crate::audit::{now, prepare, Prepared};
use crate::cli::{Format, PlanArgs};
use crate::exit::Exit;

pub(crate) fn run(args: PlanArgs) -> Result<Exit> {
    let runtime = crate::runtime::runtime()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: PlanArgs) -> Result<Exit> {
    if matches!(args.format, Format::Csv | Format::Asff) {
        anyhow::bail!("plan writes a table or json; csv and asff are audit formats");
    }
    if !args.skip_rules.is_empty() && args.rules.is_empty() {
        eprintln!(
            "{}",
            crate::cli::no_effect_line("--skip-rules without --rules", "plan")
        );
    }
    // Every rule a plain audit runs, and the opt-in rules (the guardrail's) `--rules` names:
    // what those fail is listed as not fixed by apply.
    let mut rules: Vec<&'static dyn xray_cmk_core::Rule> = xray_cmk_core::rules::ALL.to_vec();
    if !args.rules.is_empty() {
        let selected = xray_cmk_core::select(&args.rules, &args.skip_rules)
            .map_err(|e| anyhow::anyhow!("--rules/--skip-rules: {e}"))?;
        rules.extend(
            selected
                .into_iter()
                .filter(|r| xray_cmk_core::rules::is_opt_in(*r)),
        );
    }
    let all = Needs::of(&rules);
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let Prepared {
        shared,
        session,
        accounts,
        opts,
    } = prepare(&args.scan, all).await?;
    let caller = session.identity.arn.clone();
    let (generated_at, today) = now()?;
    // Who acts in each account: the caller at home, the role it assumes elsewhere. Key policies
    // generated for an account keep that principal, not the planner, as an administrator.
    let principal = |account: &str| acting_principal(&caller, account, &opts.role_name);
    let generate = |account: &str, region: &str| {
        key_policy::generate(&policy, account, region, &principal(account))
    };
    let input = PlanInput {
        policy: &policy,
        today,
        key_policy: &generate,
        principal: &principal,
    };
    let mut targets = Vec::new();
    // What could not be read, judged as `audit` judges it: the plan is incomplete there.
    let mut summary = SummaryBuilder::default();
    let mut unread: Vec<String> = Vec::new();
    let scanned = scan_accounts(&session, &shared, accounts, &opts, &policy, |scan, _| {
        targets.extend(plan_targets_with(&scan.inventory, &input, &rules));
        let findings = xray_cmk_core::evaluate(&Context {
            inventory: &scan.inventory,
            policy: &policy,
            today,
            rules: &rules,
        });
        for f in &findings {
            summary.add(f);
            let at = format!("{}/{}", f.account(), f.region());
            if f.status() == Status::Error && !unread.contains(&at) {
                unread.push(at);
            }
        }
    })
    .await?;
    if scanned.is_empty() {
        anyhow::bail!(crate::audit::NO_ACCOUNT_LEFT);
    }
    unread.sort();
    targets.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    let plan = Plan::sealed(env!("CARGO_PKG_VERSION"), &generated_at, &caller, targets);

    let json = format!("{}\n", serde_json::to_string_pretty(&plan)?);
    if let Some(path) = &args.out {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    match args.format {
        Format::Json | Format::Jsonl => out!("{json}"),
        Format::Table => out!("{}", xray_cmk_report::plan::render(&plan)),
        Format::Csv | Format::Asff => unreachable!("refused before planning"),
    }
    let summary = summary.finish();
    if unread.is_empty() {
        return Ok(Exit::Clean);
    }
    if !args.quiet {
        eprintln!(
            "xray-cmk: the plan is incomplete: {} of {} targets could not be read in full ({}{}), so {} results are `error`; what could not be judged is left alone",
            unread.len(),
            summary.targets,
            unread.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
            if unread.len() > 3 { ", …" } else { "" },
            summary.error_results
        );
    }
    Ok(Exit::Incomplete)
}
