//! Nested stacks through the real reader and the real rules: a followed nested stack joins its
//! parent's decision and is judged again under the parent's names; one that is not followed is
//! unknown, never clean; every template is still judged on its own.

mod common;

use common::{fixtures, judge, scan_in};
use xray_cmk_cloudformation::Parameters;
use xray_cmk_core::{Confidence, Finding, Status};

const RULE: &str = "cfn-xray-encryption-missing";

fn run(dir: &std::path::Path, paths: &[&str]) -> Vec<Finding> {
    let scan = scan_in(dir, paths, &Parameters::default());
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    judge(&scan)
}

fn fixture(paths: &[&str]) -> Vec<Finding> {
    run(&fixtures(), paths)
}

/// The results of `rule` about `resource`.
fn of<'f>(findings: &'f [Finding], rule: &str, resource: &str) -> Vec<&'f Finding> {
    findings
        .iter()
        .filter(|f| f.rule() == rule && f.resource() == resource)
        .collect()
}

fn one<'f>(findings: &'f [Finding], rule: &str, resource: &str) -> &'f Finding {
    match of(findings, rule, resource).as_slice() {
        [f] => f,
        other => panic!("{rule} {resource}: {other:#?}"),
    }
}

fn at(f: &Finding) -> (String, u32) {
    let l = f.location().expect("located");
    (l.file.clone(), l.line)
}

const KEY: &str = "arn:aws:kms:-:000000000000:key/";

#[test]
fn tracing_in_the_parent_and_the_remediation_in_a_nested_stack_is_managed() {
    let f = fixture(&["nested/pass"]);
    let verdict = one(&f, RULE, "nested/pass/parent.yaml");
    assert_eq!(verdict.status(), Status::Pass, "{}", verdict.message());
    assert_eq!(at(verdict), ("nested/pass/guard.yaml".into(), 7));
    // The nested stacks are judged from their parent, not as trees of their own.
    assert!(of(&f, RULE, "nested/pass/guard.yaml").is_empty());
    assert!(of(&f, RULE, "nested/pass/keys/key.yaml").is_empty());
    // The key the remediation names is the other nested stack's, through its output.
    let target = "nested/pass/parent.yaml/Guard/nested/pass/guard.yaml/XrayEncryption";
    assert_eq!(
        one(&f, "xray-key-not-approved", target).status(),
        Status::Pass,
        "the key and its alias come from Keys.Outputs.KeyArn"
    );
    // On its own the guard's KeyId is a parameter without a value.
    let alone = one(
        &f,
        "xray-key-unusable",
        "nested/pass/guard.yaml/XrayEncryption",
    );
    assert_eq!(alone.status(), Status::Error);
    assert_eq!(alone.confidence(), Confidence::Low);
}

#[test]
fn a_nested_stack_that_traces_is_managed_by_its_parents_remediation_on_its_key() {
    let f = fixture(&["nested/reverse"]);
    let verdict = one(&f, RULE, "nested/reverse/parent.yaml");
    assert_eq!(verdict.status(), Status::Pass, "{}", verdict.message());
    let target = "nested/reverse/parent.yaml/XrayEncryption";
    assert_eq!(one(&f, "xray-key-unusable", target).status(), Status::Pass);
    assert_eq!(
        one(
            &f,
            "kms-key-missing-tags",
            &format!("{KEY}nested/reverse/parent.yaml/App/nested/reverse/app.yaml/AppKey")
        )
        .status(),
        Status::Pass,
        "the key X-Ray uses is the application's instance"
    );
}

#[test]
fn what_the_parent_passes_fails_at_the_childs_line_under_the_parents_name() {
    let f = fixture(&["nested/fail"]);
    let instance = one(
        &f,
        "kms-rotation-disabled",
        &format!("{KEY}nested/fail/parent.yaml/Keys/nested/fail/key.yaml/Key"),
    );
    assert_eq!(instance.status(), Status::Fail);
    assert_eq!(at(instance), ("nested/fail/key.yaml".into(), 9));
    let alone = one(
        &f,
        "kms-rotation-disabled",
        &format!("{KEY}nested/fail/key.yaml/Key"),
    );
    assert_eq!(
        alone.status(),
        Status::Pass,
        "the key alone rotates by default"
    );
    let verdict = one(&f, RULE, "nested/fail/parent.yaml");
    assert_eq!(verdict.status(), Status::Fail);
    assert_eq!(at(verdict), ("nested/fail/key.yaml".into(), 16));
    assert!(
        verdict
            .message()
            .contains("Keys/Fn (AWS::Lambda::Function)"),
        "{}",
        verdict.message()
    );
    // The stack under a false condition is not deployed: nothing unknown about it.
    assert!(!verdict.message().contains("Off"), "{}", verdict.message());
    // Scanned alone, the child is a tree of its own.
    let alone = fixture(&["nested/fail/key.yaml"]);
    assert_eq!(
        one(&alone, RULE, "nested/fail/key.yaml").status(),
        Status::Fail
    );
}

