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
    /// What the run recorded of its inventory: what the KMS cost is counted from.
    pub inventory: crate::RecordedInventory,
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
    /// Customer managed keys X-Ray uses, in the latest run's recorded inventory.
    pub keys: usize,
    /// Keys X-Ray uses whose manager is unknown (`DescribeKey` failed, or the audit's rules did
    /// not need it): not in `keys`, so the cost may be higher. `None` when the latest run was
    /// recorded before xray-cmk recorded X-Ray's configurations (schema 4), so this is unknown.
    pub keys_unknown: Option<usize>,
    /// Targets whose X-Ray configuration could not be read: whatever keys they use are not
    /// counted. `None` as for `keys_unknown`.
    pub targets_unread: Option<usize>,
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
    let latest = in_window.last().copied();
    let streaks = streaks(runs, since);
    let remediated_in_window: Vec<Remediated> = streaks
        .closed
        .into_iter()
        .filter(|c| c.passed_at.as_str() >= since)
        .collect();
    let open = open_findings(&streaks.open, now);
    Kpi {
        since: since.to_owned(),
        generated_at: now.to_owned(),
        runs: in_window.len(),
        compliance: compliance(&in_window),
        findings: findings(&open, streaks.opened_in_window, remediated_in_window.len()),
        mttr: mttr(remediated_in_window, open),
        cost: cost(latest, requests),
    }
}

/// Compliance now (the latest run in the window), per run, and per account and region.
fn compliance(in_window: &[&RunRecord]) -> Compliance {
    let trend: Vec<TrendPoint> = in_window.iter().map(|r| point(r)).collect();
    let latest_targets = in_window.last().map(|r| targets(r)).unwrap_or_default();
    Compliance {
        now: trend.last().cloned(),
        by_account: shares(&latest_targets, true),
        by_region: shares(&latest_targets, false),
        trend,
    }
}

/// The fail streaks over every run.
struct Streaks {
    /// Failing still, by fingerprint: since when, and the first failing result.
    open: BTreeMap<String, (String, ResultRecord)>,
    /// Every remediated failure, in the order they were remediated.
    closed: Vec<Remediated>,
    /// Failures first seen in the window.
    opened_in_window: usize,
}

/// Fail streaks per fingerprint, over every run. A failure is remediated only when a later audit
/// read its target and it passed: its own result passes (or is exempted), or, when it no longer
/// appears (a replaced key's findings), its rule passed at its target in that run and nothing of
/// the rule there was an error. A target that became unreadable keeps its failures open.
fn streaks(runs: &[RunRecord], since: &str) -> Streaks {
    let mut s = Streaks {
        open: BTreeMap::new(),
        closed: Vec::new(),
        opened_in_window: 0,
    };
    for run in runs {
        for r in &run.results {
            if is_open_fail(r) {
                if !s.open.contains_key(&r.fingerprint) && run.started_at.as_str() >= since {
                    s.opened_in_window += 1;
                }
                s.open
                    .entry(r.fingerprint.clone())
                    .or_insert_with(|| (run.started_at.clone(), r.clone()));
            } else if r.status == "pass" || r.suppressed {
                if let Some((failed_at, rec)) = s.open.remove(&r.fingerprint) {
                    s.closed.push(remediated(&rec, failed_at, &run.started_at));
                }
            }
        }
        for fp in vanished(run, &s.open) {
            if let Some((failed_at, rec)) = s.open.remove(&fp) {
                s.closed.push(remediated(&rec, failed_at, &run.started_at));
            }
        }
    }
    s
}

/// The open failures `run` no longer reports, whose rule passed at their target in it with
/// nothing of the rule there an error: remediated.
fn vanished(run: &RunRecord, open: &BTreeMap<String, (String, ResultRecord)>) -> Vec<String> {
    let present: BTreeSet<&str> = run.results.iter().map(|r| r.fingerprint.as_str()).collect();
    let mut passed: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    let mut unknown: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    for r in &run.results {
        let at = (r.rule.as_str(), r.account.as_str(), r.region.as_str());
        if r.status == "error" {
            unknown.insert(at);
        } else if r.status == "pass" || r.suppressed {
            passed.insert(at);
        }
    }
    open.iter()
        .filter(|(fp, (_, rec))| {
            let at = (rec.rule.as_str(), rec.account.as_str(), rec.region.as_str());
            !present.contains(fp.as_str()) && passed.contains(&at) && !unknown.contains(&at)
        })
        .map(|(fp, _)| fp.clone())
        .collect()
}

/// The failures still open at `now`, with their age.
fn open_findings(open: &BTreeMap<String, (String, ResultRecord)>, now: &str) -> Vec<OpenFinding> {
    open.iter()
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
        .collect()
}

