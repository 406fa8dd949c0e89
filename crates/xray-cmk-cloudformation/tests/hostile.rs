//! Hostile and broken inputs: each is a clear `iac-parse-error` at the file (and line) of the
//! problem, never a crash, a hang or a clean scan; the other files are still scanned.

mod common;

use std::path::Path;

use common::{judge, scan_in};
use xray_cmk_cloudformation::Parameters;
use xray_cmk_core::Status;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// The `iac-parse-error` results of scanning `paths` in `dir`, as `file:line message`.
fn parse_errors(dir: &Path, paths: &[&str]) -> Vec<String> {
    let scan = scan_in(dir, paths, &Parameters::default());
    let findings = judge(&scan);
    findings
        .iter()
        .filter(|f| f.rule() == "iac-parse-error")
        .inspect(|f| assert_eq!(f.status(), Status::Error))
        .map(|f| {
            let l = f.location().expect("located");
            format!("{}:{} {}", l.file, l.line, f.message())
        })
        .collect()
}

const GOOD: &str = "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      TracingConfig: {Mode: Active}\n";

#[test]
fn an_alias_bomb_is_refused_and_the_other_files_are_still_scanned() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut bomb = String::from("AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\nX:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    write(dir.path(), "bomb.yaml", &bomb);
    write(dir.path(), "good.yaml", GOOD);
    let started = std::time::Instant::now();
    let errors = parse_errors(dir.path(), &["."]);
    assert!(started.elapsed().as_secs() < 10, "not expanded");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("bomb.yaml:"), "{errors:?}");
    assert!(errors[0].contains("alias bomb"), "{errors:?}");
    let scan = scan_in(dir.path(), &["."], &Parameters::default());
    assert_eq!(scan.templates, 1, "good.yaml is read");
    assert!(judge(&scan)
        .iter()
        .any(|f| f.rule() == "cfn-xray-encryption-missing" && f.status() == Status::Fail));
}

#[test]
fn a_huge_file_is_refused_without_being_parsed() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut big = String::from("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n");
    let line = "  # padding padding padding padding padding padding padding padding padding\n";
    while big.len() < 5 * 1024 * 1024 {
        big.push_str(line);
    }
    write(dir.path(), "big.template", &big);
    let errors = parse_errors(dir.path(), &["."]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("larger than the 4 MiB cap"),
        "{errors:?}"
    );
    // A big file that is not a template is skipped silently.
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "data.json", &"[1, 2, 3]\n".repeat(600_000));
    assert!(parse_errors(dir.path(), &["."]).is_empty());
}

#[test]
fn deep_nesting_is_refused_at_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let deep = format!(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  X: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    write(dir.path(), "deep.yaml", &deep);
    // Flow nesting: the parser's own limit stops it first.
    let errors = parse_errors(dir.path(), &["deep.yaml"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("deep.yaml:3 not valid YAML or JSON: recursion limit"),
        "{errors:?}"
    );
    // Block nesting: this reader's.
    let mut block = String::from("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n");
    for i in 0..300 {
        block.push_str(&format!("{}k{i}:\n", " ".repeat(i + 2)));
    }
    write(dir.path(), "block.yaml", &block);
    let errors = parse_errors(dir.path(), &["block.yaml"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("refused: nested deeper than 128 levels"),
        "{errors:?}"
    );
    assert!(
        errors[0].starts_with("block.yaml:13"),
        "the line where the limit is passed: {errors:?}"
    );
}

#[test]
fn invalid_yaml_and_json_say_where() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "broken.yaml",
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n   Properties: [\n",
    );
    write(
        dir.path(),
        "broken.json",
        "{\"Resources\": {\"K\": {\"Type\": \"AWS::KMS::Key\",}\n",
    );
    write(
        dir.path(),
        "two-docs.yaml",
        "Resources: {}\n---\nResources: {}\n",
    );
    let errors = parse_errors(dir.path(), &["."]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("broken.yaml:5 not valid YAML or JSON")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("broken.json:") && e.contains("not valid YAML or JSON")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("more than one YAML document")),
        "{errors:?}"
    );
}

