//! End-to-end: the real binary against the seeded local emulator.

mod common;

use common::{bare_xray_cmk, member_id, run, stable_json, Emulator};
use serde_json::Value;

/// The demo posture table the seed builds from (`emulator/xray_cmk_emulator/data/demo-posture.json`):
/// per seeded account and region, its posture and, in the management account, the rules that fail
/// there in an audit with full access and the demo policy file.
fn posture_table() -> Value {
    let path = common::repo_root().join("emulator/xray_cmk_emulator/data/demo-posture.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the posture table is JSON")
}

/// The management account's entries of the table, in seeding order.
fn management_postures(table: &Value) -> Vec<&Value> {
    table["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter(|e| e["account"] == "management")
        .collect()
}

/// The management region of the first entry `pick` accepts.
fn management_region(table: &Value, pick: impl Fn(&Value) -> bool) -> String {
    management_postures(table)
        .into_iter()
        .find(|e| pick(e))
        .and_then(|e| e["region"].as_str())
        .expect("the posture table has such a region")
        .to_owned()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string"))
        .collect()
}

/// The region denied to the audit role (profile `xray-cmk-demo`).
fn audit_denied_region(table: &Value) -> String {
    management_region(table, |e| e["denied"] == "audit-role")
}

#[test]
fn demo_profile_shows_management_posture_region_by_region() {
    let emu = Emulator::seeded();
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--profile", "xray-cmk-demo", "--policy"])
        .arg(emu.policy()));
    // eu-north-1 is denied to the audit role: the scan is incomplete.
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    insta::assert_snapshot!("demo_table", r.stdout);
    assert!(!r.stdout.lines().any(|l| l.starts_with("pass ")));
    // --show-passes: every result, the same exit code.
    let all = run(emu
        .xray_cmk()
        .args([
            "audit",
            "--profile",
            "xray-cmk-demo",
            "--show-passes",
            "--policy",
        ])
        .arg(emu.policy()));
    assert_eq!(all.code, 3, "stderr: {}", all.stderr);
    let passes = all
        .stdout
        .lines()
        .filter(|l| l.starts_with("pass "))
        .count();
    assert_eq!(passes, 148, "{}", all.stdout);
    assert!(!all.stdout.contains("passing results not shown"));
}

