//! Templates that PyYAML (and so cfn-lint and CloudFormation) reads but strict YAML 1.2 does
//! not: quoted scalars and flow collections whose lines go on left of their key. They are read
//! as PyYAML reads them, judged, and located in the original text; what stays invalid is still
//! an `iac-parse-error`, and hostile input stays bounded.

mod common;

use std::path::Path;
use std::time::Instant;

use common::{fixtures, judge, listing, scan_in};
use xray_cmk_cloudformation::Parameters;
use xray_cmk_core::Status;

#[test]
fn lenient_yaml_templates_are_read_and_judged() {
    let scan = scan_in(&fixtures(), &["lenient-yaml"], &Parameters::default());
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!(scan.templates, 2);
    let findings = judge(&scan);
    // The key policy read from the under-indented JSON string opens the key to everyone.
    assert!(findings.iter().any(|f| f.rule() == "kms-key-policy-public"
        && f.status() == Status::Fail
        && f.resource().ends_with("lenient-yaml/quoted.yaml/Key")));
    insta::assert_snapshot!("lenient-yaml", listing(&findings));
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

/// `file:line message` of each `iac-parse-error`.
fn parse_errors(dir: &Path) -> Vec<String> {
    let scan = scan_in(dir, &["."], &Parameters::default());
    scan.errors
        .iter()
        .map(|e| format!("{}:{} {}", e.location.file, e.location.line, e.message))
        .collect()
}

const HEAD: &str = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n";

#[test]
fn what_pyyaml_refuses_too_stays_an_error_at_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    // Lenient JSON policy, then a key repeated: cfn-lint's E0000 too.
    write(
        dir.path(),
        "repeated.yaml",
        &format!("{HEAD}  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Doc: !Sub '{{\n\"a\": 1\n}}'\n      Doc: x\n"),
    );
    // A document marker inside the scalar.
    write(
        dir.path(),
        "marker.yaml",
        &format!(
            "{HEAD}  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Doc: '{{\n---\n}}'\n"
        ),
    );
    let mut errors = parse_errors(dir.path());
    errors.sort();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("marker.yaml:"), "{errors:?}");
    assert!(errors[0].contains("not valid YAML or JSON"), "{errors:?}");
    assert!(
        errors[1].ends_with(
            "the key `Doc` is repeated (first at line 6): CloudFormation refuses the template"
        ),
        "{errors:?}"
    );
    assert!(errors[1].contains(":9 "), "at the repeat: {errors:?}");
}

#[test]
fn many_lenient_scalars_and_unclosed_quotes_stay_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    // 100,000 quoted scalars each going on at column 0: read (PyYAML reads it), in linear time.
    let mut many = format!("{HEAD}  R:\n    Type: AWS::SNS::Topic\n    Metadata:\n      L:\n");
    for _ in 0..100_000 {
        many.push_str("        - '{\n\"x\": [1]}'\n");
    }
    write(dir.path(), "many.yaml", &many);
    // The same with one quote left open at the end, and 100,000 open quotes and brackets.
    write(dir.path(), "open.yaml", &format!("{many}        - '{{\n"));
    let mut quotes = String::from(HEAD);
    for i in 0..100_000 {
        quotes.push_str(&format!("          K{i}: [{{'\n\" [ it's\n"));
    }
    write(dir.path(), "quotes.yaml", &quotes);
    let started = Instant::now();
    let scan = scan_in(dir.path(), &["."], &Parameters::default());
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    let mut errors: Vec<String> = scan
        .errors
        .iter()
        .map(|e| format!("{}:{} {}", e.location.file, e.location.line, e.message))
        .collect();
    errors.sort();
    assert_eq!(scan.templates, 1, "many.yaml is read: {errors:?}");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("open.yaml:"), "{errors:?}");
    assert!(errors[1].starts_with("quotes.yaml:"), "{errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("not valid YAML or JSON")),
        "{errors:?}"
    );
}
