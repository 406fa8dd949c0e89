//! `xray-cmk iac scan` over CloudFormation templates end to end: templates found beside `.tf`
//! files, each output format with template locations, `--parameters`, exit codes.

mod common;

use std::path::PathBuf;

use common::{bare_xray_cmk, repo_root, run};

fn fixtures() -> PathBuf {
    repo_root().join("crates/xray-cmk-cloudformation/tests/fixtures")
}

fn iac(args: &[&str]) -> common::Run {
    run(bare_xray_cmk()
        .current_dir(fixtures())
        .args(["iac", "scan", "--policy", "xray-cmk.toml"])
        .args(args))
}

fn results(stdout: &str) -> Vec<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(stdout).expect("json");
    doc["results"].as_array().expect("results").clone()
}

#[test]
fn templates_are_found_beside_terraform_in_the_same_paths() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"aws_kms_key\" \"tf\" {\n  enable_key_rotation = false\n}\n",
    )
    .expect("tf");
    std::fs::copy(
        fixtures().join("yaml-short/fail.yaml"),
        dir.path().join("stack.yaml"),
    )
    .expect("template");
    let r = run(bare_xray_cmk()
        .current_dir(dir.path())
        .args(["iac", "scan", ".", "--format", "json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results(&r.stdout);
    let files: Vec<&str> = res
        .iter()
        .filter(|x| x["status"] == "fail")
        .filter_map(|x| x["location"]["file"].as_str())
        .collect();
    assert!(files.contains(&"main.tf"), "{files:?}");
    assert!(files.contains(&"stack.yaml"), "{files:?}");
    assert!(
        r.stderr
            .contains("1 CloudFormation templates of 1 YAML/JSON files"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_and_sarif_locate_template_results_at_the_resource_line() {
    let r = iac(&["cdk", "--format", "json", "--quiet"]);
    assert_eq!(r.code, 3, "an import makes one stack unknown: {}", r.stderr);
    let res = results(&r.stdout);
    let miss = res
        .iter()
        .find(|x| x["rule"] == "cfn-xray-encryption-missing" && x["status"] == "fail")
        .expect("the traced stack fails");
    assert_eq!(
        miss["location"]["file"],
        "cdk/cdk.out/TracedStack.template.json"
    );
    assert_eq!(miss["location"]["line"], 61);
    assert!(miss["message"]
        .as_str()
        .is_some_and(|m| m.contains("TracedStack/Handler/Resource")));

    let r = iac(&["cdk", "--format", "sarif", "--quiet"]);
    let log: serde_json::Value = serde_json::from_str(&r.stdout).expect("SARIF");
    let run0 = &log["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run0["results"].as_array().expect("results");
    let fail = results
        .iter()
        .find(|x| x["ruleId"] == "cfn-xray-encryption-missing" && x["level"] == "error")
        .expect("in SARIF");
    let index = fail["ruleIndex"].as_u64().expect("index") as usize;
    assert_eq!(rules[index]["id"], "cfn-xray-encryption-missing");
    assert!(rules[index]["help"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("xray-cmk guard generate")));
    let loc = &fail["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "cdk/cdk.out/TracedStack.template.json"
    );
    assert_eq!(loc["region"]["startLine"], 61);

    let r = iac(&["cdk/cdk.out/TracedStack.template.json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("cdk/cdk.out/TracedStack.template.json:61:3"),
        "{}",
        r.stdout
    );
}

#[test]
fn parameters_decide_what_defaults_leave_unknown() {
    let r = iac(&["conditions", "--quiet", "--format", "json"]);
    assert_eq!(r.code, 3, "Owner has no default: {}", r.stdout);
    let r = iac(&[
        "conditions",
        "--quiet",
        "--format",
        "json",
        "--parameters",
        "conditions/owner.params",
    ]);
    let res = results(&r.stdout);
    let verdict = res
        .iter()
        .find(|x| x["rule"] == "cfn-xray-encryption-missing")
        .expect("judged");
    assert_eq!(verdict["status"], "pass", "{verdict}");
    let r = iac(&["conditions", "--parameters", "no-such-file"]);
    assert_eq!(
        r.code, 2,
        "a parameters file that cannot be read is a usage error"
    );
    assert!(r.stderr.contains("--parameters"), "{}", r.stderr);
}

#[test]
fn a_broken_template_is_a_parse_error_never_clean() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("template.yaml"),
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  K: [\n",
    )
    .expect("write");
    let r = run(bare_xray_cmk()
        .current_dir(dir.path())
        .args(["iac", "scan", ".", "--format", "json", "--quiet"]));
    assert_eq!(r.code, 3, "{}", r.stdout);
    let res = results(&r.stdout);
    assert_eq!(res.len(), 1, "{res:?}");
    assert_eq!(res[0]["rule"], "iac-parse-error");
    assert_eq!(res[0]["location"]["file"], "template.yaml");
}

/// Issue 17, item 3: `iac generate --format cloudformation` writes a template that `iac scan`
/// finds clean under each policy (the key rules, and the X-Ray rules on the target its automatic
/// remediation is), and that names the
/// policy's alias, rotation period and principals. scripts/check-guardrail runs cfn-lint on it.
#[test]
fn generate_writes_a_template_that_scans_clean() {
    let dir = tempfile::tempdir().expect("tmp");
    // Policies that name X-Ray's configurers and trace readers: the key policy names them, so the
    // scan can decide their access (with the built-in defaults it names nobody, leaving it to IAM,
    // which a template scan cannot judge: see below).
    let policies = [
        Some(fixtures().join("xray-cmk.toml")),
        Some(repo_root().join("crates/xray-cmk-terraform/tests/fixtures/xray-cmk.toml")),
    ];
    for (i, policy) in policies.iter().enumerate() {
        let out = dir.path().join(format!("t{i}"));
        let mut cmd = bare_xray_cmk();
        cmd.current_dir(dir.path())
            .args(["iac", "generate", "--format", "cloudformation", "--out"])
            .arg(&out);
        if let Some(p) = policy {
            cmd.arg("--policy").arg(p);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let template = out.join("xray-cmk.template.yaml");
        let text = std::fs::read_to_string(&template).expect("template");
        let mut scan = bare_xray_cmk();
        scan.current_dir(dir.path())
            .args(["iac", "scan", "--quiet", "--format", "json"])
            .arg(&out);
        if let Some(p) = policy {
            scan.arg("--policy").arg(p);
        }
        let r = run(&mut scan);
        assert_eq!(r.code, 0, "{policy:?}: zero findings: {}\n{text}", r.stdout);
        let res = results(&r.stdout);
        assert!(res.iter().all(|x| x["status"] == "pass"), "{res:#?}");
        let rules: Vec<&str> = res.iter().filter_map(|x| x["rule"].as_str()).collect();
        // (cfn-xray-encryption-missing judges templates that turn tracing on; this one does not.)
        for rule in [
            "xray-default-encryption",
            "xray-key-not-approved",
            "kms-rotation-disabled",
        ] {
            assert!(rules.contains(&rule), "{rule} judged it: {rules:?}");
        }
        assert!(text.contains("AWSConfigRemediation-UpdateXRayKMSKey"));
        assert!(text.contains("Automatic: true"));
        assert!(text.contains("DeletionPolicy: Retain"));
    }
    // The fixture policy's choices are in the template.
    let text = std::fs::read_to_string(dir.path().join("t0/xray-cmk.template.yaml")).expect("t0");
    assert!(text.contains("AliasName: 'alias/xray-traces'"), "{text}");
    assert!(text.contains("RotationPeriodInDays: 365"), "{text}");
    assert!(
        text.contains("!Sub 'arn:aws:iam::${AWS::AccountId}:role/XrayAdmin'"),
        "{text}"
    );
    // With the built-in defaults nobody is named: X-Ray's access is left to IAM, an `error` of
    // that one rule (exit 3), never a pass.
    let defaults = dir.path().join("t2");
    let r = run(bare_xray_cmk()
        .current_dir(dir.path())
        .args(["iac", "generate", "--format", "cloudformation", "--out"])
        .arg(&defaults));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(bare_xray_cmk()
        .current_dir(dir.path())
        .args(["iac", "scan", "--quiet", "--format", "json"])
        .arg(&defaults));
    assert_eq!(r.code, 3, "{}", r.stdout);
    let res = results(&r.stdout);
    let not_pass: Vec<&str> = res
        .iter()
        .filter(|x| x["status"] != "pass")
        .filter_map(|x| x["rule"].as_str())
        .collect();
    assert_eq!(not_pass, ["kms-key-policy-xray-access"], "{res:#?}");
    // Refuses to overwrite without --force; no --account needed, and a Terraform module still
    // needs one.
    let r = run(bare_xray_cmk()
        .current_dir(dir.path())
        .args(["iac", "generate", "--format", "cloudformation", "--out"])
        .arg(&defaults));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let r = run(bare_xray_cmk()
        .current_dir(dir.path())
        .args(["iac", "generate"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--account"), "{}", r.stderr);
}
