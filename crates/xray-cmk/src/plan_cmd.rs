//! `xray-cmk plan`: what would make each target compliant, as ordered steps with their
//! preconditions. Reads only; nothing is changed. A target that could not be read is left alone,
//! and makes the exit code 3: the plan is incomplete.

use crate::out::out;
use std::fmt::Write as _;

use anyhow::{Context as _, Result};
use xray_cmk_aws::fanout::scan_accounts;
use xray_cmk_core::remediation::key_policy;
use xray_cmk_core::remediation::plan::{
    acting_principal, plan_targets_with, Action, KeyRef, Plan, PlanInput, Precondition,
};
use xray_cmk_core::{Context, Needs, Status, SummaryBuilder};

use crate::audit::{now, prepare, Prepared};
use crate::cli::{Format, PlanArgs};
use crate::exit::Exit;

/// KMS list prices the plan's cost line uses (us-east-1, 2026): a customer managed key costs
/// $1 a month, and each of its first two automatic rotations adds $1 a month.
const KEY_MONTH_USD: u32 = 1;

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
        Format::Table => out!("{}", render(&plan)),
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

fn key_name(key: &KeyRef) -> &str {
    key.id()
}

fn describe(action: &Action) -> String {
    match action {
        Action::CreateKey { alias, tags, .. } => format!(
            "create a symmetric CMK {alias} with the generated key policy and tags {}",
            tags.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Action::EnableRotation { key, period_days } => {
            format!(
                "enable rotation every {period_days} days on {}",
                key_name(key)
            )
        }
        Action::TagKey { key, tags } => format!(
            "tag {} with {}",
            key_name(key),
            tags.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Action::MergeKeyPolicy { key, statements } => format!(
            "add key policy statements {} to {} (nothing is removed)",
            statements
                .iter()
                .filter_map(|s| s.get("Sid").and_then(serde_json::Value::as_str))
                .collect::<Vec<_>>()
                .join(", "),
            key_name(key)
        ),
        Action::SetXrayEncryption { key } => {
            format!(
                "switch X-Ray to KMS with {} and wait until ACTIVE",
                key_name(key)
            )
        }
        Action::Verify => "write a marked segment and read it back".to_owned(),
    }
}

fn condition(p: &Precondition) -> String {
    match p {
        Precondition::AliasFreeOrOurs { alias } => format!("{alias} is free or already xray-cmk's"),
        Precondition::KeyEnabled { key } => format!("{} exists and is enabled", key_name(key)),
        Precondition::KeyPolicyIs { key, sha256 } => format!(
            "the key policy of {} is unchanged (sha256 {})",
            key_name(key),
            sha256.get(..12).unwrap_or(sha256)
        ),
        Precondition::XrayEncryptionIs {
            encryption_type,
            key_id,
        } => format!(
            "X-Ray is still {encryption_type}{}",
            key_id
                .as_deref()
                .map(|k| format!(" with {k}"))
                .unwrap_or_default()
        ),
        Precondition::None => "none".to_owned(),
    }
}

/// The human plan: targets with steps, then what is left alone, then the cost line.
pub(crate) fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mut new_keys = 0u32;
    for t in plan.targets.iter().filter(|t| !t.steps.is_empty()) {
        let _ = writeln!(out, "{} {}", t.account, t.region);
        for (i, s) in t.steps.iter().enumerate() {
            if matches!(s.action, Action::CreateKey { .. }) {
                new_keys += 1;
            }
            let _ = writeln!(
                out,
                "  {}. {}\n     if: {} · because: {}",
                i + 1,
                describe(&s.action),
                condition(&s.precondition),
                s.because
            );
        }
    }
    let left: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| t.steps.is_empty())
        .map(|t| {
            format!(
                "{} {}: {}",
                t.account,
                t.region,
                t.note.as_deref().unwrap_or("nothing to change")
            )
        })
        .collect();
    if !left.is_empty() {
        let _ = writeln!(out, "\nleft alone:");
        for l in left {
            let _ = writeln!(out, "  {l}");
        }
    }
    let mut unfixed: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for t in &plan.targets {
        for u in &t.unfixed {
            unfixed
                .entry(u.rule.as_str())
                .or_default()
                .push(format!("{} {}", t.account, t.region));
        }
    }
    if !unfixed.is_empty() {
        let _ = writeln!(
            out,
            "\nnot fixed by apply (for a person; `xray-cmk explain RULE` says how):"
        );
        for (rule, where_) in unfixed {
            let _ = writeln!(
                out,
                "  {rule}: {} target{} ({}{})",
                where_.len(),
                if where_.len() == 1 { "" } else { "s" },
                where_
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if where_.len() > 3 { ", …" } else { "" }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} targets with changes · {new_keys} new keys · KMS cost: +${} a month now, up to +${} once each key has rotated twice (list prices; API requests not included)",
        plan.targets.iter().filter(|t| !t.steps.is_empty()).count(),
        new_keys * KEY_MONTH_USD,
        new_keys * KEY_MONTH_USD * 3
    );
    out
}