#[test]
fn files_that_are_not_templates_are_skipped_unless_named() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "package.json",
        "{\"name\": \"x\", \"version\": \"1.0.0\"}\n",
    );
    write(
        dir.path(),
        ".github/workflows/ci.yml",
        "on: push\njobs: {}\n",
    );
    write(
        dir.path(),
        "k8s.yaml",
        "apiVersion: v1\nkind: Pod\nspec: {containers: [{resources: {}}]}\n",
    );
    write(
        dir.path(),
        "helm.yaml",
        "Resources: {{ .Values.resources }}\n  x: [\n",
    );
    write(dir.path(), "notes.yaml", "- {{ broken\n");
    write(dir.path(), "binary.json", "");
    std::fs::write(dir.path().join("binary.yaml"), [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let scan = scan_in(dir.path(), &["."], &Parameters::default());
    assert_eq!(scan.templates, 0);
    let errors: Vec<&str> = scan
        .errors
        .iter()
        .map(|e| e.location.file.as_str())
        .collect();
    assert_eq!(
        errors,
        ["helm.yaml"],
        "only what names Resources and fails: {:?}",
        scan.errors
    );
    // Named on the command line, a file that is not a template is an error.
    let errors = parse_errors(dir.path(), &["k8s.yaml", "binary.yaml"]);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("k8s.yaml:1 not a CloudFormation template")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("binary.yaml:1 refused: not UTF-8")),
        "{errors:?}"
    );
    let errors = parse_errors(dir.path(), &["missing.yaml"]);
    assert_eq!(errors, ["missing.yaml:1 no such file or directory"]);
}

#[cfg(unix)]
#[test]
fn fifos_are_refused_and_link_cycles_walked_once() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "app/template.yaml", GOOD);
    std::os::unix::fs::symlink("..", dir.path().join("app/loop")).expect("link");
    std::os::unix::fs::symlink("/etc", dir.path().join("app/outside")).expect("link");
    let fifo = dir.path().join("app/pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let scan = scan_in(dir.path(), &["app"], &Parameters::default());
    assert_eq!(
        scan.templates, 1,
        "read once, whatever the loop: {:?}",
        scan.notes
    );
    assert!(
        scan.notes.iter().any(|n| n.contains("app/outside")),
        "{:?}",
        scan.notes
    );
    if made.is_ok_and(|s| s.success()) {
        let e: Vec<&str> = scan.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(e, ["refused: a FIFO (named pipe), not a regular file"]);
    }
}

/// The `cfn-xray-encryption-missing` result of `template`, scanning `dir` whole.
fn nested_verdict(dir: &Path, template: &str) -> xray_cmk_core::Finding {
    let scan = scan_in(dir, &["."], &Parameters::default());
    let f = judge(&scan);
    let mut v: Vec<_> = f
        .into_iter()
        .filter(|f| f.rule() == "cfn-xray-encryption-missing" && f.resource() == template)
        .collect();
    assert_eq!(v.len(), 1, "{v:#?}");
    v.remove(0)
}

const TRACES: &str = "  Group:\n    Type: AWS::XRay::Group\n    Properties: {GroupName: g}\n";

fn nests(id: &str, url: &str) -> String {
    format!("  {id}:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: {url}\n")
}

#[test]
fn a_template_nesting_itself_by_any_path_or_through_another_is_a_cycle_not_a_hang() {
    let dir = tempfile::tempdir().expect("tmp");
    let me = format!(
        "Resources:\n{TRACES}{}{}{}",
        nests("A", "self.yaml"),
        nests("B", "./sub/../self.yaml"),
        nests("C", "other.yaml")
    );
    write(dir.path(), "self.yaml", &me);
    std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
    write(
        dir.path(),
        "other.yaml",
        &format!("Resources:\n{TRACES}{}", nests("Back", "self.yaml")),
    );
    let started = std::time::Instant::now();
    let v = nested_verdict(dir.path(), "self.yaml");
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!(v.status(), Status::Error, "{}", v.message());
    assert!(v.message().contains("a cycle"), "{}", v.message());
    // Each of a pair that nests the other is judged, with the cycle unknown.
    let v = nested_verdict(dir.path(), "other.yaml");
    assert_eq!(v.status(), Status::Error, "{}", v.message());
}

#[test]
fn a_chain_deeper_than_the_bound_is_unknown_never_a_pass() {
    let dir = tempfile::tempdir().expect("tmp");
    for i in 0..40 {
        write(
            dir.path(),
            &format!("t{i}.yaml"),
            &format!(
                "Resources:\n{TRACES}{}",
                nests("Next", &format!("t{}.yaml", i + 1))
            ),
        );
    }
    // Only the end of the chain sets the encryption.
    write(dir.path(), "t40.yaml", GUARD_TEMPLATE);
    let v = nested_verdict(dir.path(), "t0.yaml");
    assert_eq!(v.status(), Status::Error, "{}", v.message());
    assert!(v.message().contains("more than 16 deep"), "{}", v.message());
    // Within the bound, the chain is followed to its end.
    let scan = scan_in(dir.path(), &["t30.yaml"], &Parameters::default());
    let f = judge(&scan);
    let v = f
        .iter()
        .find(|f| f.rule() == "cfn-xray-encryption-missing")
        .expect("judged");
    assert_eq!(v.status(), Status::Pass, "{}", v.message());
}