#[test]
fn json_output_with_full_access_reads_everything_but_the_locked_key() {
    let emu = Emulator::seeded();
    let r = run(emu.xray_cmk().args(["audit", "--format", "json"]));
    assert_eq!(
        r.code, 3,
        "every region read, but the locked key cannot be: stderr: {}",
        r.stderr
    );
    let doc = stable_json(&r.stdout);
    assert_eq!(doc["schema_version"], "1.3");
    let errors: Vec<&Value> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|x| x["status"] == "error")
        .collect();
    assert!(
        errors.iter().any(|x| x["region"] == "sa-east-1"),
        "the locked key is unreadable: {errors:?}"
    );
    // Without a policy file nobody is named as X-Ray's configurers and readers: where a key policy
    // leaves them to IAM, there is nobody to ask IAM's simulator about, and that is unknown too.
    for x in errors.iter().filter(|x| x["region"] != "sa-east-1") {
        assert_eq!(x["rule"], "kms-key-policy-xray-access", "{x}");
        assert!(
            x["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("cannot decide, IAM decides: any principal of")),
            "{x}"
        );
    }
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
    let denied = audit_denied_region(&posture_table());
    let emu = Emulator::seeded();
    let r = run(emu.xray_cmk().args([
        "audit",
        "--profile",
        "xray-cmk-demo",
        "--regions",
        &format!("{denied},us-east-1"),
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    let doc = stable_json(&r.stdout);
    let results = doc["results"].as_array().expect("results");
    let north: Vec<_> = results
        .iter()
        .filter(|x| x["region"] == denied.as_str())
        .collect();
    // Every rule that reads the region is an error, the key rules included: the key X-Ray uses
    // there is unknown (xray-key-not-approved does not apply without an approved list), and so is
    // kms-orphaned-xray-cmk-key: the keys cannot be listed. Trail coverage is read once per account
    // from the home region, so
    // cloudtrail-kms-events-not-logged can still judge the region.
    let (trail, regional): (Vec<_>, Vec<_>) = north
        .into_iter()
        .partition(|x| x["rule"] == "cloudtrail-kms-events-not-logged");
    let key_rules = xray_cmk_core::rules::KEY_RULES.len();
    assert_eq!(regional.len(), 6 + key_rules);
    for rule in xray_cmk_core::rules::KEY_RULES {
        assert!(
            regional
                .iter()
                .any(|x| x["rule"] == rule.meta().id.as_str()),
            "{}",
            rule.meta().id
        );
    }
    // JSON v1 has no error kind; the message carries the classified error's code.
    let denied_code = ": AccessDeniedException: ";
    for x in regional {
        assert_eq!(x["status"], "error", "{x}");
        assert!(
            x["message"]
                .as_str()
                .expect("message")
                .contains(denied_code),
            "{x}"
        );
    }
    assert_eq!(trail.len(), 1);
    assert_ne!(
        trail[0]["status"], "pass",
        "no trail records KMS reads there"
    );
    let mut scope = vec![denied.as_str(), "us-east-1"];
    scope.sort_unstable();
    assert_eq!(doc["scope"]["regions"], serde_json::json!(scope));
}

#[test]
fn a_compliant_region_exits_clean() {
    let clean = management_region(&posture_table(), |e| {
        strings(&e["failing_rules"]).is_empty()
    });
    let emu = Emulator::seeded();
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--regions", &clean, "--policy"])
        .arg(emu.policy()));
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 targets: 1 compliant"), "{}", r.stdout);
}

#[test]
fn fail_on_threshold_controls_the_findings_exit_code() {
    // aws/xray (us-west-2): a high failure.
    let managed = management_region(&posture_table(), |e| e["posture"] == "aws-managed-key");
    let emu = Emulator::seeded();
    let high = run(emu
        .xray_cmk()
        .args(["audit", "--regions", &managed, "--fail-on", "high"]));
    assert_eq!(high.code, 1, "{}", high.stdout);
    let critical =
        run(emu
            .xray_cmk()
            .args(["audit", "--regions", &managed, "--fail-on", "critical"]));
    assert_eq!(critical.code, 0, "{}", critical.stdout);
}

/// A usage or configuration error: exit code 2, and stderr says `says`.
fn assert_refused(r: &common::Run, says: &str) {
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(says), "{}", r.stderr);
}

/// A configuration problem told in one line.
fn assert_one_clear_line(r: &common::Run, says: &str) {
    assert_refused(r, says);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn unknown_profile_is_one_clear_line() {
    let emu = Emulator::start();
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--profile", "does-not-exist"]));
    assert_one_clear_line(&r, "profile `does-not-exist`");
}

#[test]
fn no_credentials_is_one_clear_line() {
    let r = run(bare_xray_cmk().args(["audit", "--regions", "us-east-1"]));
    assert_one_clear_line(&r, "error: no AWS credentials found");
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
    assert_one_clear_line(&r, "could not reach AWS");
}

#[test]
fn malformed_region_is_a_usage_error() {
    let r = run(bare_xray_cmk().args(["audit", "--regions", "us-east-1,eu_west_1"]));
    assert_refused(&r, "not a valid AWS region name");
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
    assert_refused(&r, "known rules: xray-default-encryption");
    // Diagnostic codes are documented the same way.
    let r = run(bare_xray_cmk().args(["explain", "iac-parse-error"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("## How to fix"), "{}", r.stdout);
}

/// Every rule fires exactly on the seeded targets, and passes somewhere else.
#[test]
fn every_rule_fires_exactly_on_the_seeded_targets() {
    // The failing rules of each management region, audited with full access and the demo policy
    // (the region denied to the audit role included); regions not listed were never configured.
    let table = posture_table();
    let expected_failures: Vec<(&str, Vec<&str>)> = management_postures(&table)
        .into_iter()
        .map(|e| {
            (
                e["region"].as_str().expect("region"),
                strings(&e["failing_rules"]),
            )
        })
        .collect();
    let never_configured = strings(&table["default"]["failing_rules"]);
    let expected_errors: Vec<(&str, Vec<&str>)> = management_postures(&table)
        .into_iter()
        .map(|e| {
            let rules = e.get("error_rules").map(strings).unwrap_or_default();
            (e["region"].as_str().expect("region"), rules)
        })
        .collect();
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let policy = emu.policy();
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--format", "json", "--policy"])
        .arg(&policy));
    // Even with full access a key whose policy names neither the account nor the caller cannot
    // be read: its rules are `error`, so the scan is incomplete.
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    let doc = stable_json(&r.stdout);
    let results = doc["results"].as_array().expect("results");
    let regions = doc["scope"]["regions"].as_array().expect("regions");
    for region in regions.iter().map(|r| r.as_str().expect("region")) {
        let mut failing: Vec<&str> = results
            .iter()
            .filter(|x| x["region"] == region && x["status"] == "fail")
            .map(|x| x["rule"].as_str().expect("rule"))
            .collect();
        failing.sort_unstable();
        let mut expected: Vec<&str> = expected_failures
            .iter()
            .find(|(r, _)| *r == region)
            .map_or(&never_configured, |(_, rules)| rules)
            .clone();
        expected.sort_unstable();
        assert_eq!(failing, expected, "{region}");
        let mut errors: Vec<&str> = results
            .iter()
            .filter(|x| x["region"] == region && x["status"] == "error")
            .map(|x| x["rule"].as_str().expect("rule"))
            .collect();
        errors.sort_unstable();
        let mut expected: Vec<&str> = expected_errors
            .iter()
            .find(|(r, _)| *r == region)
            .map(|(_, rules)| rules.clone())
            .unwrap_or_default();
        expected.sort_unstable();
        assert_eq!(errors, expected, "errors in {region}");
    }

    // Each deep-check rule both fires and passes somewhere in the demo organization. (X-Ray
    // refuses asymmetric keys, so xray-key-not-symmetric cannot fire live; its unit tests cover it.)
    let deep_checks = xray_cmk_core::rules::ALL
        .iter()
        .map(|r| r.meta())
        .filter(|m| m.since != "0.1.0")
        // Judge Terraform root modules and CloudFormation templates only (e2e_iac and
        // e2e_iac_cfn cover them).
        .filter(|m| m.id != "tf-xray-encryption-missing" && m.id != "cfn-xray-encryption-missing")
        // The demo has no key left without its alias; e2e_remediate makes some (a crash, a race).
        .filter(|m| m.id != "kms-orphaned-xray-cmk-key");
    for rule in deep_checks.map(|m| m.id) {
        let statuses: Vec<&str> = results
            .iter()
            .filter(|x| x["rule"] == rule.as_str())
            .map(|x| x["status"].as_str().expect("status"))
            .collect();
        assert!(statuses.contains(&"fail"), "{rule} never fires");
        assert!(statuses.contains(&"pass"), "{rule} never passes");
    }

    // Keys are reported under the seeded key ARNs.
    for key in seed["keys"].as_array().expect("keys") {
        if key["account_id"] != "123456789012" {
            continue;
        }
        let arn = key["key_arn"].as_str().expect("arn");
        assert!(
            results.iter().any(|x| x["key"] == arn),
            "{arn} not in results"
        );
    }
}

/// Audits a member account through its OrganizationAccountAccessRole.
fn member_audit(emu: &Emulator, account: &str, regions: &str) -> serde_json::Value {
    let config = emu.dir.path().join("member-config");
    let base = std::fs::read_to_string(emu.aws_config()).expect("aws config");
    std::fs::write(
        &config,
        format!(
            "{base}\n[profile member]\nrole_arn = arn:aws:iam::{account}:role/OrganizationAccountAccessRole\nsource_profile = xray-cmk-demo-admin\nregion = us-east-1\n"
        ),
    )
    .expect("write config");
    let r = run(emu
        .xray_cmk()
        .env("AWS_CONFIG_FILE", &config)
        .args([
            "audit",
            "--profile",
            "member",
            "--format",
            "json",
            "--regions",
            regions,
            "--policy",
        ])
        .arg(emu.policy()));
    let doc = stable_json(&r.stdout);
    // The policy file names the security account's reader, whose own IAM policies must allow it
    // across accounts: from inside a member, that account cannot be reached to ask IAM's
    // simulator, which is unknown (3), and the only unknown.
    let errors: Vec<&Value> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|x| x["status"] == "error")
        .collect();
    for x in &errors {
        let message = x["message"].as_str().unwrap_or_default();
        assert!(
            x["rule"] == "kms-key-policy-xray-access"
                && message.contains("role/SecurityAudit kms:Decrypt")
                && message.contains("the IAM policy simulator could not answer"),
            "{x}"
        );
    }
    let expected = if errors.is_empty() { [0, 1] } else { [3, 3] };
    assert!(expected.contains(&r.code), "stderr: {}", r.stderr);
    assert_eq!(doc["scope"]["accounts"][0], account);
    doc
}

#[test]
fn exemptions_suppress_while_active_and_come_back_when_expired() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let member = |name: &str| member_id(&seed, name);

    let dev = member_audit(&emu, &member("workload-dev"), "us-east-1");
    let rotation = dev["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|x| x["rule"] == "kms-rotation-disabled")
        .expect("rotation result");
    assert_eq!(rotation["status"], "fail");
    assert_eq!(rotation["suppressed"], true);
    assert_eq!(rotation["exemption"]["expires"], "2099-12-31");
    assert_eq!(dev["summary"]["results"]["suppressed"], 1);

    let prod = member_audit(&emu, &member("workload-prod"), "eu-west-1");
    let managed = prod["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|x| x["rule"] == "xray-aws-managed-key")
        .expect("aws managed result");
    assert_eq!(managed["status"], "fail");
    assert_eq!(managed["suppressed"], false);
    assert_eq!(managed["exemption"]["expired"], true);
    assert_eq!(managed["exemption"]["expires"], "2026-01-31");
}

#[test]
fn policy_init_and_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("xray-cmk.toml");
    let r = run(bare_xray_cmk().arg("policy").arg("init").arg(&path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(bare_xray_cmk().arg("policy").arg("check").arg(&path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(bare_xray_cmk().arg("policy").arg("init").arg(&path));
    assert_eq!(r.code, 2, "refuses to overwrite");

    std::fs::write(
        &path,
        "[rotation]\nmax_period_days = 30\n\n[tags]\nrequird = [\"owner\"]\n",
    )
    .expect("write");
    let r = run(bare_xray_cmk().arg("policy").arg("check").arg(&path));
    assert_eq!(r.code, 2);
    let shown = r.stderr.replace(&path.display().to_string(), "POLICY");
    insta::assert_snapshot!(shown, @r"
    error: invalid policy file:
    POLICY:2:19: rotation.max_period_days: must be between 90 and 2560 days, the rotation periods KMS allows; found 30
    POLICY:5:1: tags.requird: unknown key, did you mean `required`?
    ");
    // An invalid policy stops an audit before any AWS call.
    let r = run(bare_xray_cmk().args(["audit", "--policy"]).arg(&path));
    assert_refused(&r, "rotation.max_period_days");
}

/// The README's rule table lists every rule with its severity, so the docs cannot drift.
#[test]
fn readme_lists_every_rule() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).expect("README");
    for m in xray_cmk_core::rules::EVERY.iter().map(|r| r.meta()) {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", m.id)))
            .unwrap_or_else(|| panic!("README has no row for {}", m.id));
        assert!(row.ends_with(&format!("| {} |", m.severity)), "{row}");
    }
}

const TRAIL_RULE: &str = "cloudtrail-kms-events-not-logged";

/// A README row's failing rules: the table's, but the CloudTrail rule, which the sentence below
/// the table covers; critical ones say so.
fn readme_failing(entry: &Value) -> String {
    let mut text = if entry["denied"] == "audit-role" {
        "`error` for every rule that reads the region, so exit code 3".to_owned()
    } else {
        let rules: Vec<String> = strings(&entry["failing_rules"])
            .into_iter()
            .filter(|r| *r != TRAIL_RULE)
            .map(|id| {
                let meta = xray_cmk_core::rules::ALL
                    .iter()
                    .map(|r| r.meta())
                    .find(|m| m.id == id)
                    .unwrap_or_else(|| panic!("the posture table names an unknown rule {id}"));
                if meta.severity == xray_cmk_core::Severity::Critical {
                    format!("`{id}` (critical)")
                } else {
                    format!("`{id}`")
                }
            })
            .collect();
        if rules.is_empty() {
            "none".to_owned()
        } else {
            rules.join(", ")
        }
    };
    if let Some(why) = entry["readme"]["why"].as_str() {
        text.push_str(&format!(" ({why})"));
    }
    text
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
fn english_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The README's demo table is the posture table, rendered: the audit role's view of each
/// management region (the denied one is `error`), then the never-configured rest.
#[test]
fn readme_demo_table_is_the_posture_table() {
    let table = posture_table();
    let mut rows: Vec<String> = management_postures(&table)
        .into_iter()
        .map(|e| {
            format!(
                "| `{}` | {} | {} |",
                e["region"].as_str().expect("region"),
                e["readme"]["posture"].as_str().expect("readme.posture"),
                readme_failing(e)
            )
        })
        .collect();
    let default = &table["default"];
    rows.push(format!(
        "| {} | {} | {} |",
        default["readme"]["region"].as_str().expect("readme.region"),
        default["readme"]["posture"]
            .as_str()
            .expect("readme.posture"),
        readme_failing(default)
    ));
    let without_trail_rule: Vec<&str> = management_postures(&table)
        .into_iter()
        .filter(|e| !strings(&e["failing_rules"]).contains(&TRAIL_RULE))
        .map(|e| e["region"].as_str().expect("region"))
        .collect();
    let sentence = format!(
        "Every region except {} also fails `{TRAIL_RULE}`:",
        english_list(&without_trail_rule)
    );

    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).expect("README");
    let shown: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "| region | seeded posture | failing rules |")
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(
        shown == rows && readme.contains(&sentence),
        "README.md's demo table is not emulator/xray_cmk_emulator/data/demo-posture.json; \
         from that file it reads:\n\n| region | seeded posture | failing rules |\n|---|---|---|\n{}\n\n{sentence}",
        rows.join("\n")
    );
}

/// Parses a JSON Lines stream: the results, then the summary that must close it.
fn jsonl(stdout: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary["type"], "summary");
    assert!(lines.iter().all(|l| l["type"] == "result"));
    (lines, summary)
}

#[test]
fn org_audit_covers_every_account_and_an_unassumable_one_is_an_error_never_a_pass() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let legacy = member_id(&seed, "legacy");
    let r = run(emu
        .xray_cmk()
        .args(["audit", "--org", "--format", "jsonl", "--policy"])
        .arg(emu.policy()));
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    let (results, summary) = jsonl(&r.stdout);

    let mut expected: Vec<String> = seed["member_accounts"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["account_id"].as_str().expect("id").to_owned())
        .collect();
    expected.push(
        seed["management_account_id"]
            .as_str()
            .expect("mgmt")
            .to_owned(),
    );
    expected.sort();
    assert_eq!(summary["scope"]["accounts"], serde_json::json!(expected));
    let seen: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|x| x["account"].as_str().expect("account"))
        .collect();
    assert_eq!(seen.len(), expected.len(), "results for every account");

    let legacy_results: Vec<_> = results.iter().filter(|x| x["account"] == legacy).collect();
    assert!(!legacy_results.is_empty());
    for x in &legacy_results {
        assert_eq!(x["status"], "error", "{x}");
        assert_eq!(x["region"], "*");
        assert!(
            x["message"]
                .as_str()
                .expect("message")
                .contains("sts:AssumeRole"),
            "{x}"
        );
    }
    // Summary counts agree with the streamed results.
    let count = |s: &str| results.iter().filter(|x| x["status"] == s).count();
    assert_eq!(summary["summary"]["results"]["error"], count("error"));
    assert_eq!(
        summary["summary"]["results"]["fail"].as_u64().expect("n")
            + summary["summary"]["results"]["suppressed"]
                .as_u64()
                .expect("n"),
        count("fail") as u64
    );
    // The closing line on stderr.
    assert!(r.stderr.contains("targets in 5 accounts"), "{}", r.stderr);
    assert!(r.stderr.contains("API calls"), "{}", r.stderr);
}

#[test]
fn ou_walks_children_and_accounts_can_be_listed_or_excluded() {
    let emu = Emulator::seeded();
    let seed = emu.seed();
    let ou = seed["organizational_units"]
        .as_array()
        .expect("ous")
        .iter()
        .find(|o| o["name"] == "workloads")
        .and_then(|o| o["id"].as_str())
        .expect("workloads ou")
        .to_owned();
    let (prod, dev, legacy) = (
        member_id(&seed, "workload-prod"),
        member_id(&seed, "workload-dev"),
        member_id(&seed, "legacy"),
    );
    let scope = |extra: &[&str]| {
        let r = run(emu
            .xray_cmk()
            .args([
                "audit",
                "--format",
                "jsonl",
                "--regions",
                "us-east-1",
                "--quiet",
            ])
            .args(extra));
        assert!(matches!(r.code, 0 | 1 | 3), "{}", r.stderr);
        jsonl(&r.stdout).1["scope"]["accounts"].clone()
    };
    // workloads holds prod and dev, and its child OU sandbox holds legacy.
    let mut under = vec![prod.clone(), dev.clone(), legacy.clone()];
    under.sort();
    assert_eq!(scope(&["--ou", &ou]), serde_json::json!(under));
    let mut two = vec![prod.clone(), dev.clone()];
    two.sort();
    assert_eq!(
        scope(&["--ou", &ou, "--exclude-accounts", &legacy]),
        serde_json::json!(two)
    );
    let file = emu.dir.path().join("accounts.txt");
    std::fs::write(&file, format!("# prod only\n{prod}\n")).expect("write");
    assert_eq!(
        scope(&["--accounts", &format!("@{}", file.display())]),
        serde_json::json!([prod])
    );
    let r = run(emu.xray_cmk().args(["audit", "--accounts", "12345"]));
    assert_refused(&r, "12-digit");
}

#[test]
fn role_name_and_external_id_reach_the_trust_policy() {
    let emu = Emulator::seeded();
    let prod = member_id(&emu.seed(), "workload-prod");
    let audit_policy =
        common::repo_root().join("emulator/xray_cmk_emulator/data/iam-policy-audit.json");
    // A role in prod that the management account may assume only with the external id, with
    // the permissions `iam-policy --mode audit` prints.
    emu.python(&format!(
        r#"
import boto3, json, pathlib
creds = boto3.client("sts").assume_role(
    RoleArn="arn:aws:iam::{prod}:role/OrganizationAccountAccessRole", RoleSessionName="setup")["Credentials"]
iam = boto3.client("iam", aws_access_key_id=creds["AccessKeyId"],
    aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
iam.create_role(RoleName="ExternalAuditor", AssumeRolePolicyDocument=json.dumps({{
    "Version": "2012-10-17",
    "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::123456789012:root"}},
        "Action": "sts:AssumeRole", "Condition": {{"StringEquals": {{"sts:ExternalId": "s3cret"}}}}}}]}}))
