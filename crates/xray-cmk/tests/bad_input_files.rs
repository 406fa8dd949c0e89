//! Input files the user names (the policy file, a plan, an `--accounts @FILE` list) are read only
//! when they are regular files under a cap: /dev/zero, a FIFO or a 100 MB file each give a clear
//! error at once (exit 2), never a hang or an out-of-memory kill.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{run, Emulator};

fn fifo(dir: &Path) -> PathBuf {
    let p = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&p)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    p
}

fn big(dir: &Path) -> PathBuf {
    let p = dir.join("big");
    let f = std::fs::File::create(&p).expect("create");
    f.set_len(100 * 1024 * 1024).expect("100 MB, sparse");
    p
}

#[test]
fn devices_fifos_and_huge_files_are_refused_at_once() {
    let emu = Emulator::seeded();
    let dir = emu.dir.path().to_path_buf();
    let fifo = fifo(&dir);
    let big = big(&dir);
    let bad: [(&Path, &str); 3] = [
        (
            Path::new("/dev/zero"),
            "is a character device, not a regular file",
        ),
        (&fifo, "is a FIFO (named pipe), not a regular file"),
        (&big, "is 104857600 bytes, more than the"),
    ];
    for (path, why) in bad {
        let arg = format!("@{}", path.display());
        let cases: [(&str, Vec<std::ffi::OsString>); 3] = [
            (
                "policy file",
                vec!["audit".into(), "--policy".into(), path.into()],
            ),
            ("plan", vec!["apply".into(), path.into()]),
            (
                "--accounts file",
                vec!["audit".into(), "--accounts".into(), arg.clone().into()],
            ),
        ];
        for (what, args) in cases {
            let started = Instant::now();
            let r = run(emu
                .xray_cmk()
                .args(["--no-color"])
                .args(&args)
                .args(["--profile", "xray-cmk-demo"]));
            let took = started.elapsed();
            assert_eq!(r.code, 2, "{what} {}: {}", path.display(), r.stderr);
            assert!(
                r.stderr
                    .contains(&format!("{what} {} {why}", path.display())),
                "{what}: {}",
                r.stderr
            );
            assert!(took < Duration::from_secs(5), "{what}: {took:?}");
        }
    }
}
