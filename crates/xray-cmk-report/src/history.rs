//! `xray-cmk history`: the recorded runs (with the steps each recorded) and the actions on keys
//! in a window, as a table or JSON.

use std::fmt::Write as _;

use serde_json::Value;
use xray_cmk_store::{ActionRecord, RunHead, RunStatus};

/// The JSON document: `{"runs": [...], "actions": [...]}`.
pub fn document(runs: &[RunHead], actions: &[ActionRecord]) -> Value {
    serde_json::json!({ "runs": runs, "actions": actions })
}

/// The table for people.
pub fn table(since: &str, runs: &[RunHead], actions: &[ActionRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "runs since {since}:");
    for r in runs {
        let _ = writeln!(
            out,
            "  {:>5}  {:<6} {}  {}",
            r.id,
            r.kind,
            r.started_at,
            match (r.status, r.exit_code) {
                (RunStatus::Incomplete, _) => format!(
                    "INCOMPLETE: did not finish (killed, still running, or not fully recorded); {} step{} recorded",
                    r.steps.len(),
                    if r.steps.len() == 1 { "" } else { "s" }
                ),
                (_, Some(c)) => format!("exit {c}"),
                (_, None) => "finished".to_owned(),
            }
        );
        for s in &r.steps {
            let _ = writeln!(
                out,
                "         {} {} step {} {:<20} {:<8} {}  {}",
                s.account,
                s.region,
                s.step,
                s.action,
                s.outcome,
                s.ended_at.as_deref().unwrap_or("-"),
                s.message
            );
        }
    }
    let _ = writeln!(out, "key actions since {since}:");
    for a in actions {
        let _ = writeln!(
            out,
            "  {}  {:<17} {} ({}/{}) by {}: {} -> {}",
            a.at, a.action, a.key_arn, a.account, a.region, a.who, a.reason, a.state_after
        );
    }
    if actions.is_empty() {
        let _ = writeln!(out, "  none");
    }
    out
}
