//! Loading the organization policy file, and `xray-cmk policy init|check`.

use crate::out::{out, outln};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use xray_cmk_core::policy::DEFAULT_POLICY_TOML;
use xray_cmk_core::{rules, OrgPolicy};

use crate::cli::{PolicyCommand, PolicyInitArgs};
use crate::exit::Exit;

/// The file used when `--policy` is not given, if it exists in the working directory.
pub(crate) const DEFAULT_POLICY_FILE: &str = "xray-cmk.toml";

/// The policy in force: `--policy PATH`, else `./xray-cmk.toml` when present, else the defaults.
/// Returns the path it came from, for the report.
pub(crate) fn load(explicit: Option<&Path>) -> Result<(OrgPolicy, Option<PathBuf>)> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from(DEFAULT_POLICY_FILE);
            if !default.exists() {
                return Ok((OrgPolicy::default(), None));
            }
            default
        }
    };
    let text = crate::input::read_text(&path, "policy file", crate::input::POLICY_CAP)?;
    let known: Vec<&str> = rules::EVERY.iter().map(|r| r.meta().id.as_str()).collect();
    match OrgPolicy::parse(&text, &path.display().to_string(), &known) {
        Ok(policy) => Ok((policy, Some(path))),
        Err(errors) => bail!("invalid policy file:\n{errors}"),
    }
}

pub(crate) fn run(cmd: &PolicyCommand) -> Result<Exit> {
    match cmd {
        PolicyCommand::Init(args) => init(args),
        PolicyCommand::Check { path } => {
            let path = path
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_POLICY_FILE));
            let (policy, _) = load(Some(&path))?;
            outln!(
                "{}: valid ({} required tags, {} approved keys, {} exemptions)",
                path.display(),
                policy.tags.required.len(),
                policy.keys.approved.len(),
                policy.exemptions.len()
            );
            Ok(Exit::Clean)
        }
    }
}

fn init(args: &PolicyInitArgs) -> Result<Exit> {
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_POLICY_FILE));
    if path.as_os_str() == "-" {
        out!("{DEFAULT_POLICY_TOML}");
        return Ok(Exit::Clean);
    }
    if path.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    std::fs::write(&path, DEFAULT_POLICY_TOML)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(Exit::Clean)
}
