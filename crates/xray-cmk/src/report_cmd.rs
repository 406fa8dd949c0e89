//! `xray-cmk report --out report.html`: the KPIs, the latest audit's findings and keys, and the
//! policy's exemptions, as one self-contained HTML file.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};
use xray_cmk_store::kpi::{compute, Kpi, ResultRecord};

use crate::cli::ReportArgs;
use crate::exit::Exit;

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| *x == s)
        .unwrap_or(SEVERITIES.len())
}

pub(crate) fn run(args: &ReportArgs) -> Result<Exit> {
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let store = crate::history::open_existing(args.history.db.clone())?;
    let now = SystemTime::now();
    let (generated_at, today) = crate::audit::now()?;
    let since = crate::history::rfc3339(now - Duration::from_secs(args.since))?;
    let runs = store.runs("audit", "0000-01-01T00:00:00Z")?;
    let kpi = compute(&runs, &since, &generated_at, args.requests);
    let latest = runs.iter().rev().find(|r| r.started_at >= since);
    let keys = match latest {
        Some(r) => store.keys(r.id)?,
        None => Vec::new(),
    };
    // The latest evidence recorded per key.
    let mut evidence: std::collections::BTreeMap<String, Value> = Default::default();
    for (at, mut doc) in store.scopes("evidence", &since)? {
        if let Some(key) = doc["key"].as_str().map(str::to_owned) {
            doc["recorded_at"] = at.into();
            evidence.insert(key, doc);
        }
    }
    let mut context = context(
        &kpi,
        latest.map_or(&[][..], |r| r.results.as_slice()),
        latest.map(|r| &r.scope),
        &keys,
        &policy,
        today,
        &generated_at,
    );
    context["evidence"] = Value::Array(evidence.into_values().collect());
    let html =
        xray_cmk_report::html::render(&context).map_err(|e| anyhow::anyhow!(e.to_string()))?;
    std::fs::write(&args.out, &html).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} KiB, {} audit runs)",
        args.out.display(),
        html.len().div_ceil(1024),
        kpi.runs
    );
    Ok(Exit::Clean)
}

/// The account × region grid: failing results per target of the latest audit.
fn heatmap(results: &[ResultRecord]) -> Value {
    let mut cells: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    for r in results {
        let c = cells.entry((&r.account, &r.region)).or_default();
        if r.status == "fail" && !r.suppressed {
            c.0 += 1;
        }
        if r.status == "error" {
            c.1 += 1;
        }
    }
    let regions: BTreeSet<&str> = cells.keys().map(|(_, r)| *r).collect();
    let accounts: BTreeSet<&str> = cells.keys().map(|(a, _)| *a).collect();
    let rows: Vec<Value> = accounts
        .iter()
        .map(|a| {
            let row: Vec<Value> = regions
                .iter()
                .map(|r| match cells.get(&(*a, *r)) {
                    None => json!({"class": "cn", "text": "", "title": "not audited"}),
                    Some((0, e)) if *e > 0 => json!({"class": "cx", "text": "?", "title": format!("{a} {r}: {e} could not be read")}),
                    Some((f, _)) => json!({
                        "class": match f { 0 => "c2", 1 | 2 => "c1", _ => "c0" },
                        "text": f.to_string(),
                        "title": format!("{a} {r}: {f} failing"),
                    }),
                })
                .collect();
            json!({"account": a, "cells": row})
        })
        .collect();
    json!({"regions": regions, "rows": rows})
}

/// Open findings of the latest audit, grouped by rule, most severe first.
fn groups(results: &[ResultRecord]) -> Vec<Value> {
    let mut by_rule: BTreeMap<&str, Vec<&ResultRecord>> = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| (r.status == "fail" && !r.suppressed) || r.status == "error")
    {
        by_rule.entry(&r.rule).or_default().push(r);
    }
    let mut groups: Vec<(&str, Vec<&ResultRecord>)> = by_rule.into_iter().collect();
    groups.sort_by_key(|(_, rs)| (severity_rank(&rs[0].severity), std::cmp::Reverse(rs.len())));
    groups
        .into_iter()
        .map(|(rule, rs)| {
            json!({
                "rule": rule,
                "severity": rs[0].severity,
                "findings": rs.iter().map(|r| json!({
                    "account": r.account, "region": r.region, "status": r.status,
                    "resource": r.resource, "message": r.message,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn keys_view(keys: &[xray_cmk_store::KeyRecord]) -> Vec<Value> {
    keys.iter()
        .map(|k| {
            let rotation = match (k.rotation_enabled, k.rotation_days) {
                (Some(true), Some(d)) => format!("on, every {d} days"),
                (Some(true), None) => "on".to_owned(),
                (Some(false), _) => "off".to_owned(),
                (None, _) => "unknown".to_owned(),
            };
            let tags = match &k.tags {
                Some(t) if t.is_empty() => "none".to_owned(),
                Some(t) => t
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "unknown".to_owned(),
            };
            json!({
                "id": k.key_id,
                "aliases": k.aliases.clone().unwrap_or_default(),
                "manager": k.manager.clone().unwrap_or_else(|| "?".into()),
                "state": k.state.clone().unwrap_or_else(|| "?".into()),
                "rotation": rotation,
                "tags": tags,
                "policy": k.policy.clone().unwrap_or_else(|| vec!["unknown".into()]),
                "used_by": k.used_by,
            })
        })
        .collect()
}

fn context(
    kpi: &Kpi,
    results: &[ResultRecord],
    scope: Option<&Value>,
    keys: &[xray_cmk_store::KeyRecord],
    policy: &xray_cmk_core::OrgPolicy,
    today: xray_cmk_core::Date,
    generated_at: &str,
) -> Value {
    let scope_text = scope
        .and_then(|s| s.get("accounts"))
        .and_then(Value::as_array)
        .map_or_else(
            || "no audit in the window".to_owned(),
            |a| {
                let names: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                match names.len() {
                    n if n <= 6 => format!("accounts {}", names.join(", ")),
                    n => format!("{n} accounts"),
                }
            },
        );
    let sev: Vec<String> = SEVERITIES
        .iter()
        .filter_map(|s| {
            kpi.findings
                .open_by_severity
                .get(*s)
                .map(|n| format!("{n} {s}"))
        })
        .collect();
    let trend: Vec<(String, Option<f64>)> = kpi
        .compliance
        .trend
        .iter()
        .map(|p| (p.started_at.clone(), p.pct))
        .collect();
    let exemptions: Vec<Value> = policy
        .exemptions
        .iter()
        .map(|e| {
            json!({
                "account": e.account, "region": e.region, "rule": e.rule, "reason": e.reason,
                "expires": e.expires.to_string(), "expired": !e.is_active(today),
            })
        })
        .collect();
    json!({
        "generated_at": generated_at,
        "version": env!("CARGO_PKG_VERSION"),
        "scope": scope_text,
        "kpi": kpi,
        "compliance_now": kpi.compliance.now.as_ref().and_then(|p| p.pct)
            .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%")),
        "mttr": crate::history::duration_text(kpi.mttr.mean_hours),
        "mttr_median": crate::history::duration_text(kpi.mttr.median_hours),
        "open_by_severity": if sev.is_empty() { "none".to_owned() } else { sev.join(", ") },
        "cost_now": format!("${:.2}", kpi.cost.total_usd_month_now),
        "cost_max": format!("${:.2}", kpi.cost.total_usd_month_max),
        "trend_svg": xray_cmk_report::html::trend_svg(&trend),
        "heat": heatmap(results),
        "groups": groups(results),
        "keys": keys_view(keys),
        "exemptions": exemptions,
    })
}
