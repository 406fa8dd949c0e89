//! Test support: a seeded local AWS emulator per test, and a `xray-cmk` command that can only
//! reach it.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repo root")
        .to_path_buf()
}

/// The emulator's Python: `XRAY_CMK_EMULATOR_PYTHON`, else the venv `emulator/install.sh` makes.
fn python() -> PathBuf {
    let path = std::env::var_os("XRAY_CMK_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("emulator/.venv/bin/python"));
    assert!(
        path.exists(),
        "emulator Python not found at {}: run emulator/install.sh (scripts/test does)",
        path.display()
    );
    path
}

/// A running emulator on a free loopback port, stopped on drop.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
}

/// How the emulator server behaves (its environment variables, read per request by the server;
/// emulator/README.md). The defaults make AWS's waits instant, so most tests stay fast.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmulatorBuilder {
    updating_seconds: f64,
    lookup_rate: u32,
    event_delay: f64,
}

impl EmulatorBuilder {
    /// How long X-Ray's encryption stays `UPDATING` (and a segment destination `PENDING`) after
    /// a write; 0 by default. The seed waits for `ACTIVE` too, so it takes about this much longer.
    pub fn updating_seconds(mut self, seconds: f64) -> Self {
        self.updating_seconds = seconds;
        self
    }

    /// CloudTrail `LookupEvents` allowed per second per account and region (AWS: 2); 0, the
    /// default here, is no limit.
    pub fn lookup_rate(mut self, per_second: u32) -> Self {
        self.lookup_rate = per_second;
        self
    }

    /// Seconds before a recorded CloudTrail event reaches `LookupEvents`; 0 by default.
    pub fn event_delay(mut self, seconds: f64) -> Self {
        self.event_delay = seconds;
        self
    }

    pub fn start(self) -> Emulator {
        Emulator::spawn(self)
    }

    /// Starts the emulator and seeds the demo organization into it.
    pub fn seeded(self) -> Emulator {
        let emu = self.start();
        emu.seed_demo();
        emu
    }
}

impl Emulator {
    /// An emulator with other settings than the fast defaults of [`Emulator::start`].
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    pub fn start() -> Self {
        Self::builder().start()
    }

    /// Starts an emulator and seeds the demo organization into it.
    pub fn seeded() -> Self {
        Self::builder().seeded()
    }

    fn spawn(options: EmulatorBuilder) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port_file = dir.path().join("port");
        let child = Command::new(python())
            .args([
                "-m",
                "xray_cmk_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--port-file")
            .arg(&port_file)
            .current_dir(repo_root().join("emulator"))
            .env(
                "XRAY_CMK_EMULATOR_UPDATING_SECONDS",
                options.updating_seconds.to_string(),
            )
            // LookupEvents' 2-per-second limit is tested with recorded pages, in the emulator's
            // own tests and by the tests that ask for it; most tests need no CloudTrail pacing.
            .env(
                "XRAY_CMK_EMULATOR_LOOKUP_RATE",
                options.lookup_rate.to_string(),
            )
            .env(
                "XRAY_CMK_EMULATOR_EVENT_DELAY_SECONDS",
                options.event_delay.to_string(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start emulator");
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse::<u16>().ok())
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "emulator did not start within 60s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        Emulator {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// The demo seed, a client of the server: the UPDATING window it waits out is the server's.
    fn seed_demo(&self) {
        let status = Command::new(python())
            .args(["-m", "xray_cmk_emulator.seed", "--endpoint", &self.endpoint])
            .arg("--aws-config-out")
            .arg(self.aws_config())
            .arg("--json-out")
            .arg(self.dir.path().join("seed.json"))
            .arg("--policy-out")
            .arg(self.policy())
            .current_dir(repo_root().join("emulator"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdout(Stdio::null())
            .status()
            .expect("run seed");
        assert!(status.success(), "seeding the emulator failed");
    }

    /// Runs a Python snippet with boto3 against this emulator (credentials `test`, us-east-1), for
    /// test-specific setup the demo seed does not have.
    pub fn python(&self, script: &str) {
        let status = Command::new(python())
            .args(["-c", script])
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .status()
            .expect("run python");
        assert!(status.success(), "setup script failed");
    }

    pub fn aws_config(&self) -> PathBuf {
        self.dir.path().join("aws-config")
    }

    /// The demo organization's policy file, written by the seed.
    pub fn policy(&self) -> PathBuf {
        self.dir.path().join("xray-cmk.toml")
    }

    pub fn seed(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.path().join("seed.json")).expect("seed.json");
        serde_json::from_str(&text).expect("seed json")
    }

    /// `xray-cmk` with an environment that reaches only this emulator: no AWS variables from the
    /// caller, the seeded config file, static test credentials.
    pub fn xray_cmk(&self) -> Command {
        let mut cmd = bare_xray_cmk();
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_CONFIG_FILE", self.aws_config())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        cmd
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `xray-cmk` with every AWS variable of the caller removed, so tests never touch real AWS.
pub fn bare_xray_cmk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xray-cmk"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/xray-cmk-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/xray-cmk-test/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        // Tests record history only where they ask to, with --db.
        .env("XRAY_CMK_NO_HISTORY", "1")
        .env_remove("XRAY_CMK_DB")
        .env_remove("XRAY_CMK_LOG");
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run xray-cmk");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces the volatile parts of a JSON report (time, version) so snapshots are stable.
pub fn stable_json(stdout: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(stdout).expect("valid JSON");
    v["generated_at"] = "[time]".into();
    v["tool"]["version"] = "[version]".into();
    v
}

/// The account id of the seeded member named `name` (`workload-prod`, `legacy`, …).
pub fn member_id(seed: &serde_json::Value, name: &str) -> String {
    seed["member_accounts"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["account_id"].as_str())
        .expect("member")
        .to_owned()
}
