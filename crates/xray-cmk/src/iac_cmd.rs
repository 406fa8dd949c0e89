//! `xray-cmk iac scan` and `xray-cmk iac generate`: the same rules over Terraform and
//! CloudFormation, before `terraform apply` or a deployment, and a compliant module to start
//! from.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use xray_cmk_core::Status;
use xray_cmk_report::{json_v1, sarif, table, Report, Scope};

use crate::audit::now;
use crate::cli::{GenerateFormat, IacFormat, IacGenerateArgs, IacScanArgs};
use crate::exit::Exit;

pub(crate) fn scan(args: &IacScanArgs, color: bool) -> Result<Exit> {
    let selected = xray_cmk_core::select(&args.rules, &args.skip_rules)
        .map_err(|e| anyhow::anyhow!("--rules/--skip-rules: {e}"))?;
    let (policy, policy_path) = crate::policy_cmd::load(args.policy.as_deref())?;
    let store = crate::history::open(&args.history)?;
    let parameters = match &args.parameters {
        Some(path) => xray_cmk_cloudformation::read_parameters(path)
            .map_err(|e| anyhow::anyhow!("--parameters: {e}"))?,
        None => xray_cmk_cloudformation::Parameters::default(),
    };
    let started = Instant::now();
    let (tf_paths, cfn_paths) = split_paths(&args.paths);
    let scanned = xray_cmk_terraform::scan(&tf_paths);
    let templates = xray_cmk_cloudformation::scan(&cfn_paths, &parameters);
    // Not results: what was skipped or read leniently on purpose, so a reader knows.
    for note in scanned.notes.iter().chain(&templates.notes) {
        eprintln!("note: {note}");
    }
    let (generated_at, today) = now()?;
    let mut findings = scanned.judge(&policy, today, &selected);
    findings.extend(templates.judge(&policy, today, &selected));
    // Each list is in source order; the stable sort keeps rule order at one place.
    findings.sort_by(|a, b| {
        let at = |f: &xray_cmk_core::Finding| {
            f.location()
                .as_ref()
                .map(|l| (l.file.clone(), l.line, l.column))
        };
        at(a).cmp(&at(b))
    });
    let mut modules: Vec<String> = scanned
        .inventory
        .terraform_modules
        .iter()
        .map(|m| m.path.clone())
        .chain(
            templates
                .inventory
                .cloudformation_templates
                .iter()
                .map(|t| t.path.clone()),
        )
        .collect();
    modules.sort();
    let scope = Scope {
        accounts: modules,
        regions: Vec::new(),
        policy: policy_path.map(|p| p.display().to_string()),
    };
    let failing = findings
        .iter()
        .any(|f| f.is_open_failure() && f.severity() >= args.fail_on);
    let unknown = findings.iter().any(|f| f.status() == Status::Error);
    let exit = if unknown {
        Exit::Incomplete
    } else if failing {
        Exit::Findings
    } else {
        Exit::Clean
    };
    if let Some(mut r) = crate::history::Recording::start(
        store,
        &xray_cmk_store::Run {
            kind: "iac",
            started_at: &generated_at,
            finished_at: &generated_at,
            tool_version: env!("CARGO_PKG_VERSION"),
            scope: serde_json::json!({ "paths": &args.paths, "modules": &scope.accounts }),
            exit_code: None,
        },
    ) {
        r.add(&findings, &[]);
        r.finish(&crate::audit::now()?.0, exit as i32);
    }
    let report = Report::new(env!("CARGO_PKG_VERSION"), &generated_at, scope, findings);
    let rendered = match args.format {
        IacFormat::Table => table::render_iac(&report, color),
        IacFormat::Json => json_v1::render(&report),
        IacFormat::Sarif => sarif::render(&report),
    };
    match &args.out {
        Some(path) => std::fs::write(path, &rendered)
            .with_context(|| format!("writing {}", path.display()))?,
        None => crate::out::write(&rendered),
    }
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "xray-cmk: {} files in {} modules, {} parse errors · {:.2} s ({:.0} files/s)",
            scanned.files,
            scanned.modules,
            scanned.errors.len(),
            secs,
            scanned.files as f64 / secs.max(1e-9)
        );
        if templates.candidates > 0 || !templates.errors.is_empty() {
            eprintln!(
                "xray-cmk: {} CloudFormation templates of {} YAML/JSON files, {} parse errors",
                templates.templates,
                templates.candidates,
                templates.errors.len()
            );
        }
    }
    Ok(exit)
}

/// The paths for the Terraform reader and those for the CloudFormation reader: a directory goes
/// to both; a `.yaml`, `.yml` or `.template` file, and a `.json` file that is a template, to
/// CloudFormation; anything else (`.tf`, a plan JSON file, a path that does not exist) to
/// Terraform, as before templates were read.
fn split_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut tf = Vec::new();
    let mut cfn = Vec::new();
    for p in paths {
        let name = p.to_string_lossy();
        if p.is_dir() {
            tf.push(p.clone());
            cfn.push(p.clone());
        } else if !p.exists() || name.ends_with(".tf") {
            tf.push(p.clone());
        } else if name.ends_with(".json") {
            if xray_cmk_cloudformation::is_template_file(p) {
                cfn.push(p.clone());
            } else {
                tf.push(p.clone());
            }
        } else if xray_cmk_cloudformation::template_name(&name) {
            cfn.push(p.clone());
        } else {
            tf.push(p.clone());
        }
    }
    (tf, cfn)
}

/// The region a Terraform module encrypts X-Ray in unless `--region` says otherwise.
const DEFAULT_REGION: &str = "us-east-1";

pub(crate) fn generate(args: &IacGenerateArgs) -> Result<Exit> {
    let (policy, _) = crate::policy_cmd::load(args.policy.as_deref())?;
    let (file, text, what) = match args.format {
        GenerateFormat::Terraform => {
            let account = args.account.as_deref().unwrap_or_default();
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                bail!("--account: expected a 12-digit account id, found `{account}`");
            }
            let region = args.region.as_deref().unwrap_or(DEFAULT_REGION);
            let text = xray_cmk_terraform::generate::module(&policy, account, region);
            ("main.tf", text, "the module")
        }
        GenerateFormat::Cloudformation => {
            if args.account.is_some() {
                eprintln!("note: a CloudFormation template takes the stack's account; --account is not used");
            }
            if args.region.is_some() {
                eprintln!("note: a CloudFormation template takes the stack's region; --region is not used");
            }
            let text = xray_cmk_cloudformation::generate::template(&policy);
            ("xray-cmk.template.yaml", text, "the template")
        }
    };
    let review = xray_cmk_terraform::generate::tags_to_review(&policy);
    if !review.is_empty() {
        eprintln!(
            "warning: the policy file gives no value for required tag(s) {}: {what} writes \"REVIEW\"; set [tags] values",
            review.join(", ")
        );
    }
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(file);
            if path.exists() && !args.force {
                bail!("{} exists; pass --force to overwrite it", path.display());
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => crate::out::write(&text),
    }
    Ok(Exit::Clean)
}
