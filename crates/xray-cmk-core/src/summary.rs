//! Counts over one scan's findings, per result and per target (account and region).

use std::collections::BTreeMap;

use crate::finding::{Finding, Severity, Status};

/// A target is *compliant* when every rule passed, *failing* when any rule failed, and *error* when
/// nothing failed but something could not be read. An error target is not compliant: unknown is
/// never a pass, so it counts against the percentage. A failure suppressed by an active exemption
/// is counted in `suppressed_results` and does not make its target failing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    pub targets: usize,
    pub compliant: usize,
    pub failing: usize,
    pub errors: usize,
    pub passed_results: usize,
    pub failed_results: usize,
    pub error_results: usize,
    pub suppressed_results: usize,
    /// `compliant / targets` in percent, one decimal; `None` when nothing was scanned.
    pub compliance_pct: Option<f64>,
}

impl Summary {
    pub fn from_findings(findings: &[Finding]) -> Self {
        let mut b = SummaryBuilder::default();
        findings.iter().for_each(|f| b.add(f));
        b.finish()
    }

    /// True when some unsuppressed result failed at or above `threshold`.
    pub fn has_failures_at_or_above(findings: &[Finding], threshold: Severity) -> bool {
        findings
            .iter()
            .any(|f| f.is_open_failure() && f.severity >= threshold)
    }
}

/// Builds a [`Summary`] one finding at a time, so a streamed scan need not keep its findings.
#[derive(Debug, Default, Clone)]
pub struct SummaryBuilder {
    per_target: BTreeMap<(String, String), Status>,
    counts: Summary,
}

impl SummaryBuilder {
    pub fn add(&mut self, f: &Finding) {
        let c = &mut self.counts;
        let status = match f.status {
            Status::Fail if f.is_suppressed() => {
                c.suppressed_results += 1;
                Status::Pass
            }
            Status::Pass => {
                c.passed_results += 1;
                Status::Pass
            }
            Status::Fail => {
                c.failed_results += 1;
                Status::Fail
            }
            Status::Error => {
                c.error_results += 1;
                Status::Error
            }
        };
        let worst = self
            .per_target
            .entry((f.account.clone(), f.region.clone()))
            .or_insert(Status::Pass);
        // Fail outranks Error outranks Pass for a target's status.
        *worst = match (*worst, status) {
            (Status::Fail, _) | (_, Status::Fail) => Status::Fail,
            (Status::Error, _) | (_, Status::Error) => Status::Error,
            _ => Status::Pass,
        };
    }

    pub fn finish(&self) -> Summary {
        let mut s = self.counts;
        s.targets = self.per_target.len();
        for status in self.per_target.values() {
            match status {
                Status::Pass => s.compliant += 1,
                Status::Fail => s.failing += 1,
                Status::Error => s.errors += 1,
            }
        }
        s.compliance_pct = (s.targets > 0)
            .then(|| (s.compliant as f64 * 1000.0 / s.targets as f64).round() / 10.0);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use crate::Inventory;

    #[test]
    fn counts_targets_by_worst_status() {
        let mut inv = Inventory::default();
        let mut add = |mut part: Inventory, region: &str| {
            for t in &mut part.targets {
                t.region = region.into();
            }
            inv.targets.extend(part.targets);
            inv.keys.extend(part.keys);
            inv.unaliased_keys.extend(
                part.unaliased_keys
                    .into_values()
                    .map(|listed| ((ACCOUNT.to_owned(), region.to_owned()), listed)),
            );
        };
        add(with_key(|_| {}), "us-east-1");
        add(none_config(), "us-east-2");
        add(unreadable_config(), "eu-north-1");
        add(with_key(|_| {}), "eu-west-1");
        let findings = eval(&inv);
        let s = Summary::from_findings(&findings);
        assert_eq!((s.targets, s.compliant, s.failing, s.errors), (4, 2, 1, 1));
        assert_eq!(s.compliance_pct, Some(50.0));
        assert_eq!(s.failed_results, 1);
        // The unreadable region: its four X-Ray rules, its key listing, and every key rule for
        // the key it hides.
        assert_eq!(s.error_results, 5 + crate::rules::KEY_RULES.len());
        // 4 X-Ray rules in each KMS region, the 5 key rules once for the shared key, the 2
        // key-use rules (access, cross-account) for each region using it, and the key listing of
        // the 3 readable regions.
        assert_eq!(s.passed_results, 20);
        assert!(Summary::has_failures_at_or_above(&findings, Severity::High));
        assert!(!Summary::has_failures_at_or_above(
            &findings,
            Severity::Critical
        ));
    }

    #[test]
    fn empty_scan_has_no_percentage() {
        assert_eq!(Summary::from_findings(&[]).compliance_pct, None);
    }
}