const GUARD_TEMPLATE: &str = "Resources:\n  Fix:\n    Type: AWS::Config::RemediationConfiguration\n    Properties:\n      TargetType: SSM_DOCUMENT\n      TargetId: AWSConfigRemediation-UpdateXRayKMSKey\n      Automatic: true\n";

#[test]
fn nested_stacks_that_multiply_are_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    // Every level nests the next twice: 2^24 instances unbounded.
    for i in 0..24 {
        let next = format!("m{}.yaml", i + 1);
        write(
            dir.path(),
            &format!("m{i}.yaml"),
            &format!(
                "Resources:\n{TRACES}{}{}",
                nests("L", &next),
                nests("R", &next)
            ),
        );
    }
    write(dir.path(), "m24.yaml", GUARD_TEMPLATE);
    let started = std::time::Instant::now();
    let scan = scan_in(dir.path(), &["."], &Parameters::default());
    let f = judge(&scan);
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    let m0 = f
        .iter()
        .find(|f| f.rule() == "cfn-xray-encryption-missing" && f.resource() == "m0.yaml")
        .expect("judged");
    // m24 holds the setter, but it is 24 deep and 2^24 instances away: past the bounds.
    assert_eq!(m0.status(), Status::Error, "{}", m0.message());
    assert!(m0.message().contains("more than"), "{}", m0.message());
    let m23 = f
        .iter()
        .filter(|f| f.rule() == "xray-default-encryption" && f.resource().starts_with("m23.yaml/"))
        .count();
    assert_eq!(m23, 2, "m23 alone makes its two instances");
    assert!(
        f.iter()
            .filter(|f| f.rule() == "xray-default-encryption")
            .count()
            <= 50_000 + 25,
        "at most the scan's 50,000 instances and the templates alone"
    );
    // One template nests the same key stack 3,000 times.
    let dir = tempfile::tempdir().expect("tmp");
    let mut wide = format!("Resources:\n{TRACES}");
    for i in 0..3000 {
        wide.push_str(&nests(&format!("S{i}"), "wide/key.yaml"));
    }
    write(dir.path(), "wide.yaml", &wide);
    write(
        dir.path(),
        "wide/key.yaml",
        "Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties: {EnableKeyRotation: false}\n",
    );
    let started = std::time::Instant::now();
    let scan = scan_in(dir.path(), &["."], &Parameters::default());
    let f = judge(&scan);
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    let verdict = |t: &str| {
        f.iter()
            .find(|f| f.rule() == "cfn-xray-encryption-missing" && f.resource() == t)
            .unwrap_or_else(|| panic!("{t} judged"))
    };
    let wide = verdict("wide.yaml");
    assert_eq!(wide.status(), Status::Error, "{}", wide.message());
    assert!(
        wide.message()
            .contains("more than 2000 nested stack instances"),
        "{}",
        wide.message()
    );
    let instances = scan
        .inventory
        .keys
        .keys()
        .filter(|k| k.contains("wide.yaml/S"))
        .count();
    assert_eq!(instances, 2000, "the bound, not 3,000");
}

#[test]
fn a_nested_template_that_is_a_device_or_a_fifo_is_refused_unopened() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut parent = format!("Resources:\n{TRACES}{}", nests("Zero", "/dev/zero"));
    #[cfg(unix)]
    {
        let fifo = dir.path().join("pipe.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            parent.push_str(&nests("Pipe", "pipe.yaml"));
        }
    }
    write(dir.path(), "parent.yaml", &parent);
    let started = std::time::Instant::now();
    let scan = scan_in(dir.path(), &["parent.yaml"], &Parameters::default());
    let f = judge(&scan);
    assert!(started.elapsed().as_secs() < 10, "nothing blocks");
    let v = f
        .iter()
        .find(|f| f.rule() == "cfn-xray-encryption-missing")
        .expect("judged");
    assert_eq!(v.status(), Status::Error, "{}", v.message());
    assert!(v.message().contains("/dev/zero"), "{}", v.message());
    assert!(
        scan.notes.iter().any(|n| n.contains("/dev/zero")),
        "{:?}",
        scan.notes
    );
}
