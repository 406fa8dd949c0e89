//! Every fixture module through the real loader and the real rules: what each finds, where.
//! The snapshots list every result as `file:line:col status rule resource`.

mod common;

use std::path::PathBuf;

use common::{fixtures, listing, policy};
use xray_cmk_core::{evaluate, rules, Context, Date, Finding, OrgPolicy, Status};

/// The working directory is the process's: tests that change it take turns.
static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Scans `paths` (relative to the fixtures directory, so locations are stable) and judges them.
fn judge_with(paths: &[&str], policy: &OrgPolicy) -> Vec<Finding> {
    let _turn = CWD.lock().unwrap_or_else(|p| p.into_inner());
    let here = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(fixtures()).expect("cd fixtures");
    let scan = xray_cmk_terraform::scan(&paths.iter().map(PathBuf::from).collect::<Vec<_>>());
    std::env::set_current_dir(here).expect("cd back");
    scan.judge(policy, Date::new(2026, 12, 1).expect("date"), rules::ALL)
}

fn judge(path: &str) -> Vec<Finding> {
    judge_with(&[path], &policy())
}

fn status_of(findings: &[Finding], rule: &str, resource: &str) -> Option<Status> {
    findings
        .iter()
        .find(|f| f.rule() == rule && f.resource().ends_with(resource))
        .map(|f| f.status())
}

macro_rules! fixture {
    ($test:ident, $dir:literal) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!($dir, listing(&judge($dir)));
        }
    };
}

fixture!(default_encryption, "default-encryption");
fixture!(aws_managed, "aws-managed");
fixture!(rotation, "rotation");
fixture!(policies, "policies");
fixture!(key_state, "key-state");
fixture!(asymmetric, "asymmetric");
fixture!(tracing_missing, "tracing-missing");
fixture!(no_tracing, "no-tracing");
fixture!(module_tree, "module-tree");
fixture!(unknowns, "unknowns");
fixture!(count_for_each, "count-for-each");
fixture!(tfvars, "tfvars");
fixture!(syntax_error, "syntax-error");
fixture!(plan_json, "plan-json/plan.json");
fixture!(sibling_modules, "sibling-modules");
fixture!(empty_policy, "empty-policy");
fixture!(tracing_unknown, "tracing-unknown");
fixture!(module_calls, "module-calls");

/// Everything that identifies and decides each result, for comparing scans. A set: a result
/// identical in every respect in two directories (the AWS managed key of one account and
/// region, which two modules use) is one result of the tree.
fn verdicts(findings: &[Finding]) -> std::collections::BTreeSet<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {}/{} {} {:?} {}",
                f.fingerprint(),
                f.rule(),
                f.status().as_str(),
                f.confidence().as_str(),
                f.account(),
                f.region(),
                f.resource(),
                f.location(),
                f.message()
            )
        })
        .collect()
}

/// The directories directly under `dir` (relative to the fixtures directory).
fn subdirectories(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .expect("read_dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if dir == "." {
                name
            } else {
                format!("{dir}/{name}")
            }
        })
        .collect();
    out.sort();
    out
}

/// Scanning a tree judges each module exactly as scanning its directory alone: nothing declared
/// in one module (`aws_kms_key.this`, `aws_xray_encryption_config.this`) stands for another's.
fn assert_tree_is_the_union_of_its_parts(dir: &str) {
    let whole = verdicts(&judge(dir));
    let parts: Vec<Finding> = subdirectories(dir).iter().flat_map(|d| judge(d)).collect();
    let parts = verdicts(&parts);
    if whole != parts {
        let only = |a: &std::collections::BTreeSet<String>,
                    b: &std::collections::BTreeSet<String>| {
            a.difference(b).cloned().collect::<Vec<String>>()
        };
        panic!(
            "only in the tree: {:#?}\nonly in the parts: {:#?}",
            only(&whole, &parts),
            only(&parts, &whole)
        );
    }
}

