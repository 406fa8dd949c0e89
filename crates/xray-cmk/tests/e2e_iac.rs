//! `xray-cmk iac scan` and `iac generate` end to end: the binary over the fixture modules, each
//! output format, exit codes, and a corpus of real-world-shaped modules.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bare_xray_cmk, repo_root, run};

fn fixtures() -> PathBuf {
    repo_root().join("crates/xray-cmk-terraform/tests/fixtures")
}

/// `xray-cmk iac …` run from the fixtures directory, so paths in the output are relative.
fn iac(args: &[&str]) -> common::Run {
    run(bare_xray_cmk()
        .current_dir(fixtures())
        .arg("iac")
        .args(args)
        .args(["--quiet"]))
}

/// `v` with every object's keys in sorted order, whatever serde_json's map keeps (its
/// `preserve_order` feature depends on what else the workspace builds).
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

/// The SARIF log with the tool version pinned, for snapshots.
fn stable_sarif(text: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(text).expect("SARIF is JSON");
    let driver = &mut v["runs"][0]["tool"]["driver"];
    driver["version"] = "[version]".into();
    driver["semanticVersion"] = "[version]".into();
    v
}

#[test]
fn sarif_has_every_failure_with_its_location_and_rule_metadata() {
    let r = iac(&[
        "scan",
        "rotation",
        "tracing-missing",
        "syntax-error",
        "unknowns",
        "--policy",
        "xray-cmk.toml",
        "--format",
        "sarif",
    ]);
    assert_eq!(
        r.code, 3,
        "a parse error and unknowns make the scan incomplete: {}",
        r.stderr
    );
    let log = stable_sarif(&r.stdout);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for rule in rules {
        assert!(rule["help"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("## How to fix")));
        assert!(rule["properties"]["security-severity"].is_string());
    }
    let results = run["results"].as_array().expect("results");
    for res in results {
        let index = res["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(rules[index]["id"], res["ruleId"]);
        let uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("uri");
        assert!(
            !uri.starts_with('/') && !uri.contains("://"),
            "relative: {uri}"
        );
        assert!(res["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64() >= Some(1));
        assert!(res["partialFingerprints"]["xrayCmk/v1"].is_string());
    }
    // Only what needs looking at: failures and undecided checks.
    let results_only: serde_json::Value = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "ruleId": r["ruleId"],
                "level": r["level"],
                "uri": r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                "region": r["locations"][0]["physicalLocation"]["region"],
                "message": r["message"]["text"],
                "fingerprint": r["partialFingerprints"]["xrayCmk/v1"],
            })
        })
        .collect();
    insta::assert_json_snapshot!("iac_sarif_results", sorted(results_only));
    insta::assert_json_snapshot!(
        "iac_sarif_first_rule",
        sorted(run["tool"]["driver"]["rules"][0].clone())
    );
}

#[test]
fn fingerprints_survive_moving_a_resource_down_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |pad: &str| {
        std::fs::write(
            dir.path().join("main.tf"),
            format!(
                "{pad}resource \"aws_xray_encryption_config\" \"x\" {{\n  type = \"NONE\"\n}}\n"
            ),
        )
        .expect("write");
        let r = run(bare_xray_cmk()
            .current_dir(dir.path())
            .args(["iac", "scan", ".", "--format", "sarif", "--quiet"]));
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("sarif");
        let res = &v["runs"][0]["results"][0];
        (
            res["partialFingerprints"]["xrayCmk/v1"].clone(),
            res["locations"][0]["physicalLocation"]["region"]["startLine"].clone(),
        )
    };
    let (before, line1) = write("");
    let (after, line4) = write("# a\n# b\n# c\n");
    assert_eq!((line1.as_u64(), line4.as_u64()), (Some(1), Some(4)));
    assert_eq!(before, after);
}

#[test]
fn json_and_table_show_locations_and_exit_codes_gate_ci() {
    let r = iac(&[
        "scan",
        "default-encryption",
        "--format",
        "json",
        "--policy",
        "xray-cmk.toml",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(doc["schema_version"], "1.3");
    let fail = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|x| x["status"] == "fail")
        .expect("a failure");
    assert_eq!(fail["rule"], "xray-default-encryption");
    assert_eq!(fail["location"]["file"], "default-encryption/main.tf");
    assert_eq!(fail["location"]["line"], 6);

    let r = iac(&["scan", "default-encryption", "--policy", "xray-cmk.toml"]);
    assert!(
        r.stdout.contains("default-encryption/main.tf:6:1  fail"),
        "{}",
        r.stdout
    );
    // --fail-on above the failure's severity: clean.
    let r = iac(&["scan", "default-encryption", "--fail-on", "critical"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = iac(&["scan", "no-such-dir"]);
    assert_eq!(r.code, 3, "a path that cannot be read is never clean");
    assert!(
        r.stdout.contains("no such file or directory"),
        "{}",
        r.stdout
    );
}

#[test]
fn generate_writes_a_module_that_scans_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("xray");
    let policy = fixtures().join("xray-cmk.toml");
    let r = run(bare_xray_cmk()
        .args([
            "iac",
            "generate",
            "--account",
            "111122223333",
            "--region",
            "eu-west-1",
        ])
        .arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(bare_xray_cmk()
        .args(["iac", "scan", "--quiet", "--format", "json"])
        .arg(&out)
        .arg("--policy")
        .arg(&policy));
    assert_eq!(r.code, 0, "zero findings: {}", r.stdout);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let results = doc["results"].as_array().expect("results");
    assert!(results.len() >= 12, "every rule judged it");
    assert!(results.iter().all(|x| x["status"] == "pass"));
    // A second generate refuses to overwrite.
    let r = run(bare_xray_cmk()
        .args(["iac", "generate", "--account", "111122223333", "--out"])
        .arg(&out));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let r = run(bare_xray_cmk().args(["iac", "generate", "--account", "12"]));
    assert_eq!(r.code, 2);
}

/// The benchmark's generator of real-world-shaped modules (bench/iac/make_corpus.py), when the
/// machine has Python, scanned without a crash and with every file accounted for.
#[test]
fn a_corpus_of_real_world_shaped_modules_scans_without_crashing() {
    let script = repo_root().join("bench/iac/make_corpus.py");
    if !script.exists() {
        panic!("bench/iac/make_corpus.py is missing");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .args(["--modules", "60", "--seed", "7"])
        .output()
        .expect("python3");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let files = count_tf(dir.path());
    assert!(files >= 200, "{files}");
    let r = run(bare_xray_cmk()
        .args(["iac", "scan", "--format", "json"])
        .arg(dir.path()));
    assert!(matches!(r.code, 0 | 1 | 3), "no crash: {}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert!(!doc["results"].as_array().expect("results").is_empty());
    assert!(
        r.stderr.contains(&format!("{files} files")),
        "every file read: {}",
        r.stderr
    );
    let parse_errors = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|x| x["rule"] == "iac-parse-error")
        .count();
    assert_eq!(parse_errors, 0, "the corpus is valid HCL");
}

fn count_tf(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .map(|p| {
            if p.is_dir() {
                count_tf(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "tf"))
            }
        })
        .sum()
}
