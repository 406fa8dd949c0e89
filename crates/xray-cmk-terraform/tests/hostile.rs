//! `scan` over trees a pull request could contain: symbolic link cycles, FIFOs, devices, huge or
//! binary files, malformed plan JSON, repeated object keys and module call cycles. Each is
//! scanned once, refused by name or read as Terraform reads it; nothing hangs.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use xray_cmk_core::{EncryptionType, Observed};
use xray_cmk_terraform::IacScan;

const CONFIG: &str = "resource \"aws_xray_encryption_config\" \"this\" {\n  type = \"NONE\"\n}\n";

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// `scan(paths)`, failing the test if it takes more than a few seconds.
fn scan(paths: &[PathBuf]) -> IacScan {
    let paths = paths.to_vec();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(xray_cmk_terraform::scan(&paths));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the scan finishes within 10 s")
}

fn messages(s: &IacScan) -> Vec<String> {
    s.errors
        .iter()
        .map(|e| format!("{}: {}", e.location.file, e.message))
        .collect()
}

#[cfg(unix)]
fn error_for<'a>(s: &'a IacScan, file: &str) -> &'a str {
    s.errors
        .iter()
        .find(|e| e.location.file.ends_with(file))
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("no error for {file}: {:?}", messages(s)))
}

#[cfg(unix)]
#[test]
fn each_real_directory_and_file_is_scanned_once_whatever_links_lead_there() {
    use std::os::unix::fs::symlink;
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("infra");
    write(&root.join("main.tf"), CONFIG);
    write(&root.join("sub/sub.tf"), "locals {\n  x = 1\n}\n");
    symlink(".", root.join("self")).expect("link");
    symlink("..", root.join("sub/back")).expect("link");
    symlink("sub", root.join("again")).expect("link");
    symlink("main.tf", root.join("copy.tf")).expect("link");
    // A directory outside the tree is followed when it is given too, once.
    let shared = t.path().join("shared");
    write(&shared.join("shared.tf"), "locals {\n  y = 1\n}\n");
    symlink("../shared", root.join("ext")).expect("link");
    let s = scan(&[root.clone(), shared.clone()]);
    assert!(s.errors.is_empty(), "{:?}", messages(&s));
    assert_eq!(s.modules, 3, "infra, infra/sub and shared");
    assert_eq!(
        s.files, 3,
        "main.tf, sub/sub.tf and shared/shared.tf, each once: {:?}",
        s.notes
    );
    assert_eq!(s.inventory.targets.len(), 1, "main.tf is read once");
    let notes = s.notes.join("\n");
    for (skipped, why) in [
        ("infra/self:", "symbolic link cycle"),
        ("infra/sub/back:", "symbolic link cycle"),
        ("infra/again:", "a symbolic link to"),
        ("infra/ext:", "a symbolic link to"),
        ("infra/copy.tf:", "the same file as"),
    ] {
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains(skipped) && n.contains(why)),
            "{skipped} {why} in\n{notes}"
        );
    }
    // Links out of the paths given are not followed: a directory is noted, a file refused.
    symlink("/", root.join("slash")).expect("link");
    write(&t.path().join("outside.tf"), CONFIG);
    symlink("../outside.tf", root.join("outside.tf")).expect("link");
    let s = scan(std::slice::from_ref(&root));
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("infra/slash: a symbolic link to /, outside the paths scanned")),
        "{:?}",
        s.notes
    );
    assert!(error_for(&s, "infra/outside.tf").contains("outside the paths scanned"));
    assert_eq!(s.files, 2, "main.tf and sub/sub.tf: {:?}", s.notes);
    std::fs::remove_file(root.join("slash")).expect("rm");
    std::fs::remove_file(root.join("outside.tf")).expect("rm");
    // The same directory given twice is scanned once too.
    let s = scan(&[root.clone(), root.join("self")]);
    assert_eq!(s.files, 2, "{:?}", s.notes);
    let again = root.join("self");
    let again = again.to_string_lossy();
    assert!(
        s.notes
            .iter()
            .filter(|n| n.starts_with(&format!("skipped {again}:")))
            .count()
            == 2,
        "once as an entry of infra, once as a path given: {:?}",
        s.notes
    );
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_read_and_never_past_the_cap() {
    use std::os::unix::fs::symlink;
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("infra");
    write(&root.join("main.tf"), CONFIG);
    let fifo = root.join("fifo.tf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    symlink("/dev/zero", root.join("zero.tf")).expect("link");
    symlink("/dev/zero", root.join("terraform.tfvars")).expect("link");
    symlink("missing.tf", root.join("dangling.tf")).expect("link");
    // 5 MiB of valid HCL: over the 4 MiB cap.
    write(&root.join("big.tf"), &"# padding\n".repeat(512 * 1024));
    std::fs::write(root.join("junk.tf"), b"resource \xff\xfe\x00\x01 {").expect("write");
    let s = scan(std::slice::from_ref(&root));
    assert!(
        error_for(&s, "fifo.tf").contains("a FIFO (named pipe), not a regular file"),
        "{:?}",
        messages(&s)
    );
    assert!(error_for(&s, "zero.tf").contains("a device, not a regular file"));
    assert!(error_for(&s, "terraform.tfvars").contains("a device, not a regular file"));
    assert!(error_for(&s, "dangling.tf").contains("broken symbolic link"));
    assert!(error_for(&s, "big.tf").contains("larger than the 4 MiB cap"));
    let junk = s
        .errors
        .iter()
        .find(|e| e.location.file.ends_with("junk.tf"))
        .expect("junk.tf refused");
    assert!(junk.message.contains("not UTF-8"), "{}", junk.message);
    assert_eq!((junk.location.line, junk.location.column), (1, 10));
    // The regular file beside them is still scanned.
    assert_eq!(s.inventory.targets.len(), 1);
    // Given by name, a FIFO is refused the same way.
    let s = scan(&[fifo, root.join("zero.tf")]);
    assert!(error_for(&s, "fifo.tf").contains("FIFO"));
    assert!(error_for(&s, "zero.tf").contains("device"));
}

#[test]
fn malformed_plan_json_is_an_error_at_the_json_path_that_is_wrong() {
    let t = tempfile::tempdir().expect("tempdir");
    let resource = |fields: &str| {
        format!(
            r#"{{"format_version":"1.2","planned_values":{{"root_module":{{"resources":[{fields}]}}}}}}"#
        )
    };
    let ok = r#""address":"aws_kms_key.k","mode":"managed","type":"aws_kms_key","name":"k""#;
    let cases = [
        (
            r#"{"format_version":"1.2","planned_values":{"root_module":{"resources":"nope"}}}"#
                .to_owned(),
            "planned_values.root_module.resources is a string, not an array",
        ),
        (
            r#"{"format_version":"1.2","planned_values":{}}"#.to_owned(),
            "planned_values.root_module is missing",
        ),
        (
            r#"{"format_version":"1.2"}"#.to_owned(),
            "planned_values is missing",
        ),
        (
            r#"{"planned_values":{"root_module":{}}}"#.to_owned(),
            "format_version is missing",
        ),
        (
            r#"{"format_version":"2.0","planned_values":{"root_module":{}}}"#.to_owned(),
            "format_version is `2.0`",
        ),
        ("[1, 2]".to_owned(), "(the document) is an array"),
        (
            resource(r#"{"address":"aws_kms_key.k","mode":"managed","values":{}}"#),
            "planned_values.root_module.resources[0].type is missing",
        ),
        (
            resource(&format!("{{{ok}}}")),
            "planned_values.root_module.resources[0].values is missing",
        ),
        (
            resource(&format!(r#"{{{ok},"values":[]}}"#)),
            "planned_values.root_module.resources[0].values is an array, not an object",
        ),
        (
            r#"{"format_version":"1.2","planned_values":{"root_module":{"child_modules":[{"resources":[7]}]}}}"#
                .to_owned(),
            "planned_values.root_module.child_modules[0].resources[0] is a number",
        ),
        (
            r#"{"format_version":"1.2","planned_values":{"root_module":{}},"configuration":{"root_module":{"module_calls":[]}}}"#
                .to_owned(),
            "configuration.root_module.module_calls is an array",
        ),
        ("{\"format_version\":".to_owned(), "not valid JSON"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = t.path().join(format!("plan{i}.json"));
        write(&path, text);
        let s = scan(std::slice::from_ref(&path));
        assert_eq!(s.errors.len(), 1, "{text}: {:?}", messages(&s));
        assert!(
            s.errors[0].message.contains(expected),
            "{text}: expected `{expected}` in {:?}",
            s.errors[0].message
        );
    }
    // A plan with no resources at all is a plan.
    let empty = t.path().join("empty.json");
    write(
        &empty,
        r#"{"format_version":"1.2","planned_values":{"root_module":{}}}"#,
    );
    assert!(scan(&[empty]).errors.is_empty());
}

#[test]
fn a_repeated_object_key_is_read_as_terraform_does_the_last_one_winning() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("infra");
    write(
        &root.join("main.tf"),
        "locals {\n  enc = { type = \"KMS\", type = \"NONE\" }\n}\n\nresource \"aws_xray_encryption_config\" \"this\" {\n  type = local.enc.type\n}\n",
    );
    let s = scan(std::slice::from_ref(&root));
    assert!(s.errors.is_empty(), "{:?}", messages(&s));
    assert_eq!(s.inventory.targets.len(), 1);
    let target = &s.inventory.targets[0];
    assert!(
        matches!(&target.encryption, Observed::Known(e) if e.encryption_type == EncryptionType::None),
        "{:?}",
        target.encryption
    );
    // The resource is still located at its own line.
    match &target.origin {
        xray_cmk_core::Origin::Terraform { location, .. } => assert_eq!(location.line, 5),
        other => panic!("{other:?}"),
    }
    assert!(
        s.notes.iter().any(|n| n.ends_with(
            "main.tf:2: key `type` repeated in an object: the last value is used, as in Terraform"
        )),
        "{:?}",
        s.notes
    );
}

#[test]
fn a_cycle_of_local_module_calls_is_an_error_not_a_hang_or_a_silent_pass() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("infra");
    write(
        &root.join("a/main.tf"),
        "module \"b\" {\n  source = \"../b\"\n}\n",
    );
    write(
        &root.join("b/main.tf"),
        "resource \"aws_lambda_function\" \"f\" {\n  tracing_config {\n    mode = \"Active\"\n  }\n}\n\nmodule \"a\" {\n  source = \"../a\"\n}\n",
    );
    write(
        &root.join("self/main.tf"),
        "module \"me\" {\n  source = \"./\"\n}\n",
    );
    let s = scan(std::slice::from_ref(&root));
    let cycles: Vec<&xray_cmk_terraform::IacError> = s
        .errors
        .iter()
        .filter(|e| e.message.starts_with("module call cycle"))
        .collect();
    assert_eq!(cycles.len(), 2, "{:?}", messages(&s));
    let ab = cycles
        .iter()
        .find(|e| e.message.contains("infra/a -> ") && e.message.contains("infra/b -> "))
        .expect("the a/b cycle");
    assert!(ab.location.file.ends_with("infra/b/main.tf"), "{ab:?}");
    assert_eq!(ab.location.line, 7, "at the module block that closes it");
    let me = cycles
        .iter()
        .find(|e| e.location.file.ends_with("infra/self/main.tf"))
        .expect("a module that calls itself");
    assert_eq!(me.location.line, 1);
}

#[test]
fn a_plan_with_many_resources_is_read_in_one_pass_and_each_is_located() {
    let t = tempfile::tempdir().expect("tempdir");
    let n = 50_000;
    let mut text = String::from("{\n\"format_version\": \"1.2\",\n\"planned_values\": {\"root_module\": {\"resources\": [\n");
    for i in 0..n {
        text.push_str(&format!(
            "{{\"address\": \"aws_s3_bucket.b[{i}]\", \"mode\": \"managed\", \"type\": \"aws_s3_bucket\", \"values\": {{}}}},\n"
        ));
    }
    text.push_str(
        "{\"address\": \"aws_xray_encryption_config.x[\\\"a\\\"]\", \"mode\": \"managed\", \"type\": \"aws_xray_encryption_config\", \"values\": {\"type\": \"NONE\"}}\n]}}}\n",
    );
    let path = t.path().join("plan.json");
    write(&path, &text);
    let started = std::time::Instant::now();
    let s = scan(&[path]);
    assert!(s.errors.is_empty(), "{:?}", messages(&s));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.inventory.targets.len(), 1);
    match &s.inventory.targets[0].origin {
        xray_cmk_core::Origin::Terraform { address, location } => {
            // Named by the plan it came from and its address, so nothing collides across plans.
            assert!(
                address.ends_with("plan.json/aws_xray_encryption_config.x[\"a\"]"),
                "{address}"
            );
            assert_eq!(location.line, u32::try_from(n).expect("small") + 4);
        }
        other => panic!("{other:?}"),
    }
}

/// A variable of a called module without a default that its caller does not pass is unknown,
/// and says which call left it out.
#[test]
fn a_variable_the_caller_does_not_pass_is_unknown_and_says_who_left_it_out() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("infra");
    write(
        &root.join("key/main.tf"),
        "variable \"rotate\" {\n  type = bool\n}\n\nresource \"aws_kms_key\" \"k\" {\n  enable_key_rotation = var.rotate\n}\n",
    );
    write(
        &root.join("env/main.tf"),
        "module \"key\" {\n  source = \"../key\"\n}\n",
    );
    let s = scan(std::slice::from_ref(&root));
    let rotation = |suffix: &str| {
        s.inventory
            .keys
            .iter()
            .find(|(id, _)| id.ends_with(suffix))
            .and_then(|(_, k)| match k {
                Observed::Known(k) => Some(k.rotation.clone()),
                Observed::Unknown(_) => None,
            })
            .unwrap_or_else(|| panic!("no key {suffix}: {:?}", s.inventory.keys.keys()))
    };
    let Observed::Unknown(e) = rotation("infra/env/module.key.aws_kms_key.k") else {
        panic!("rotation is unknown");
    };
    assert!(
        e.message
            .contains("var.rotate has no value: module.key does not pass it"),
        "{}",
        e.message
    );
    let Observed::Unknown(e) = rotation("infra/key/aws_kms_key.k") else {
        panic!("rotation is unknown");
    };
    assert!(
        e.message.contains("var.rotate has no value"),
        "{}",
        e.message
    );
}
