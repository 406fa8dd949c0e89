//! What the template tests share: where the fixtures are, their policy file, how a scan is run
//! from the fixtures directory (so locations are relative and stable), and how results are
//! listed in the snapshots (`file:line:col status rule resource: message`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use xray_cmk_cloudformation::{CfnScan, Parameters};
use xray_cmk_core::{rules, Date, Finding, OrgPolicy};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn policy() -> OrgPolicy {
    let text = std::fs::read_to_string(fixtures().join("xray-cmk.toml")).expect("policy");
    let known: Vec<&str> = rules::ALL.iter().map(|r| r.meta().id.as_str()).collect();
    OrgPolicy::parse(&text, "xray-cmk.toml", &known).expect("valid policy")
}

/// The working directory is the process's: tests that change it take turns.
static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Scans `paths` from `dir`.
pub fn scan_in(dir: &Path, paths: &[&str], params: &Parameters) -> CfnScan {
    let _turn = CWD.lock().unwrap_or_else(|p| p.into_inner());
    let here = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(dir).expect("cd");
    let scan =
        xray_cmk_cloudformation::scan(&paths.iter().map(PathBuf::from).collect::<Vec<_>>(), params);
    std::env::set_current_dir(here).expect("cd back");
    scan
}

pub fn judge(scan: &CfnScan) -> Vec<Finding> {
    scan.judge(&policy(), Date::new(2026, 12, 1).expect("date"), rules::ALL)
}

pub fn listing(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let at = f.location().map_or_else(
                || "-".to_owned(),
                |l| format!("{}:{}:{}", l.file, l.line, l.column),
            );
            format!(
                "{at} {} {} {}: {}",
                f.status().as_str(),
                f.rule(),
                f.resource(),
                f.message()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
