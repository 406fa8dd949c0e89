//! End-to-end: the real binary against the seeded local emulator.

mod common;

use common::{bare_xray_cmk, run, stable_json, Emulator};

#[test]
fn demo_profile_shows_management_posture_region_by_region() {
    let emu = Emulator::seeded();
    let r = run(emu.xray_cmk().args(["audit", "--profile", "xray-cmk-demo"]));
    // eu-north-1 is denied to the audit role: the scan is incomplete.
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    insta::assert_snapshot!("demo_table", r.stdout);
}

#[test]
fn json_output_with_full_access_is_complete() {
    let emu = Emulator::seeded();
    let r = run(emu.xray_cmk().args(["audit", "--format", "json"]));
    assert_eq!(
        r.code, 1,
        "findings, but every region read; stderr: {}",
        r.stderr
    );
    let doc = stable_json(&r.stdout);
    assert_eq!(doc["schema_version"], "1.0");
    assert_eq!(doc["summary"]["errors"], 0);
    // The text itself, so the snapshot pins the field order users see too.
    insta::with_settings!({ filters => vec![
        (r#""generated_at": "[^"]*""#, r#""generated_at": "[time]""#),
        (r#""version": "[^"]*""#, r#""version": "[version]""#),
    ]}, {
        insta::assert_snapshot!("admin_json", r.stdout);
    });
}

#[test]
fn audit_role_gets_an_error_result_for_the_denied_region_never_a_pass() {
    let emu = Emulator::seeded();
    let r = run(emu.xray_cmk().args([
        "audit",
        "--profile",
        "xray-cmk-demo",
        "--regions",
        "eu-north-1,us-east-1",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    let doc = stable_json(&r.stdout);
    let results = doc["results"].as_array().expect("results");
    let north: Vec<_> = results
        .iter()
        .filter(|x| x["region"] == "eu-north-1")
        .collect();
    assert_eq!(north.len(), 4);
    for x in north {
        assert_eq!(x["status"], "error");
        assert!(x["message"]
            .as_str()
            .expect("message")
            .contains("AccessDenied"));
    }
    assert_eq!(
        doc["scope"]["regions"],
        serde_json::json!(["eu-north-1", "us-east-1"])
    );
}

#[test]
fn a_compliant_region_exits_clean() {
    let emu = Emulator::seeded();
    let r = run(emu.xray_cmk().args(["audit", "--regions", "us-east-1"]));
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 targets: 1 compliant"), "{}", r.stdout);
}

#[test]
fn fail_on_threshold_controls_the_findings_exit_code() {
    let emu = Emulator::seeded();
    // us-west-2 uses aws/xray: a high failure.
    let high = run(emu
        .xray_cmk()
        .args(["audit", "--regions", "us-west-2", "--fail-on", "high"]));
    assert_eq!(high.code, 1, "{}", high.stdout);
    let critical =
        run(emu
            .xray_cmk()
            .args(["audit", "--regions", "us-west-2", "--fail-on", "critical"]));
    assert_eq!(critical.code, 0, "{}", critical.stdout);
}

#[test]
fn unknown_profile_is_one_clear_line() {
    let emu = Emulator::start();
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--profile", "does-not-exist"]));
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("profile `does-not-exist`"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_credentials_is_one_clear_line() {
    let r = run(bare_xray_cmk().args(["audit", "--regions", "us-east-1"]));
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: no AWS credentials found"),
        "{}",
        r.stderr
    );
}

#[test]
fn unreachable_endpoint_is_one_clear_line() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let r = run(bare_xray_cmk()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .args(["audit", "--regions", "us-east-1"]));
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("could not reach AWS"), "{}", r.stderr);
}

#[test]
fn malformed_region_is_a_usage_error() {
    let r = run(bare_xray_cmk().args(["audit", "--regions", "us-east-1,eu_west_1"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not a valid AWS region name"),
        "{}",
        r.stderr
    );
}

#[test]
fn rules_and_explain() {
    let r = run(bare_xray_cmk().args(["rules"]));
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("rules", r.stdout);
    let r = run(bare_xray_cmk().args(["explain", "xray-aws-managed-key"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("## Why is this bad?"));
    assert!(r.stdout.contains("Severity: high"));
    let r = run(bare_xray_cmk().args(["explain", "no-such-rule"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("known rules: xray-default-encryption"),
        "{}",
        r.stderr
    );
}

/// Cross-checks the audit against what the seed says it built, independently of the snapshots.
#[test]
fn every_seeded_management_posture_is_classified_as_seeded() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let mgmt = seed["management_account_id"]
        .as_str()
        .expect("management id");
    let r = run(emu.xray_cmk().args(["audit", "--format", "json"]));
    let doc = stable_json(&r.stdout);
    let results = doc["results"].as_array().expect("results");
    let postures = seed["region_postures"].as_array().expect("postures");
    let mut checked = 0;
    for p in postures.iter().filter(|p| p["account_id"] == mgmt) {
        let region = p["region"].as_str().expect("region");
        let here: Vec<_> = results.iter().filter(|x| x["region"] == region).collect();
        let failing: Vec<&str> = here
            .iter()
            .filter(|x| x["status"] == "fail")
            .map(|x| x["rule"].as_str().expect("rule"))
            .collect();
        let expected: &[&str] = match p["expected_posture"].as_str().expect("posture") {
            "customer-managed-key" | "cmk-rotation-disabled" => &[],
            // The admin credentials are not denied; the region is a good CMK underneath.
            "access-denied" => &[],
            "explicit-none" => &["xray-default-encryption"],
            "aws-managed-key" => &["xray-aws-managed-key"],
            "cmk-disabled" | "cmk-pending-deletion" => &["xray-key-unusable"],
            other => panic!("posture {other} not covered by this test"),
        };
        assert_eq!(failing, expected, "{region}: {here:#?}");
        if let Some(key) = p["key_arn"].as_str() {
            assert!(here.iter().all(|x| x["key"] == key), "{region} key");
        }
        checked += 1;
    }
    assert_eq!(checked, 7, "every seeded management posture was checked");
}
