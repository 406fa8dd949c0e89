//! The four KPIs over recorded audit runs: compliance (now, per run, per account and region),
//! mean time to remediate, open findings, and the KMS cost estimate. Pure: runs in, numbers out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// One recorded result, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRecord {
    pub fingerprint: String,
    pub rule: String,
    pub status: String,
    pub severity: String,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub key_id: Option<String>,
    pub message: String,
    pub suppressed: bool,
}

/// One recorded run, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub scope: serde_json::Value,
    pub results: Vec<ResultRecord>,
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time (`2026-12-01T10:00:00.123Z`).
pub fn epoch_seconds(t: &str) -> Option<f64> {
    let (date, time) = t.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.strip_suffix('Z').unwrap_or(time);
    let mut parts = time.splitn(3, ':');
    let (h, min, s) = (
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?.parse::<f64>().ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3_600 + min * 60) as f64 + s)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Share {
    pub name: String,
    pub targets: usize,
    pub compliant: usize,
    pub pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub run_id: i64,
    pub started_at: String,
    pub targets: usize,
    pub compliant: usize,
    pub pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Compliance {
    /// The latest run in the window.
    pub now: Option<TrendPoint>,
    pub trend: Vec<TrendPoint>,
    pub by_account: Vec<Share>,
    pub by_region: Vec<Share>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Remediated {
    pub fingerprint: String,
    pub rule: String,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub failed_at: String,
    pub passed_at: String,
    pub hours: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenFinding {
    pub fingerprint: String,
    pub rule: String,
    pub severity: String,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub failing_since: String,
    pub age_hours: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mttr {
    /// Remediated in the window: first fail to the first later pass.
    pub remediated: Vec<Remediated>,
    pub mean_hours: Option<f64>,
    pub median_hours: Option<f64>,
    pub open: Vec<OpenFinding>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Findings {
    pub open: usize,
    pub open_by_severity: BTreeMap<String, usize>,
    pub open_by_rule: BTreeMap<String, usize>,
    pub opened_in_window: usize,
    pub closed_in_window: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cost {
    /// Customer managed keys X-Ray uses, in the latest run.
    pub keys: usize,
    pub keys_usd_month: f64,
    /// Once every key has rotated twice.
    pub rotation_usd_month_max: f64,
    pub requests_per_month: Option<u64>,
    pub requests_usd_month: Option<f64>,
    pub total_usd_month_now: f64,
    pub total_usd_month_max: f64,
    pub assumptions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Kpi {
    pub since: String,
    pub generated_at: String,
    pub runs: usize,
    pub compliance: Compliance,
    pub mttr: Mttr,
    pub findings: Findings,
    pub cost: Cost,
}

/// KMS list prices (us-east-1, 2026).
const KEY_MONTH_USD: f64 = 1.0;
const ROTATION_MONTH_USD: f64 = 1.0;
const FREE_REQUESTS: u64 = 20_000;
const USD_PER_10K_REQUESTS: f64 = 0.03;

fn pct(compliant: usize, targets: usize) -> Option<f64> {
    (targets > 0).then(|| (compliant as f64 * 1000.0 / targets as f64).round() / 10.0)
}

fn is_open_fail(r: &ResultRecord) -> bool {
    r.status == "fail" && !r.suppressed
}

/// Targets of a run and whether each complies: every result passes or is an exempted failure.
fn targets(run: &RunRecord) -> BTreeMap<(String, String), bool> {
    let mut out: BTreeMap<(String, String), bool> = BTreeMap::new();
    for r in &run.results {
        let ok = r.status == "pass" || (r.status == "fail" && r.suppressed);
        let entry = out
            .entry((r.account.clone(), r.region.clone()))
            .or_insert(true);
        *entry &= ok;
    }
    out
}

fn point(run: &RunRecord) -> TrendPoint {
    let t = targets(run);
    let compliant = t.values().filter(|ok| **ok).count();
    TrendPoint {
        run_id: run.id,
        started_at: run.started_at.clone(),
        targets: t.len(),
        compliant,
        pct: pct(compliant, t.len()),
    }
}

fn shares(t: &BTreeMap<(String, String), bool>, by_account: bool) -> Vec<Share> {
    let mut groups: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((account, region), ok) in t {
        let g = groups
            .entry(if by_account { account } else { region })
            .or_default();
        g.0 += 1;
        g.1 += usize::from(*ok);
    }
    groups
        .into_iter()
        .map(|(name, (targets, compliant))| Share {
            name: name.to_owned(),
            targets,
            compliant,
            pct: pct(compliant, targets),
        })
        .collect()
}

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn hours(from: &str, to: &str) -> f64 {
    match (epoch_seconds(from), epoch_seconds(to)) {
        (Some(a), Some(b)) => ((b - a) / 3600.0 * 1000.0).round() / 1000.0,
        _ => 0.0,
    }
}

/// The KPIs. `runs` are every recorded audit run, oldest first (a remediation may have begun
/// before the window); `since` is the window's start, `now` the report time, both RFC 3339.
/// `requests` is the monthly KMS request count the user supplies, if any.
pub fn compute(runs: &[RunRecord], since: &str, now: &str, requests: Option<u64>) -> Kpi {
    let in_window: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.started_at.as_str() >= since)
        .collect();
    let trend: Vec<TrendPoint> = in_window.iter().map(|r| point(r)).collect();
    let latest = in_window.last().copied();
    let latest_targets = latest.map(targets).unwrap_or_default();

    // Fail streaks per fingerprint, over every run.
    let mut open: BTreeMap<String, (String, ResultRecord)> = BTreeMap::new();
    let mut closed: Vec<Remediated> = Vec::new();
    let mut opened_in_window = 0;
    for run in runs {
        let present: BTreeSet<&str> = run.results.iter().map(|r| r.fingerprint.as_str()).collect();
        // The rules the run ran (an audit with --rules judges only those).
        let ran: Option<BTreeSet<&str>> = run
            .scope
            .get("rules")
            .and_then(|r| r.as_array())
            .map(|rules| rules.iter().filter_map(|r| r.as_str()).collect());
        let scanned: BTreeSet<(&str, &str)> = run
            .results
            .iter()
            .map(|r| (r.account.as_str(), r.region.as_str()))
            .collect();
        for r in &run.results {
            if is_open_fail(r) {
                if !open.contains_key(&r.fingerprint) && run.started_at.as_str() >= since {
                    opened_in_window += 1;
                }
                open.entry(r.fingerprint.clone())
                    .or_insert_with(|| (run.started_at.clone(), r.clone()));
            } else if r.status == "pass" || r.suppressed {
                if let Some((failed_at, rec)) = open.remove(&r.fingerprint) {
                    closed.push(remediated(&rec, failed_at, &run.started_at));
                }
            }
        }
        // A target scanned again without a failing result is no longer failing it: the key was
        // replaced, say, so the old key's findings no longer apply.
        let gone: Vec<String> = open
            .iter()
            .filter(|(fp, (_, rec))| {
                !present.contains(fp.as_str())
                    && scanned.contains(&(rec.account.as_str(), rec.region.as_str()))
                    && ran.as_ref().is_none_or(|r| r.contains(rec.rule.as_str()))
            })
            .map(|(fp, _)| fp.clone())
            .collect();
        for fp in gone {
            if let Some((failed_at, rec)) = open.remove(&fp) {
                closed.push(remediated(&rec, failed_at, &run.started_at));
            }
        }
    }
    let remediated_in_window: Vec<Remediated> = closed
        .into_iter()
        .filter(|c| c.passed_at.as_str() >= since)
        .collect();
    let mut durations: Vec<f64> = remediated_in_window.iter().map(|c| c.hours).collect();
    durations.sort_by(f64::total_cmp);
    let mean = (!durations.is_empty()).then(|| {
        (durations.iter().sum::<f64>() / durations.len() as f64 * 1000.0).round() / 1000.0
    });
    let open_list: Vec<OpenFinding> = open
        .iter()
        .map(|(fp, (since_at, r))| OpenFinding {
            fingerprint: fp.clone(),
            rule: r.rule.clone(),
            severity: r.severity.clone(),
            account: r.account.clone(),
            region: r.region.clone(),
            resource: r.resource.clone(),
            failing_since: since_at.clone(),
            age_hours: hours(since_at, now),
        })
        .collect();
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for o in &open_list {
        *by_severity.entry(o.severity.clone()).or_default() += 1;
        *by_rule.entry(o.rule.clone()).or_default() += 1;
    }

    Kpi {
        since: since.to_owned(),
        generated_at: now.to_owned(),
        runs: in_window.len(),
        compliance: Compliance {
            now: trend.last().cloned(),
            by_account: shares(&latest_targets, true),
            by_region: shares(&latest_targets, false),
            trend,
        },
        findings: Findings {
            open: open_list.len(),
            open_by_severity: by_severity,
            open_by_rule: by_rule,
            opened_in_window,
            closed_in_window: remediated_in_window.len(),
        },
        mttr: Mttr {
            mean_hours: mean,
            median_hours: median(&durations),
            remediated: remediated_in_window,
            open: open_list,
        },
        cost: cost(latest, requests),
    }
}

fn remediated(r: &ResultRecord, failed_at: String, passed_at: &str) -> Remediated {
    Remediated {
        fingerprint: r.fingerprint.clone(),
        rule: r.rule.clone(),
        account: r.account.clone(),
        region: r.region.clone(),
        resource: r.resource.clone(),
        hours: hours(&failed_at, passed_at),
        failed_at,
        passed_at: passed_at.to_owned(),
    }
}

/// The customer managed keys X-Ray uses in `run`: what the key rules judged (they do not judge
/// AWS managed keys, except `kms-key-policy-public`).
fn keys_in_use(run: &RunRecord) -> BTreeSet<&str> {
    run.results
        .iter()
        .filter(|r| r.rule == "kms-rotation-disabled")
        .map(|r| r.resource.as_str())
        .collect()
}

fn cost(latest: Option<&RunRecord>, requests: Option<u64>) -> Cost {
    let keys = latest.map_or(0, |r| keys_in_use(r).len());
    let keys_usd = keys as f64 * KEY_MONTH_USD;
    let rotation_max = keys as f64 * 2.0 * ROTATION_MONTH_USD;
    let requests_usd = requests.map(|n| {
        (n.saturating_sub(FREE_REQUESTS) as f64 / 10_000.0 * USD_PER_10K_REQUESTS * 100.0).round()
            / 100.0
    });
    let mut assumptions = vec![
        format!("${KEY_MONTH_USD:.2} per customer managed key per month (KMS list price, us-east-1); keys counted are the customer managed keys X-Ray uses in the latest audit"),
        format!("each of a key's first two automatic rotations adds ${ROTATION_MONTH_USD:.2} a month; later rotations are free, so the rotation charge is $0 for a new key and at most $2 a key once it has rotated twice"),
        "AWS managed keys (aws/xray) and AWS owned keys have no monthly charge".to_owned(),
    ];
    match requests {
        Some(n) => assumptions.push(format!(
            "{n} KMS requests a month (as supplied), of which the first {FREE_REQUESTS} are free; the rest at ${USD_PER_10K_REQUESTS} per 10,000 symmetric requests"
        )),
        None => assumptions.push(
            "requests not included: pass --requests N (monthly KMS requests, e.g. from CloudTrail or the CloudWatch AWS/Usage metrics); symmetric requests cost $0.03 per 10,000 after 20,000 free a month".to_owned(),
        ),
    }
    let total_now = keys_usd + requests_usd.unwrap_or(0.0);
    Cost {
        keys,
        keys_usd_month: keys_usd,
        rotation_usd_month_max: rotation_max,
        requests_per_month: requests,
        requests_usd_month: requests_usd,
        total_usd_month_now: total_now,
        total_usd_month_max: total_now + rotation_max,
        assumptions,
    }
}
