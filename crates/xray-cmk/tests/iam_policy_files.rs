//! The emulator's demo roles get exactly the policies `xray-cmk iam-policy` prints: the seed reads
//! them from `emulator/xray_cmk_emulator/data/iam-policy-<mode>.json`, and this test holds those
//! files to the binary, so a change to an action list shows up in the demo's permissions too.

use std::path::Path;
use std::process::Command;

const REGENERATE: &str = "run scripts/regen-iam-policies and commit the files";

fn printed(mode: &str) -> String {
    // iam-policy makes no AWS call; nothing of the caller's environment is needed.
    let out = Command::new(env!("CARGO_BIN_EXE_xray-cmk"))
        .args(["iam-policy", "--mode", mode])
        .env_clear()
        .output()
        .expect("run xray-cmk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn seeded_role_policies_are_what_iam_policy_prints() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repo root")
        .join("emulator/xray_cmk_emulator/data");
    for mode in ["audit", "remediate", "respond"] {
        let path = data.join(format!("iam-policy-{mode}.json"));
        let file = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path.display()));
        let binary = printed(mode);
        assert!(
            file.trim_end_matches('\n') == binary.trim_end_matches('\n'),
            "{} is not what `xray-cmk iam-policy --mode {mode}` prints; {REGENERATE}.\n\
             --- file\n{file}\n--- xray-cmk iam-policy --mode {mode}\n{binary}",
            path.display()
        );
    }
}
