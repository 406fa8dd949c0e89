//! `xray-cmk iac scan` over a tree a hostile pull request could hold: symbolic link cycles, a
//! FIFO, a link to `/dev/zero`, a 10 MB `.tf`, binary junk, malformed plan JSON, repeated object
//! keys and a module call cycle. The scan must finish in seconds, exit 3 (incomplete, never 0),
//! and name each problem.

mod common;

use std::io::Read as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::bare_xray_cmk;

fn write(path: &Path, text: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// `xray-cmk iac scan ARGS` in `dir`, killed (and the test failed) after `limit`.
fn scan_within(dir: &Path, args: &[&str], limit: Duration) -> common::Run {
    let mut child = bare_xray_cmk()
        .current_dir(dir)
        .args(["iac", "scan"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xray-cmk");
    // Drain the pipes as it runs, so a large output cannot stall it.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("iac scan did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    common::Run {
        code: status.code().expect("exit code"),
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// The `iac-parse-error` messages of a JSON report, by file.
#[cfg(unix)]
fn parse_errors(report: &serde_json::Value) -> Vec<(String, String)> {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "error")
        .map(|r| {
            (
                r["location"]["file"].as_str().unwrap_or("-").to_owned(),
                r["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[cfg(unix)]
fn named(errors: &[(String, String)], file: &str, why: &str) -> bool {
    errors
        .iter()
        .any(|(f, m)| f.ends_with(file) && m.contains(why))
}

#[cfg(unix)]
#[test]
fn a_hostile_tree_is_scanned_in_seconds_exits_3_and_names_each_problem() {
    use std::os::unix::fs::symlink;
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path();
    let infra = root.join("infra");
    write(
        &infra.join("main.tf"),
        b"locals {\n  enc = { type = \"NONE\", type = \"KMS\" }\n}\n\nresource \"aws_xray_encryption_config\" \"this\" {\n  type = \"NONE\"\n}\n",
    );
    // Symbolic link cycles, at the top and deeper down.
    symlink(".", infra.join("self")).expect("link");
    write(&infra.join("sub/sub.tf"), b"locals {\n  x = 1\n}\n");
    symlink("..", infra.join("sub/back")).expect("link");
    let made = std::process::Command::new("mkfifo")
        .arg(infra.join("fifo.tf"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    symlink("/dev/zero", infra.join("zero.tf")).expect("link");
    write(&infra.join("big.tf"), &b"# padding\n".repeat(1024 * 1024));
    write(
        &infra.join("junk.tf"),
        b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe binary",
    );
    write(
        &infra.join("modules/a/main.tf"),
        b"module \"b\" {\n  source = \"../b\"\n}\n",
    );
    write(
        &infra.join("modules/b/main.tf"),
        b"module \"a\" {\n  source = \"../a\"\n}\n",
    );
    write(
        &root.join("plan.json"),
        br#"{"format_version":"1.2","planned_values":{"root_module":{"resources":"nope"}}}"#,
    );

    let r = scan_within(
        root,
        &["infra", "plan.json", "--format", "json"],
        Duration::from_secs(10),
    );
    assert_eq!(r.code, 3, "incomplete, never clean: {}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).expect("a JSON report");
    let errors = parse_errors(&report);
    for (file, why) in [
        ("infra/fifo.tf", "a FIFO (named pipe), not a regular file"),
        ("infra/zero.tf", "a device, not a regular file"),
        ("infra/big.tf", "larger than the 4 MiB cap"),
        ("infra/junk.tf", "not UTF-8"),
        ("infra/modules/b/main.tf", "module call cycle"),
        (
            "plan.json",
            "planned_values.root_module.resources is a string, not an array",
        ),
    ] {
        assert!(named(&errors, file, why), "{file}: `{why}` in {errors:#?}");
    }
    // The cycles are noted on stderr, and main.tf is read once: one X-Ray configuration judged.
    for note in [
        "note: skipped infra/self: a symbolic link cycle",
        "note: skipped infra/sub/back: a symbolic link cycle",
        "note: infra/main.tf:2: key `type` repeated in an object",
    ] {
        assert!(r.stderr.contains(note), "`{note}` in {}", r.stderr);
    }
    let judged = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["rule"] == "xray-default-encryption")
        .count();
    assert_eq!(judged, 1, "{}", r.stdout);
}

#[test]
fn malformed_plan_json_alone_is_an_error_not_nothing_scanned() {
    let t = tempfile::tempdir().expect("tempdir");
    write(
        &t.path().join("plan.json"),
        br#"{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"aws_kms_key.k","mode":"managed","values":{}}]}}}"#,
    );
    let r = scan_within(t.path(), &["plan.json"], Duration::from_secs(10));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("planned_values.root_module.resources[0].type is missing"),
        "{}",
        r.stdout
    );
}
