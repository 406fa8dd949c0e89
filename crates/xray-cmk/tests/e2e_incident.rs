//! End-to-end incident handling against a freshly seeded emulator: what `restore` knows before
//! it re-enables a key, and what a killed `apply` leaves in the history.

mod common;

use std::path::{Path, PathBuf};

use common::{run, Emulator};
use serde_json::Value;

const MGMT: &str = "123456789012";

fn history(emu: &Emulator, db: &Path) -> Value {
    let r = run(emu
        .xray_cmk()
        .args(["history", "--format", "json", "--db"])
        .arg(db));
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("history json")
}

fn single_target_plan(emu: &Emulator) -> PathBuf {
    let out = emu.dir.path().join("plan.json");
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--quiet", "--policy"])
        .arg(emu.policy())
        .args(["--accounts", MGMT, "--regions", "us-east-2", "--out"])
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

fn apply_cmd(emu: &Emulator, plan: &Path, db: &Path) -> std::process::Command {
    let mut cmd = emu.xray_cmk();
    cmd.args(["apply", "--yes", "--quiet", "--policy"])
        .arg(emu.policy())
        .arg(plan)
        .arg("--db")
        .arg(db);
    cmd
}

/// (action, outcome) of a history run's steps, in the order they were recorded.
fn steps(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["action"].as_str().expect("action").to_owned(),
                s["outcome"].as_str().expect("outcome").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_killed_apply_is_listed_incomplete_with_the_steps_it_completed() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let plan = single_target_plan(&emu);

    // Aborted (as SIGKILL would) right after X-Ray was switched to the new key.
    let out = apply_cmd(&emu, &plan, &db)
        .env("XRAY_CMK_TEST_CRASH_AFTER", "set_xray_encryption")
        .output()
        .expect("run");
    assert!(
        out.status.code().is_none(),
        "the crash hook must abort the run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h = history(&emu, &db);
    let runs = h["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{h:#}");
    let killed = &runs[0];
    assert_eq!(killed["kind"], "apply");
    assert_eq!(killed["status"], "incomplete", "{killed:#}");
    assert_eq!(killed["finished_at"], "", "{killed:#}");
    let done = steps(killed);
    assert_eq!(
        done.last().map(|(a, o)| (a.as_str(), o.as_str())),
        Some(("set_xray_encryption", "done")),
        "{killed:#}"
    );
    assert!(
        done.iter().any(|(a, o)| a == "create_key" && o == "done"),
        "{killed:#}"
    );
    assert!(
        killed["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["ended_at"].as_str().is_some_and(|t| t.starts_with("20"))),
        "{killed:#}"
    );
    assert!(
        !done.iter().any(|(a, _)| a == "verify"),
        "verification never ran: {killed:#}"
    );
    // The table says so too.
    let r = run(emu.xray_cmk().args(["history", "--db"]).arg(&db));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("INCOMPLETE"), "{}", r.stdout);
    assert!(r.stdout.contains("set_xray_encryption"), "{}", r.stdout);

    // The re-run finds every change in place (verification is left to `xray-cmk verify`); the
    // killed run stays listed as it was.
    let r = run(&mut apply_cmd(&emu, &plan, &db));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let h = history(&emu, &db);
    let runs = h["runs"].as_array().expect("runs");
    assert_eq!(runs[0]["status"], "incomplete", "{h:#}");
    assert_eq!(steps(&runs[0]), done);
}