iam.put_role_policy(RoleName="ExternalAuditor", PolicyName="XrayCmkAudit",
    PolicyDocument=pathlib.Path({audit_policy:?}).read_text())
"#
    ));
    // The demo policy file without its reader in the security account, which ExternalAuditor
    // cannot reach (its IAM policies could not be simulated: unknown, exit 3).
    let local_policy = emu.dir.path().join("no-cross-account-readers.toml");
    let text = std::fs::read_to_string(emu.policy()).expect("policy");
    std::fs::write(
        &local_policy,
        text.lines()
            .filter(|l| !l.starts_with("cross_account_readers"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write policy");
    let audit = |extra: &[&str]| {
        run(emu
            .xray_cmk()
            .args([
                "audit",
                "--accounts",
                &prod,
                "--role-name",
                "ExternalAuditor",
            ])
            .args(["--regions", "us-east-1", "--format", "jsonl", "--quiet"])
            .arg("--policy")
            .arg(&local_policy)
            .args(extra))
    };
    let without = audit(&[]);
    assert_eq!(without.code, 3, "{}", without.stderr);
    let (results, _) = jsonl(&without.stdout);
    assert!(results.iter().all(|x| x["status"] == "error"));
    assert!(results[0]["message"]
        .as_str()
        .expect("message")
        .contains("role/ExternalAuditor"));

    let with = audit(&["--external-id", "s3cret"]);
    assert!(matches!(with.code, 0 | 1), "{}", with.stderr);
    let (results, _) = jsonl(&with.stdout);
    assert!(!results.is_empty() && results.iter().all(|x| x["status"] != "error"));
}

/// `iam-policy --mode audit` lists exactly the actions an audit calls: an organization scan (with
/// region discovery, an unassumable account, Transaction Search, trails, and the policy
/// simulator for a root-delegated key), an OU walk, the guardrail's rules, and X-Ray's
/// configuration read from an AWS Config aggregator.
#[test]
fn iam_policy_and_the_calls_an_audit_makes_stay_in_step() {
    let r = run(bare_xray_cmk().args(["iam-policy", "--mode", "audit"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let policy: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON policy");
    let listed: std::collections::BTreeSet<String> = policy["Statement"][0]["Action"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a.as_str().expect("action").to_owned())
        .collect();

    let emu = Emulator::seeded();
    let seed = emu.seed();
    let ou = seed["organizational_units"][0]["id"]
        .as_str()
        .expect("ou")
        .to_owned();
    // An enabled EventBridge rule with a pattern, whose targets the guardrail's rule lists.
    emu.python(
        r#"
import boto3
boto3.client("events").put_rule(Name="any-xray", EventPattern='{"source":["aws.xray"]}', State="ENABLED")
boto3.client("config").put_configuration_aggregator(ConfigurationAggregatorName="org",
    OrganizationAggregationSource={"RoleArn": "arn:aws:iam::123456789012:role/ConfigAggregator", "AllAwsRegions": True})
"#,
    );
    let mut called = std::collections::BTreeSet::new();
    // With the demo policy file, whose principals a root-delegated key leaves to IAM.
    let policy = emu.policy().display().to_string();
    for (i, extra) in [
        vec!["--org", "--policy", policy.as_str()],
        vec!["--ou", ou.as_str(), "--regions", "us-east-1"],
        // The guardrail's rules, which only `--rules` selects.
        vec!["--org", "--rules", "guard-*", "--regions", "us-east-1"],
        // X-Ray's configuration from an AWS Config aggregator.
        vec![
            "--org",
            "--from-config-aggregator",
            "org",
            "--regions",
            "us-east-1",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let stats = emu.dir.path().join(format!("stats-{i}.json"));
        let r = run(emu
            .xray_cmk()
            .args(["audit", "--format", "jsonl", "--quiet", "--stats-out"])
            .arg(&stats)
            .args(extra));
        assert!(matches!(r.code, 1 | 3), "{}", r.stderr);
        let stats: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("json");
        called.extend(
            stats["operations"]
                .as_object()
                .expect("operations")
                .keys()
                .cloned(),
        );
        assert!(stats["api_calls"]["xray"].as_u64().expect("count") > 0);
    }
    assert_eq!(called, listed);
}

#[test]
fn plan_lists_steps_with_preconditions_and_changes_nothing() {
    let emu = Emulator::seeded();
    let regions = ["--regions", "us-east-1,us-east-2,eu-west-1,eu-central-1"];
    let audit = || {
        let r = run(emu
            .xray_cmk()
            .args(["audit", "--format", "json", "--policy"])
            .arg(emu.policy())
            .args(regions));
        stable_json(&r.stdout)["results"].clone()
    };
    let before = audit();
    let out = emu.dir.path().join("plan.json");
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--format", "json", "--policy"])
        .arg(emu.policy())
        .args(regions)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan JSON");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("saved")).expect("json");
    assert_eq!(plan, saved);
    assert_eq!(plan["schema_version"], 3);
    let steps = |region: &str| -> Vec<String> {
        plan["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["region"] == region)
            .expect("target")["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["action"]["type"].as_str().expect("type").to_owned())
            .collect()
    };
    assert!(steps("us-east-1").is_empty(), "the good CMK needs nothing");
    let replace = [
        "create_key",
        "enable_rotation",
        "set_xray_encryption",
        "verify",
    ];
    assert_eq!(steps("us-east-2"), replace, "default encryption");
    assert_eq!(steps("eu-central-1"), replace, "a disabled key is replaced");
    assert_eq!(
        steps("eu-west-1"),
        ["enable_rotation"],
        "rotation off is fixed in place"
    );
    // The generated key policy names the policy file's principals.
    let east2 = plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["region"] == "us-east-2")
        .expect("us-east-2");
    let policy = east2["steps"][0]["action"]["policy"].to_string();
    assert!(
        policy.contains("role/XrayAdmin") && policy.contains("kms:ViaService"),
        "{policy}"
    );
    // The table a person reviews: steps with their conditions, and the cost line.
    let r = run(emu
        .xray_cmk()
        .args(["plan", "--policy"])
        .arg(emu.policy())
        .args(regions));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("if: X-Ray is still NONE"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("3 targets with changes · 2 new keys · KMS cost: +$2 a month now"),
        "{}",
        r.stdout
    );
    // Nothing changed.
    assert_eq!(audit(), before);
}
