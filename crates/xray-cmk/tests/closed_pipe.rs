//! A reader of stdout that went away (`xray-cmk rules | head -1`) ends the output quietly: no
//! panic, and the exit code the command would have had.

mod common;

use std::process::{Command, Stdio};

use common::{bare_xray_cmk, Emulator};

/// Runs `cmd` with a stdout pipe whose reader is closed before the command writes.
fn with_closed_stdout(cmd: &mut Command) -> (i32, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xray-cmk");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().expect("an exit code, not a signal"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn commands_without_aws_end_quietly_on_a_closed_pipe() {
    for args in [
        &["rules"][..],
        &["rules", "--format", "json"],
        &["explain", "kms-rotation-disabled"],
        &["iam-policy", "--mode", "audit"],
        &["iam-policy", "--mode", "remediate"],
        &["iac", "generate", "--account", "111122223333"],
    ] {
        let (code, stderr) = with_closed_stdout(bare_xray_cmk().args(args));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn commands_that_read_aws_or_the_history_end_quietly_on_a_closed_pipe() {
    let emu = Emulator::seeded();
    let db = emu.dir.path().join("history.db");
    let audit = |extra: &[&str]| {
        with_closed_stdout(
            emu.xray_cmk()
                .env_remove("XRAY_CMK_NO_HISTORY")
                .args([
                    "audit",
                    "--profile",
                    "xray-cmk-demo",
                    "--regions",
                    "us-east-1",
                ])
                .args(["--quiet", "--policy"])
                .arg(emu.policy())
                .arg("--db")
                .arg(&db)
                .args(extra),
        )
    };
    // The exit code is the scan's: us-east-1 of the demo is compliant.
    for format in ["table", "json"] {
        let (code, stderr) = audit(&["--format", format]);
        assert_eq!(code, 0, "{format}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    for args in [&["history"][..], &["history", "--format", "json"]] {
        let (code, stderr) = with_closed_stdout(emu.xray_cmk().args(args).arg("--db").arg(&db));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let (code, stderr) = with_closed_stdout(
        emu.xray_cmk()
            .args([
                "plan",
                "--profile",
                "xray-cmk-demo",
                "--regions",
                "us-east-2",
            ])
            .arg("--policy")
            .arg(emu.policy()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
