//! What the fixture tests share: where the fixtures are, their policy file, and how results are
//! listed in the snapshots (`file:line:col status rule resource`).

use std::path::{Path, PathBuf};

use xray_cmk_core::{rules, Finding, OrgPolicy};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn policy() -> OrgPolicy {
    let text = std::fs::read_to_string(fixtures().join("xray-cmk.toml")).expect("policy");
    let known: Vec<&str> = rules::ALL.iter().map(|r| r.meta().id.as_str()).collect();
    OrgPolicy::parse(&text, "xray-cmk.toml", &known).expect("valid policy")
}

/// Paths are printed relative to the fixtures directory, so the listing does not depend on
/// where the checkout is.
pub fn listing(findings: &[Finding]) -> String {
    let root = format!("{}/", fixtures().display());
    findings
        .iter()
        .map(|f| {
            let at = f.location().map_or_else(
                || "-".to_owned(),
                |l| {
                    let file = l.file.trim_start_matches(&root);
                    format!("{file}:{}:{}", l.line, l.column)
                },
            );
            let resource = f.resource().replace(&root, "");
            format!("{at} {} {} {resource}", f.status().as_str(), f.rule())
        })
        .collect::<Vec<_>>()
        .join("\n")
}