/// Mean and median time to remediate over the failures remediated in the window.
fn mttr(remediated_in_window: Vec<Remediated>, open: Vec<OpenFinding>) -> Mttr {
    let mut durations: Vec<f64> = remediated_in_window.iter().map(|c| c.hours).collect();
    durations.sort_by(f64::total_cmp);
    let mean = (!durations.is_empty()).then(|| {
        (durations.iter().sum::<f64>() / durations.len() as f64 * 1000.0).round() / 1000.0
    });
    Mttr {
        mean_hours: mean,
        median_hours: median(&durations),
        remediated: remediated_in_window,
        open,
    }
}

/// Open findings by severity and rule, and how many opened and closed in the window.
fn findings(open: &[OpenFinding], opened_in_window: usize, closed_in_window: usize) -> Findings {
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for o in open {
        *by_severity.entry(o.severity.clone()).or_default() += 1;
        *by_rule.entry(o.rule.clone()).or_default() += 1;
    }
    Findings {
        open: open.len(),
        open_by_severity: by_severity,
        open_by_rule: by_rule,
        opened_in_window,
        closed_in_window,
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

/// What a run's recorded inventory says of the keys X-Ray uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct KeyCount {
    customer: usize,
    unknown: Option<usize>,
    unread: Option<usize>,
}

/// The customer managed keys X-Ray uses in `run`, from its recorded inventory: the keys its X-Ray
/// configurations name, as `DescribeKey` described them. A run recorded before the configurations
/// were (schema 4) counts the customer managed keys it described that X-Ray used, and cannot tell
/// what it could not read.
fn key_count(run: &RunRecord) -> KeyCount {
    let inv = &run.inventory;
    let manager = |id: &str| {
        inv.keys
            .iter()
            .find(|k| k.key_id == id)
            .and_then(|k| k.manager.as_deref())
    };
    let Some(targets) = &inv.targets else {
        return KeyCount {
            customer: inv
                .keys
                .iter()
                .filter(|k| k.manager.as_deref() == Some("CUSTOMER") && !k.used_by.is_empty())
                .count(),
            unknown: None,
            unread: None,
        };
    };
    let kms: Vec<&crate::TargetRecord> = targets
        .iter()
        .filter(|t| t.encryption.as_deref() == Some("KMS"))
        .collect();
    let used: BTreeSet<&str> = kms.iter().filter_map(|t| t.key_id.as_deref()).collect();
    let nameless = kms.iter().filter(|t| t.key_id.is_none()).count();
    KeyCount {
        customer: used
            .iter()
            .filter(|id| manager(id) == Some("CUSTOMER"))
            .count(),
        unknown: Some(used.iter().filter(|id| manager(id).is_none()).count() + nameless),
        unread: Some(targets.iter().filter(|t| t.encryption.is_none()).count()),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn cost(latest: Option<&RunRecord>, requests: Option<u64>) -> Cost {
    let count = latest.map(key_count).unwrap_or_default();
    let keys = count.customer;
    let keys_usd = keys as f64 * KEY_MONTH_USD;
    let rotation_max = keys as f64 * 2.0 * ROTATION_MONTH_USD;
    let requests_usd = requests.map(|n| {
        (n.saturating_sub(FREE_REQUESTS) as f64 / 10_000.0 * USD_PER_10K_REQUESTS * 100.0).round()
            / 100.0
    });
    let mut assumptions = vec![
        format!("${KEY_MONTH_USD:.2} per customer managed key per month (KMS list price, us-east-1); keys counted are the customer managed keys X-Ray uses in the latest audit's recorded inventory (the keys its X-Ray configurations name, as KMS described them)"),
        format!("each of a key's first two automatic rotations adds ${ROTATION_MONTH_USD:.2} a month; later rotations are free, so the rotation charge is $0 for a new key and at most $2 a key once it has rotated twice"),
        "AWS managed keys (aws/xray) and AWS owned keys have no monthly charge".to_owned(),
    ];
    match (count.unknown, count.unread) {
        _ if latest.is_none() => {
            assumptions.push("no audit in the window: no key is counted".to_owned())
        }
        (Some(unknown), Some(unread)) => {
            if unknown > 0 {
                assumptions.push(format!(
                    "{} X-Ray uses could not be described (DescribeKey failed, or the audit's --rules did not need it): not counted, so the cost may be higher",
                    plural(unknown, "key", "keys")
                ));
            }
            if unread > 0 {
                assumptions.push(format!(
                    "{} could not be read: the keys {} uses are not counted, so the cost may be higher",
                    plural(unread, "target", "targets"),
                    if unread == 1 { "it" } else { "they" }
                ));
            }
        }
        _ => assumptions.push(
            "the latest audit was recorded by an older xray-cmk, which did not record X-Ray's configurations: its keys are those it described, and keys it could not describe or targets it could not read are unknown, so the cost may be higher".to_owned(),
        ),
    }
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
        keys_unknown: count.unknown,
        targets_unread: count.unread,
        keys_usd_month: keys_usd,
        rotation_usd_month_max: rotation_max,
        requests_per_month: requests,
        requests_usd_month: requests_usd,
        total_usd_month_now: total_now,
        total_usd_month_max: total_now + rotation_max,
        assumptions,
    }
}