#[test]
fn what_is_not_followed_is_unknown_never_clean() {
    let f = fixture(&["nested/unknown"]);
    for (template, says) in [
        ("s3.yaml", "is a URL"),
        ("sar.yaml", "Serverless Application Repository"),
        ("missing.yaml", "does not exist"),
        ("cycle.yaml", "a cycle"),
        ("param.yaml", "Condition IsProd is unknown"),
    ] {
        let v = one(&f, RULE, &format!("nested/unknown/{template}"));
        assert_eq!(v.status(), Status::Error, "{template}: {}", v.message());
        assert_eq!(v.confidence(), Confidence::Low, "{template}");
        assert!(v.message().contains(says), "{template}: {}", v.message());
    }
    let key = format!("{KEY}nested/unknown/param.yaml/Keys/nested/unknown/keys.yaml/Key");
    let rotation = one(&f, "kms-rotation-disabled", &key);
    assert_eq!(rotation.status(), Status::Error);
    assert!(
        rotation
            .message()
            .contains("passed by nested/unknown/param.yaml/Keys"),
        "{}",
        rotation.message()
    );
    let tags = one(&f, "kms-key-missing-tags", &key);
    assert!(
        tags.message()
            .contains("Owner has no Default and nested/unknown/param.yaml/Keys does not pass it"),
        "{}",
        tags.message()
    );
}

/// Everything that identifies and decides each result, for comparing scans.
fn verdicts(findings: &[Finding]) -> std::collections::BTreeSet<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {} {:?} {}",
                f.fingerprint(),
                f.rule(),
                f.status().as_str(),
                f.confidence().as_str(),
                f.resource(),
                f.location(),
                f.message()
            )
        })
        .collect()
}

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

/// As for Terraform's module trees: scanning a tree judges each template as scanning its
/// directory alone does, nested stacks included (none of the fixtures nests across them).
fn assert_tree_is_the_union_of_its_parts(dir: &str) {
    let whole = verdicts(&judge(&scan_in(
        &fixtures(),
        &[dir],
        &Parameters::default(),
    )));
    let parts: Vec<Finding> = subdirectories(dir)
        .iter()
        .flat_map(|d| judge(&scan_in(&fixtures(), &[d], &Parameters::default())))
        .collect();
    let parts = verdicts(&parts);
    let only = |a: &std::collections::BTreeSet<String>, b: &std::collections::BTreeSet<String>| {
        a.difference(b).cloned().collect::<Vec<String>>()
    };
    assert!(
        whole == parts,
        "only in the tree: {:#?}\nonly in the parts: {:#?}",
        only(&whole, &parts),
        only(&parts, &whole)
    );
}

#[test]
fn the_fixture_tree_is_the_union_of_its_directories() {
    assert_tree_is_the_union_of_its_parts("nested");
    assert_tree_is_the_union_of_its_parts(".");
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

const TRACED_PARENT: &str = "Resources:\n  Group:\n    Type: AWS::XRay::Group\n    Properties: {GroupName: g}\n  Guard:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: ../shared/guard.yaml\n";
const GUARD: &str = "Resources:\n  Fix:\n    Type: AWS::Config::RemediationConfiguration\n    Properties:\n      TargetType: SSM_DOCUMENT\n      TargetId: AWSConfigRemediation-UpdateXRayKMSKey\n      Automatic: true\n      Parameters:\n        KeyId:\n          StaticValue:\n            Values: [alias/aws/xray]\n";

#[test]
fn a_nested_template_outside_the_paths_scanned_is_not_followed_and_noted() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "app/parent.yaml", TRACED_PARENT);
    write(dir.path(), "shared/guard.yaml", GUARD);
    let scan = scan_in(dir.path(), &["app"], &Parameters::default());
    assert!(
        scan.notes
            .iter()
            .any(|n| n.contains("outside the paths scanned")),
        "{:?}",
        scan.notes
    );
    let f = judge(&scan);
    let v = one(&f, RULE, "app/parent.yaml");
    assert_eq!(v.status(), Status::Error, "{}", v.message());
    assert!(
        v.message().contains("outside the paths scanned"),
        "{}",
        v.message()
    );
    // Scanning the directory that holds both follows it.
    let f = run(dir.path(), &["."]);
    assert_eq!(one(&f, RULE, "app/parent.yaml").status(), Status::Pass);
    assert!(of(&f, RULE, "shared/guard.yaml").is_empty(), "nested");
}

#[test]
fn a_key_of_the_parent_passed_as_a_parameter_is_that_key_in_the_nested_stack() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "parent.yaml",
        "Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties: {Enabled: false}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Tracing: Active}\n  Guard:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: s3.yaml\n      Parameters:\n        KeyArn: !GetAtt Key.Arn\n",
    );
    write(
        dir.path(),
        "s3.yaml",
        "Parameters:\n  KeyArn: {Type: String}\nResources:\n  Fix:\n    Type: AWS::Config::RemediationConfiguration\n    Properties:\n      TargetType: SSM_DOCUMENT\n      TargetId: AWSConfigRemediation-UpdateXRayKMSKey\n      Automatic: true\n      Parameters:\n        KeyId:\n          StaticValue:\n            Values: [!Ref KeyArn]\n",
    );
    let f = run(dir.path(), &["."]);
    assert_eq!(one(&f, RULE, "parent.yaml").status(), Status::Pass);
    let unusable = one(&f, "xray-key-unusable", "parent.yaml/Guard/s3.yaml/Fix");
    assert_eq!(
        unusable.status(),
        Status::Fail,
        "the parent's disabled key: {}",
        unusable.message()
    );
}

#[test]
fn cdk_output_names_the_nested_template_it_uploads() {
    let f = fixture(&["nested/cdk"]);
    let verdict = one(&f, RULE, "nested/cdk/cdk.out/AppStack.template.json");
    assert_eq!(verdict.status(), Status::Pass, "{}", verdict.message());
    let rotation: Vec<&Finding> = f
        .iter()
        .filter(|f| f.rule() == "kms-rotation-disabled")
        .collect();
    assert_eq!(rotation.len(), 2, "alone and as AppStack's instance");
    assert!(rotation.iter().all(|r| r.status() == Status::Fail
        && r.resource().contains("(AppStack/Keys/TraceKey/Resource)")));
}