#[test]
fn sibling_modules_with_the_same_addresses_are_judged_apart() {
    assert_tree_is_the_union_of_its_parts("sibling-modules");
    let f = judge("sibling-modules");
    let key = |dir: &str| format!("key/sibling-modules/{dir}/aws_kms_key.this");
    let cfg = |dir: &str| format!("sibling-modules/{dir}/aws_xray_encryption_config.this");
    assert_eq!(
        status_of(&f, "kms-rotation-disabled", &key("rotation-off")),
        Some(Status::Fail)
    );
    assert_eq!(
        status_of(&f, "kms-rotation-disabled", &key("disabled")),
        Some(Status::Pass)
    );
    assert_eq!(
        status_of(&f, "xray-key-unusable", &cfg("disabled")),
        Some(Status::Fail),
        "the disabled key is the one its own module's X-Ray uses"
    );
    assert_eq!(
        status_of(&f, "xray-key-unusable", &cfg("rotation-off")),
        Some(Status::Pass)
    );
    let keys: std::collections::BTreeSet<&str> = f
        .iter()
        .filter(|f| f.rule() == "kms-rotation-disabled")
        .map(|f| f.resource())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[test]
fn the_whole_fixture_tree_is_the_union_of_its_directories() {
    assert_tree_is_the_union_of_its_parts(".");
}

#[test]
fn an_empty_or_null_policy_is_kms_default_key_policy() {
    let f = judge("empty-policy");
    assert!(
        f.iter().all(|f| !f.message().contains("JSON")),
        "{:#?}",
        f.iter().map(|f| f.message()).collect::<Vec<_>>()
    );
    for key in ["empty", "null"] {
        assert_eq!(
            status_of(&f, "kms-key-policy-public", &format!("aws_kms_key.{key}")),
            Some(Status::Pass),
            "{key}"
        );
    }
    assert_eq!(
        status_of(&f, "kms-key-policy-default-only", "aws_kms_key.empty"),
        Some(Status::Fail)
    );
}

#[test]
fn tracing_only_known_at_apply_is_unknown_and_remote_inputs_are_read_by_name() {
    let f = judge("tracing-unknown");
    let verdict = |dir: &str| {
        f.iter()
            .find(|f| {
                f.rule() == "tf-xray-encryption-missing"
                    && f.resource() == format!("tracing-unknown/{dir}")
            })
            .map(|f| (f.status(), f.confidence(), f.message().to_owned()))
    };
    for (dir, says) in [
        ("var-mode", "tracing_config mode"),
        ("dynamic-block", "dynamic \"tracing_config\""),
        ("config-count", "count is unknown"),
        ("config-for-each", "for_each is unknown"),
        ("remote-unknown", "var.tracing has no value"),
    ] {
        let (status, confidence, message) =
            verdict(dir).unwrap_or_else(|| panic!("{dir}: no result"));
        assert_eq!(status, Status::Error, "{dir}: {message}");
        assert_eq!(confidence, xray_cmk_core::Confidence::Low, "{dir}");
        assert!(message.contains(says), "{dir}: {message}");
    }
    for (dir, says) in [
        ("remote-active", "module.lambda tracing_mode = \"Active\""),
        ("remote-local-var", "module.flow enable_xray_tracing = true"),
    ] {
        let (status, _, message) = verdict(dir).unwrap_or_else(|| panic!("{dir}: no result"));
        assert_eq!(status, Status::Fail, "{dir}: {message}");
        assert!(message.contains(says), "{dir}: {message}");
    }
    assert_eq!(verdict("remote-off"), None, "tracing is off: not judged");
}

/// Checkov's published CKV_AWS_7 ("Ensure rotation for customer created CMKs is enabled"):
/// `enable_key_rotation = true` passes, false or absent fails, and keys that are not symmetric
/// encryption keys are not applicable.
#[test]
fn rotation_verdicts_match_checkov_ckv_aws_7() {
    let f = judge("rotation");
    let rotation =
        |key: &str| status_of(&f, "kms-rotation-disabled", &format!("aws_kms_key.{key}"));
    assert_eq!(rotation("on"), Some(Status::Pass));
    assert_eq!(rotation("off"), Some(Status::Fail));
    assert_eq!(rotation("absent"), Some(Status::Fail));
    assert_eq!(rotation("asymmetric"), None, "not applicable");
    assert_eq!(
        status_of(&f, "kms-rotation-period-too-long", "aws_kms_key.slow"),
        Some(Status::Fail)
    );
}

#[test]
fn the_aws_managed_key_is_recognised_literally_and_through_data_sources() {
    let f = judge("aws-managed");
    for cfg in ["literal", "via_alias", "via_key"] {
        assert_eq!(
            status_of(
                &f,
                "xray-aws-managed-key",
                &format!("aws_xray_encryption_config.{cfg}")
            ),
            Some(Status::Fail),
            "{cfg}"
        );
    }
}

#[test]
fn unknowns_are_errors_never_passes() {
    let f = judge("unknowns");
    assert!(!f.is_empty());
    for finding in &f {
        assert_ne!(finding.status(), Status::Pass, "{finding:?}");
        assert_eq!(finding.status(), Status::Error, "{finding:?}");
        assert_eq!(finding.confidence(), xray_cmk_core::Confidence::Low);
    }
}

#[test]
fn a_syntax_error_is_an_error_at_its_line_and_the_other_files_are_still_scanned() {
    let f = judge("syntax-error");
    let parse = f
        .iter()
        .find(|f| f.rule() == "iac-parse-error")
        .expect("parse error");
    let at = parse.location().expect("location");
    assert_eq!((at.file.as_str(), at.line), ("syntax-error/broken.tf", 5));
    assert_eq!(parse.status(), Status::Error);
    assert_eq!(
        status_of(
            &f,
            "xray-default-encryption",
            "aws_xray_encryption_config.none"
        ),
        Some(Status::Fail),
        "good.tf is still judged"
    );
}

#[test]
fn every_rule_that_reads_terraform_fires_somewhere_in_the_fixtures() {
    let all = judge_with(&["."], &policy());
    let failing: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|f| f.status() == Status::Fail)
        .map(|f| f.rule().as_str())
        .collect();
    for rule in rules::ALL.iter().map(|r| r.meta().id.as_str()) {
        if [
            "xray-spans-not-cmk",
            "cloudtrail-kms-events-not-logged",
            "kms-orphaned-xray-cmk-key",
        ]
        .contains(&rule)
        {
            continue; // live-only inputs: Terraform does not declare them here
        }
        if rule == "cfn-xray-encryption-missing" {
            continue; // CloudFormation templates only: its fixtures are xray-cmk-cloudformation's
        }
        assert!(failing.contains(rule), "{rule} never fails in the fixtures");
    }
}

