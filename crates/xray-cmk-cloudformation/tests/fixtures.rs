//! Every fixture template through the real reader and the real rules: what each finds, where.
//! Each fixture directory holds a passing, a failing and an unknown case.

mod common;

use common::{fixtures, judge, listing, scan_in};
use xray_cmk_cloudformation::{read_parameters, Parameters};
use xray_cmk_core::{Finding, Status};

fn run(paths: &[&str], params: &Parameters) -> Vec<Finding> {
    let scan = scan_in(&fixtures(), paths, params);
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    judge(&scan)
}

fn status(findings: &[Finding], file: &str, rule: &str) -> Vec<Status> {
    findings
        .iter()
        .filter(|f| f.rule() == rule && f.location().is_some_and(|l| l.file.ends_with(file)))
        .map(|f| f.status())
        .collect()
}

macro_rules! fixture {
    ($test:ident, $dir:literal) => {
        #[test]
        fn $test() {
            let findings = run(&[$dir], &Parameters::default());
            insta::assert_snapshot!($dir, listing(&findings));
        }
    };
}

fixture!(yaml_short_form, "yaml-short");
fixture!(yaml_long_form, "yaml-long");
fixture!(json_templates, "json");
fixture!(sam_with_globals, "sam-globals");
fixture!(cdk_output, "cdk");
fixture!(conditions_mappings_parameters, "conditions");
fixture!(nested_stacks, "nested");

const RULE: &str = "cfn-xray-encryption-missing";

#[test]
fn each_format_has_its_pass_fail_and_unknown() {
    let all = run(
        &["yaml-short", "yaml-long", "json", "sam-globals"],
        &Parameters::default(),
    );
    for dir in ["yaml-short", "yaml-long", "json", "sam-globals"] {
        let ext = if dir == "json" { "json" } else { "yaml" };
        assert_eq!(
            status(&all, &format!("{dir}/pass.{ext}"), RULE),
            [Status::Pass],
            "{dir}"
        );
        let fail = &format!("{dir}/fail.{ext}");
        let failed = all
            .iter()
            .any(|f| f.status() == Status::Fail && f.location().is_some_and(|l| l.file == *fail));
        assert!(failed, "{dir}: the failing case fails");
        let unknown = &format!("{dir}/unknown.{ext}");
        let errors = all.iter().any(|f| {
            f.status() == Status::Error && f.location().is_some_and(|l| l.file == *unknown)
        });
        assert!(errors, "{dir}: the unknown case is an error");
        let passes = all.iter().any(|f| {
            f.status() == Status::Pass
                && f.rule() != "kms-key-policy-public"
                && f.location().is_some_and(|l| l.file == *unknown)
                && f.rule() != RULE
        });
        assert!(
            !passes || dir == "yaml-long",
            "{dir}: nothing unknown passes"
        );
    }
    // Tracing that only an import decides, with the encryption set: the template is right
    // either way, but the key it names is another stack's, so every key rule is an error.
    assert_eq!(status(&all, "yaml-long/unknown.yaml", RULE), [Status::Pass]);
    assert_eq!(
        status(&all, "yaml-long/unknown.yaml", "xray-key-not-symmetric"),
        [Status::Error]
    );
    assert_eq!(status(&all, "yaml-short/fail.yaml", RULE), [Status::Fail]);
    assert_eq!(
        status(&all, "json/fail.json", "xray-aws-managed-key"),
        [Status::Fail]
    );
}

#[test]
fn a_custom_resource_setting_none_manages_the_encryption_and_fails_it() {
    let f = run(&["yaml-long/none.yaml"], &Parameters::default());
    assert_eq!(status(&f, "none.yaml", RULE), [Status::Pass]);
    assert_eq!(
        status(&f, "none.yaml", "xray-default-encryption"),
        [Status::Fail]
    );
}

#[test]
fn sam_globals_trace_every_function_that_does_not_turn_it_off() {
    let f = run(&["sam-globals/fail.yaml"], &Parameters::default());
    let miss = f.iter().find(|f| f.rule() == RULE).expect("judged");
    assert!(
        miss.message().contains(
            "Orders (AWS::Serverless::Function) Tracing (from Globals): Active (and 2 more)"
        ),
        "{}",
        miss.message()
    );
}

#[test]
fn cdk_findings_name_the_construct() {
    let f = run(&["cdk"], &Parameters::default());
    let miss = f
        .iter()
        .find(|f| f.rule() == RULE && f.status() == Status::Fail)
        .expect("the traced stack fails");
    assert!(
        miss.message().contains("TracedStack/Handler/Resource"),
        "{}",
        miss.message()
    );
    let rotation = f
        .iter()
        .find(|f| f.rule() == "kms-rotation-disabled" && f.status() == Status::Fail)
        .expect("the key without rotation fails");
    assert!(
        rotation
            .resource()
            .contains("TracedStack/TraceKey/Resource"),
        "{}",
        rotation.resource()
    );
    assert_eq!(
        rotation
            .location()
            .as_ref()
            .map(|l| (l.file.as_str(), l.line)),
        Some(("cdk/cdk.out/TracedStack.template.json", 3))
    );
}

#[test]
fn parameters_given_decide_conditions() {
    let dir = fixtures().join("conditions");
    let by_default = run(&["conditions"], &Parameters::default());
    assert_eq!(status(&by_default, "template.yaml", RULE), [Status::Error]);
    let owner = read_parameters(&dir.join("owner.params")).expect("params");
    let given = run(&["conditions"], &owner);
    assert_eq!(status(&given, "template.yaml", RULE), [Status::Pass]);
    insta::assert_snapshot!("conditions-owner-given", listing(&given));
    let dev = read_parameters(&dir.join("dev.json")).expect("params");
    let dev = run(&["conditions"], &dev);
    assert!(
        status(&dev, "template.yaml", RULE).is_empty(),
        "dev does not trace"
    );
    insta::assert_snapshot!("conditions-dev", listing(&dev));
}

/// `iac generate --format cloudformation`: the template for the fixture policy, as written, and
/// every rule passes on it (the key's rules, X-Ray's rules on the remediation's target, and
/// `cfn-xray-encryption-missing` beside the Lambda-free template).
#[test]
fn the_generated_template_is_as_written_and_passes_every_rule() {
    let text = xray_cmk_cloudformation::generate::template(&common::policy());
    insta::assert_snapshot!("generated-template", text);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("xray-cmk.template.yaml"), &text).expect("write");
    let scan = common::scan_in(dir.path(), &["."], &Parameters::default());
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    let findings = common::judge(&scan);
    assert!(findings.len() >= 10, "{}", common::listing(&findings));
    assert!(
        findings.iter().all(|f| f.status() == Status::Pass),
        "{}",
        common::listing(&findings)
    );
}
