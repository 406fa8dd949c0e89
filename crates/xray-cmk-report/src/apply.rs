//! `xray-cmk apply`: the preview shown before confirmation and the result for people (the
//! result document itself is [`ApplyResult`] as JSON, docs/plan.md).

use std::fmt::Write as _;

use xray_cmk_core::remediation::apply::{ApplyResult, Outcome, TargetResult, TargetStatus};

/// What apply will do, after the pre-flight: each target's steps, to run or already in place.
pub fn preview(checked: &[TargetResult]) -> String {
    let mut out = String::from("apply will:\n");
    for t in checked {
        let _ = writeln!(out, "  {} {}", t.account, t.region);
        for s in &t.steps {
            let what = match s.outcome {
                Outcome::Skipped => format!(
                    "skip, already in place: {}",
                    xray_cmk_core::text::for_terminal(&s.message)
                ),
                _ => "run".to_owned(),
            };
            let _ = writeln!(out, "    {}. {} · {what}", s.step, s.action);
        }
    }
    out
}

/// How a target's status is shown.
pub fn status_word(s: TargetStatus) -> &'static str {
    match s {
        TargetStatus::Applied => "applied",
        TargetStatus::Unchanged => "unchanged",
        TargetStatus::Failed => "FAILED",
    }
}

/// The apply result for people: each target's steps, the state a failed target was left in,
/// and the totals.
pub fn result(r: &ApplyResult) -> String {
    let mut out = String::new();
    for t in &r.targets {
        let _ = writeln!(out, "{} {}  {}", t.account, t.region, status_word(t.status));
        for s in &t.steps {
            let word = match s.outcome {
                Outcome::Done => "done",
                Outcome::Skipped => "skipped",
                Outcome::Failed => "FAILED",
                Outcome::NotRun => "not run",
            };
            let _ = writeln!(
                out,
                "  {}. {:<20} {:<8} {}",
                s.step,
                s.action,
                word,
                xray_cmk_core::text::for_terminal(&s.message)
            );
        }
        if t.status == TargetStatus::Failed {
            let _ = writeln!(
                out,
                "  left in this state: {}",
                xray_cmk_core::text::for_terminal(&t.state)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} applied · {} unchanged · {} failed",
        r.summary.applied, r.summary.unchanged, r.summary.failed
    );
    out
}