#[test]
fn the_generated_module_scans_clean() {
    let policy = policy();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = xray_cmk_terraform::generate::module(&policy, "111122223333", "eu-west-1");
    std::fs::write(dir.path().join("main.tf"), &text).expect("write");
    let scan = xray_cmk_terraform::scan(&[dir.path().to_path_buf()]);
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    let findings = evaluate(&Context {
        inventory: &scan.inventory,
        policy: &policy,
        today: Date::new(2026, 12, 1).expect("date"),
        rules: rules::ALL,
    });
    let not_passing: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status() != Status::Pass)
        .collect();
    assert!(not_passing.is_empty(), "{not_passing:#?}\n{text}");
    // Key and X-Ray rules all judged it: nothing was skipped as unknown.
    assert!(findings
        .iter()
        .any(|f| f.rule() == "kms-key-policy-xray-access"));
    assert!(findings.iter().any(|f| f.rule() == "xray-key-not-approved"));
    assert!(text.contains("data \"aws_iam_policy_document\" \"xray_key\""));
    assert!(text.contains("resource \"aws_kms_alias\" \"xray\""));
}

#[test]
fn what_a_called_module_declares_is_as_sure_as_the_call() {
    let f = judge("module-calls");
    let verdict = |env: &str| {
        f.iter()
            .find(|f| {
                f.rule() == "tf-xray-encryption-missing"
                    && f.resource() == format!("module-calls/envs/{env}")
            })
            .map(|f| (f.status(), f.message().to_owned()))
            .unwrap_or_else(|| panic!("{env}: no result"))
    };
    assert_eq!(verdict("always").0, Status::Pass);
    assert_eq!(verdict("never").0, Status::Fail);
    let (status, message) = verdict("maybe");
    assert_eq!(status, Status::Error, "{message}");
    assert!(
        message.contains("module.encryption: count is unknown"),
        "{message}"
    );
    assert!(message.contains("var.encrypt has no value"), "{message}");
    assert!(
        !message.contains('\u{1}') && !message.contains("\\u0001"),
        "no marker shows: {message}"
    );
    let (status, message) = verdict("unread");
    assert_eq!(status, Status::Error, "{message}");
    assert!(message.contains("not scanned"), "{message}");
}

