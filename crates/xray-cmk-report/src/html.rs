//! `xray-cmk report`: one self-contained HTML file (no external assets: inline CSS, an inline SVG
//! chart, a few lines of inline script for the filter) that prints well.
//!
//! The page is a MiniJinja template (`templates/report.html.j2`, compiled into the binary) over a
//! JSON context the command assembles from the history; values are HTML-escaped by the engine.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use xray_cmk_store::kpi::{Kpi, ResultRecord};

const TEMPLATE: &str = include_str!("../templates/report.html.j2");

/// Why the report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("report template: {0}")]
    Template(minijinja::Error),
    #[error("rendering the report: {0:#}")]
    Render(minijinja::Error),
}

/// Renders the report from `context` (see the template for the fields it reads).
pub fn render(context: &Value) -> Result<String, RenderError> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)
        .map_err(RenderError::Template)?;
    let template = env
        .get_template("report.html")
        .map_err(RenderError::Template)?;
    template
        .render(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(RenderError::Render)
}

/// The compliance trend as an inline SVG line chart: one point per audit run, 0–100 %.
pub fn trend_svg(points: &[(String, Option<f64>)]) -> String {
    let (w, h, left, bottom, top) = (720.0_f64, 200.0_f64, 40.0_f64, 24.0_f64, 10.0_f64);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |pct: f64| top + plot_h * (1.0 - pct / 100.0);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="Compliance per audit run">"##
    );
    for pct in [0.0, 50.0, 100.0] {
        svg.push_str(&format!(
            r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#d0d7de"/><text x="{}" y="{}" text-anchor="end">{pct:.0}%</text>"##,
            w - 10.0,
            left - 6.0,
            y(pct) + 4.0,
            y = y(pct)
        ));
    }
    let known: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, p))| p.map(|p| (i, p)))
        .collect();
    let path: Vec<String> = known
        .iter()
        .map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(*p)))
        .collect();
    if !path.is_empty() {
        svg.push_str(&format!(
            r##"<polyline fill="none" stroke="#0969da" stroke-width="2" points="{}"/>"##,
            path.join(" ")
        ));
    }
    for (i, p) in &known {
        let label = html_escape(&points[*i].0);
        svg.push_str(&format!(
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#0969da"><title>{label}: {p:.1}%</title></circle>"##,
            x(*i),
            y(*p)
        ));
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let date = |s: &str| html_escape(s.get(..16).unwrap_or(s));
        svg.push_str(&format!(
            r##"<text x="{left}" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            h - 6.0,
            date(&first.0),
            w - 10.0,
            h - 6.0,
            date(&last.0)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// --- the context -------------------------------------------------------------------------

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| *x == s)
        .unwrap_or(SEVERITIES.len())
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

/// What the report shows, read from the history.
pub struct ReportInput<'a> {
    pub kpi: &'a Kpi,
    /// The latest audit's results.
    pub results: &'a [ResultRecord],
    /// The latest audit's scope document, if there was an audit in the window.
    pub scope: Option<&'a Value>,
    /// The keys the latest audit recorded.
    pub keys: &'a [xray_cmk_store::KeyRecord],
    pub policy: &'a xray_cmk_core::OrgPolicy,
    pub today: xray_cmk_core::Date,
    pub generated_at: &'a str,
    pub version: &'a str,
    /// The evidence documents recorded in the window with their times, oldest first: the latest
    /// of each key is shown.
    pub evidence: Vec<(String, Value)>,
}

/// The latest evidence document of each key, each with its `recorded_at`, in key order.
fn latest_evidence(recorded: Vec<(String, Value)>) -> Vec<Value> {
    let mut evidence: BTreeMap<String, Value> = BTreeMap::new();
    for (at, mut doc) in recorded {
        if let Some(key) = doc["key"].as_str().map(str::to_owned) {
            doc["recorded_at"] = at.into();
            evidence.insert(key, doc);
        }
    }
    evidence.into_values().collect()
}

/// The template's context.
pub fn context(input: ReportInput<'_>) -> Value {
    let ReportInput {
        kpi,
        results,
        scope,
        keys,
        policy,
        today,
        generated_at,
        version,
        evidence,
    } = input;
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
        "version": version,
        "scope": scope_text,
        "kpi": kpi,
        "compliance_now": kpi.compliance.now.as_ref().and_then(|p| p.pct)
            .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%")),
        "mttr": crate::kpi::duration_text(kpi.mttr.mean_hours),
        "mttr_median": crate::kpi::duration_text(kpi.mttr.median_hours),
        "open_by_severity": if sev.is_empty() { "none".to_owned() } else { sev.join(", ") },
        "cost_now": format!("${:.2}", kpi.cost.total_usd_month_now),
        "cost_max": format!("${:.2}", kpi.cost.total_usd_month_max),
        "trend_svg": trend_svg(&trend),
        "heat": heatmap(results),
        "groups": groups(results),
        "keys": keys_view(keys),
        "exemptions": exemptions,
        "evidence": latest_evidence(evidence),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_is_an_inline_svg_with_a_point_per_run() {
        let svg = trend_svg(&[
            ("2026-12-01T10:00:00Z".into(), Some(25.0)),
            ("2026-12-01T11:00:00Z".into(), None),
            ("2026-12-01T12:00:00Z".into(), Some(90.0)),
        ]);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("25.0%") && svg.contains("90.0%"));
    }

    #[test]
    fn values_are_escaped() {
        let ctx = serde_json::json!({
            "generated_at": "<now>", "version": "0", "scope": "<script>x</script>",
            "kpi": {"since": "s", "runs": 0, "compliance": {"now": null},
                    "mttr": {"remediated": []}, "findings": {"open": 0},
                    "cost": {"keys": 0, "assumptions": []}},
            "compliance_now": "-", "mttr": "-", "mttr_median": "-", "open_by_severity": "",
            "cost_now": "$0", "cost_max": "$0", "trend_svg": "<svg></svg>",
            "heat": {"regions": [], "rows": []}, "groups": [], "keys": [], "exemptions": [],
            "evidence": [],
        });
        let html = render(&ctx).expect("render");
        assert!(html.contains("&lt;script&gt;x"), "escaped");
        assert!(!html.contains("<script>x"), "escaped");
        assert!(html.contains("<svg></svg>"), "the chart is trusted markup");
        assert!(
            !html.contains("http://") || html.contains("xmlns"),
            "no external assets"
        );
    }
}