fixture!(module_instances, "module-instances");

/// A module call is judged as Terraform would apply it: the child with the caller's arguments,
/// once per `count`/`for_each` instance, under its full address. The child on its own keeps its
/// defaults.
#[test]
fn module_instances_are_judged_with_their_callers_arguments() {
    let f = judge("module-instances");
    let key = |dir: &str, address: &str| format!("key/module-instances/{dir}/{address}");
    let rotation = |dir: &str, address: &str| {
        status_of(&f, "kms-rotation-disabled", &key(dir, address))
            .unwrap_or_else(|| panic!("no rotation result for {dir} {address}"))
    };
    // The module alone, and called with its defaults: compliant.
    assert_eq!(rotation("modules/key", "aws_kms_key.this"), Status::Pass);
    assert_eq!(
        rotation("envs/secure", "module.xray.module.key.aws_kms_key.this"),
        Status::Pass
    );
    // Its only caller here turns rotation off, two modules down.
    assert_eq!(
        rotation("envs/insecure", "module.xray.module.key.aws_kms_key.this"),
        Status::Fail
    );
    assert_eq!(
        status_of(
            &f,
            "xray-default-encryption",
            "envs/insecure/module.xray.aws_xray_encryption_config.this"
        ),
        Some(Status::Fail),
        "type = \"NONE\" passed by the caller"
    );
    // A disabled key reached through a module output.
    assert_eq!(
        status_of(
            &f,
            "xray-key-unusable",
            "envs/insecure/aws_xray_encryption_config.direct"
        ),
        Some(Status::Fail)
    );
    // for_each and count on module blocks; count = 0 makes nothing.
    assert_eq!(
        rotation("envs/each", "module.keys[\"fast\"].aws_kms_key.this"),
        Status::Pass
    );
    assert_eq!(
        rotation("envs/each", "module.keys[\"slow\"].aws_kms_key.this"),
        Status::Fail
    );
    assert_eq!(
        rotation("envs/each", "module.spare[0].aws_kms_key.this"),
        Status::Pass
    );
    assert_eq!(
        rotation("envs/each", "module.spare[1].aws_kms_key.this"),
        Status::Fail
    );
    assert!(!f.iter().any(|f| f.resource().contains("module.none")));
    // Nested counted calls.
    assert_eq!(
        rotation(
            "envs/nested",
            "module.region[0].module.key.aws_kms_key.this"
        ),
        Status::Pass
    );
    assert_eq!(
        rotation(
            "envs/nested",
            "module.region[1].module.key.aws_kms_key.this"
        ),
        Status::Fail
    );
    // An argument only known at apply time: unknown, never a pass.
    let unpassed = f
        .iter()
        .find(|f| {
            f.rule() == "kms-rotation-disabled"
                && f.resource()
                    .ends_with(&key("envs/unpassed", "module.key.aws_kms_key.this"))
        })
        .expect("unpassed");
    assert_eq!(unpassed.status(), Status::Error);
    assert!(
        unpassed.message().contains("var.rotate has no value"),
        "{}",
        unpassed.message()
    );
}
