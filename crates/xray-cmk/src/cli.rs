//! Command-line interface.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use xray_cmk_core::Severity;

const AFTER_HELP: &str = "\
Exit codes:
  0  clean: every target was read and nothing failed at or above --fail-on
  1  findings at or above --fail-on
  2  usage or configuration error (flags, credentials, profile, endpoint)
  3  incomplete scan: some targets could not be read (takes precedence over 1)

AWS access follows the AWS CLI: the standard credential chain, --profile, AWS_ENDPOINT_URL;
--home-region is where API calls start (the AWS CLI's --region), --regions the X-Ray regions. Run `xray-cmk rules` for the rule list and `xray-cmk explain RULE` for one rule.";

/// Make AWS X-Ray trace data encrypted with customer managed KMS keys, and keep it that way.
#[derive(Debug, Parser)]
#[command(name = "xray-cmk", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Never colour the output (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Audit X-Ray encryption: the caller's account, a list of accounts, an OU or the whole
    /// organization, in every enabled region.
    #[command(after_help = AFTER_HELP)]
    Audit(Box<AuditCommandArgs>),
    /// Plan the changes that would make each target compliant. Reads only; nothing is changed.
    #[command(
        after_help = "The plan is printed (or, with --format json, written as JSON) and, with --out, saved. Each step records the precondition it relies on. Review it, then run `xray-cmk apply plan.json`.\n\nExit codes: 0 every target read (with or without steps); 2 usage or configuration error; 3 incomplete: some target could not be read, and is left alone or planned on what could be read (the plan is still written)."
    )]
    Plan(Box<PlanArgs>),
    /// Apply a saved plan: check every precondition first, confirm, then change AWS target by
    /// target (a target stops at its first failure; the others go on).
    #[command(after_help = APPLY_HELP)]
    Apply(Box<ApplyArgs>),
    /// Prove X-Ray stores traces: write a marked segment and read it back, per account and region.
    #[command(
        after_help = "Exit codes: 0 every target verified; 1 some target failed (the message says why); 2 usage or configuration error, or an --only that selects no target in scope; 3 some target could not be checked (its account could not be reached, or a call was denied or failed), which takes precedence over 1."
    )]
    Verify(Box<VerifyArgs>),
    /// List the rules.
    Rules(RulesArgs),
    /// Print a rule's documentation: what it checks, why, how to fix, references.
    Explain(ExplainArgs),
    /// Write or validate the organization policy file (xray-cmk.toml).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the least-privilege IAM policy xray-cmk itself needs.
    IamPolicy(IamPolicyArgs),
    /// Terraform: scan modules and plans with the same rules, or generate a compliant module.
    #[command(subcommand)]
    Iac(IacCommand),
    /// The guardrail that keeps X-Ray on approved keys in every account: an AWS Config rule,
    /// EventBridge alerts and an SCP, as a StackSet template and as Terraform.
    #[command(subcommand)]
    Guard(GuardCommand),
    /// The four KPIs from the recorded audits: compliance, mean time to remediate, open
    /// findings, KMS cost.
    #[command(after_help = KPI_HELP)]
    Kpi(KpiArgs),
    /// Write the audit report: one self-contained HTML file (KPIs, trend, account × region
    /// heatmap, findings, key inventory, exemptions) that prints well.
    Report(ReportArgs),
    /// Cryptographic erasure: disable the KMS key X-Ray uses in an account and region, after
    /// showing what it affects. Stored traces become unreadable and new ones are not stored.
    #[command(after_help = RESPOND_HELP)]
    Erase(Box<KeyActionArgs>),
    /// Re-enable the key an `erase` disabled (cancelling a scheduled deletion first). A key
    /// xray-cmk did not disable, or whose disabling cannot be traced, needs --force; an enabled
    /// key is left alone.
    #[command(after_help = RESPOND_HELP)]
    Restore(Box<KeyActionArgs>),
    /// Rotate a key's material now (KMS RotateKeyOnDemand), with the same confirmation.
    #[command(name = "rotate-now", after_help = RESPOND_HELP)]
    RotateNow(Box<RotateArgs>),
    /// The recorded runs and key actions (who, when, why).
    History(HistoryListArgs),
    /// Audit evidence for a key: who used it (CloudTrail), whether it rotates, its policy and
    /// tags now.
    Evidence(Box<EvidenceArgs>),
    /// Print a shell completion script: `xray-cmk completions bash > /etc/bash_completion.d/xray-cmk`.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Write the man pages (xray-cmk.1 and one per command), or print xray-cmk.1.
    Man(ManArgs),
    /// Developer tools; not a stable interface.
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

const COMPLETIONS_HELP: &str = "\
Install:
  bash        xray-cmk completions bash > ~/.local/share/bash-completion/completions/xray-cmk
  zsh         xray-cmk completions zsh > \"${fpath[1]}/_xray-cmk\"
  fish        xray-cmk completions fish > ~/.config/fish/completions/xray-cmk.fish
  powershell  xray-cmk completions powershell >> $PROFILE";

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write xray-cmk.1 and xray-cmk-COMMAND.1 for each command into DIR (for
    /// /usr/local/share/man/man1) instead of printing xray-cmk.1.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// `xray-cmk debug …` (hidden).
#[derive(Debug, Subcommand)]
pub(crate) enum DebugCommand {
    /// Decide key-policy cases read as JSON Lines on stdin
    /// (`{"id", "policy", "principal", "action", "context": {KEY: [VALUE, ...]}}`), one JSON
    /// line per case on stdout (`{"id", "decision", "account"?, "sid"?, "reason"?}`).
    DecideKeyPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EvidenceFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
#[command(mut_arg("max_attempts", |a| a.default_value(RESPOND_ATTEMPTS)))]
pub(crate) struct EvidenceArgs {
    /// The key's ARN.
    #[arg(long, value_name = "KEY_ARN", conflicts_with_all = ["account", "region"])]
    pub(crate) key: Option<String>,
    /// Or: the account of an X-Ray configuration, whose key is reported.
    #[arg(long, value_name = "ID", requires = "region")]
    pub(crate) account: Option<String>,
    /// And its region.
    #[arg(long, value_parser = parse_region, requires = "account")]
    pub(crate) region: Option<String>,
    /// How far back CloudTrail is searched (it keeps 90 days of management events).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=90))]
    pub(crate) days: u64,
    #[arg(long, value_enum, default_value_t = EvidenceFormat::Table)]
    pub(crate) format: EvidenceFormat,
    /// Organization policy file, whose access lists say which principals are expected.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) aws: AwsAccess,
    /// Where the evidence is recorded, for the report's evidence section.
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
}

const RESPOND_HELP: &str = "\
Nothing changes until the key id is typed back (--confirm KEY_ID, or at the prompt on a terminal)
and a --reason is given; who (sts:GetCallerIdentity), when, why, which key and its state after are
recorded in the history. Deletion is never scheduled unless `erase --schedule-deletion DAYS` (7 to
30) is given with a second, separate --confirm-deletion KEY_ID. `restore` leaves an enabled key
alone (exit 0, nothing recorded), and re-enables a key xray-cmk's erase did not disable (per the
history and CloudTrail's DisableKey events) only with --force.

Exit codes: 0 done and the key's state confirmed; 1 the state read back is not the expected one;
2 refused or failed before anything changed; 3 something could not be read (the account could not
be reached, a read was denied or failed: nothing changed), or with --org an account could not be
checked for the blast radius (the action was done; 3 takes precedence over 1).";

/// `--max-attempts` for `erase`, `restore`, `rotate-now` and `evidence` unless given: someone is
/// waiting at the prompt. The other commands default to 8.
const RESPOND_ATTEMPTS: &str = "5";

/// How AWS is reached: the credentials, the region calls start in, the role assumed in other
/// accounts, and how calls are retried.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS access")]
pub(crate) struct AwsAccess {
    /// Named profile from the AWS config/credentials files (like `aws --profile`).
    #[arg(long, env = "AWS_PROFILE")]
    pub(crate) profile: Option<String>,
    /// The region API calls start in (STS, Account, Organizations), not the X-Ray regions
    /// checked. Default: the profile's, else us-east-1.
    #[arg(long, value_parser = parse_region, value_name = "REGION")]
    pub(crate) home_region: Option<String>,
    /// Role assumed in every account other than the caller's.
    #[arg(long, default_value = "OrganizationAccountAccessRole")]
    pub(crate) role_name: String,
    /// External ID for AssumeRole, if the role's trust policy requires one.
    #[arg(long)]
    pub(crate) external_id: Option<String>,
    /// Attempts per AWS call, the first included; retries back off exponentially with jitter.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) max_attempts: u32,
    /// `standard`: backoff per call, with the per-service limits as back-pressure. `adaptive`:
    /// also the SDK's client-side rate limiter, which cuts a service's send rate on throttling.
    #[arg(long, value_enum, default_value_t = RetryModeArg::Standard)]
    pub(crate) retry_mode: RetryModeArg,
    /// Seconds one AWS call may take, every attempt and backoff included (each attempt at most
    /// 20 s, connecting at most 5 s): an endpoint that never answers fails within it.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) call_timeout: u64,
}

impl AwsAccess {
    /// The session these flags describe.
    pub(crate) fn session_options(&self) -> xray_cmk_aws::SessionOptions {
        xray_cmk_aws::SessionOptions {
            profile: self.profile.clone(),
            region: self.home_region.clone(),
            max_attempts: Some(self.max_attempts),
            retry_mode: match self.retry_mode {
                RetryModeArg::Standard => xray_cmk_aws::RetryMode::Standard,
                RetryModeArg::Adaptive => xray_cmk_aws::RetryMode::Adaptive,
            },
            call_timeout: Some(std::time::Duration::from_secs(self.call_timeout)),
        }
    }
}

/// `--region` as the home region, the spelling `audit`, `plan`, `verify` and `apply` took before
/// `--home-region`: it still works for one release, with a line on stderr. `--region` is to name
/// X-Ray regions only.
#[derive(Debug, Clone, Args)]
pub(crate) struct LegacyHomeRegion {
    #[arg(long = "region", hide = true, value_parser = parse_region, value_name = "REGION", conflicts_with = "home_region")]
    region: Option<String>,
}

/// The deprecation line for `--region` given as the home region.
const REGION_DEPRECATED: &str = "xray-cmk: --region is deprecated here; use --home-region (it names the region API calls start in, not the X-Ray regions to check)";

impl LegacyHomeRegion {
    /// Moves a `--region` given into `aws.home_region`, saying so on stderr.
    pub(crate) fn fold_into(&mut self, aws: &mut AwsAccess) {
        if let Some(region) = self.region.take() {
            eprintln!("{REGION_DEPRECATED}");
            aws.home_region = Some(region);
        }
    }
}

#[derive(Debug, Args)]
#[command(mut_arg("max_attempts", |a| a.default_value(RESPOND_ATTEMPTS)))]
pub(crate) struct KeyActionArgs {
    /// The account whose X-Ray key to act on.
    #[arg(long, value_name = "ID")]
    pub(crate) account: String,
    /// The region of that X-Ray configuration.
    #[arg(long, value_parser = parse_region)]
    pub(crate) region: String,
    /// The key id (or ARN), typed back as confirmation.
    #[arg(long, value_name = "KEY_ID")]
    pub(crate) confirm: Option<String>,
    /// Why: recorded with who and when.
    #[arg(long)]
    pub(crate) reason: String,
    /// erase only: also schedule the key's deletion after DAYS (7 to 30). Needs --confirm-deletion.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i32).range(7..=30))]
    pub(crate) schedule_deletion: Option<i32>,
    /// The key id again, as a second, separate confirmation of the deletion.
    #[arg(long, value_name = "KEY_ID", requires = "schedule_deletion")]
    pub(crate) confirm_deletion: Option<String>,
    /// Also look in every ACTIVE account of the organization for X-Ray configurations that use
    /// the key (run from the management or a delegated-admin account).
    #[arg(long)]
    pub(crate) org: bool,
    /// restore only: re-enable a key that xray-cmk's erase did not disable (someone else did,
    /// or nobody can tell who), besides the confirmation.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) aws: AwsAccess,
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("max_attempts", |a| a.default_value(RESPOND_ATTEMPTS)))]
pub(crate) struct RotateArgs {
    /// The key's ARN.
    pub(crate) key: String,
    /// The key id (or ARN), typed back as confirmation.
    #[arg(long, value_name = "KEY_ID")]
    pub(crate) confirm: Option<String>,
    /// Why: recorded with who and when.
    #[arg(long)]
    pub(crate) reason: String,
    #[command(flatten)]
    pub(crate) aws: AwsAccess,
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryListArgs {
    /// The window: `30d`, `12h`, `2w`.
    #[arg(long, default_value = "30d", value_parser = parse_window)]
    pub(crate) since: u64,
    #[arg(long, value_enum, default_value_t = KpiFormat::Table)]
    pub(crate) format: KpiFormat,
    #[command(flatten)]
    pub(crate) history: HistoryDb,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The HTML file to write.
    #[arg(long, value_name = "PATH")]
    pub(crate) out: PathBuf,
    /// The window: `30d`, `12h`, `2w`.
    #[arg(long, default_value = "30d", value_parser = parse_window)]
    pub(crate) since: u64,
    /// Organization policy file, for its exemptions. Default: ./xray-cmk.toml if present.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    /// Monthly KMS requests, for the request cost.
    #[arg(long, value_name = "N")]
    pub(crate) requests: Option<u64>,
    #[command(flatten)]
    pub(crate) history: HistoryDb,
}

const KPI_HELP: &str = "\
Every `audit`, `apply` and `iac scan` records into the history database (see --db). `kpi` reads
the audits: compliance is per run and per target (account and region: compliant when every result
passes or is exempted); time to remediate runs from the first audit a result fails in to the first
later audit it passes in (or no longer applies, e.g. a replaced key); the cost is an estimate with
its assumptions listed.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KpiFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct KpiArgs {
    /// The window: `30d`, `12h`, `2w`.
    #[arg(long, default_value = "30d", value_parser = parse_window)]
    pub(crate) since: u64,
    #[arg(long, value_enum, default_value_t = KpiFormat::Table)]
    pub(crate) format: KpiFormat,
    /// Monthly KMS requests, for the request cost (e.g. from CloudTrail or CloudWatch usage).
    #[arg(long, value_name = "N")]
    pub(crate) requests: Option<u64>,
    #[command(flatten)]
    pub(crate) history: HistoryDb,
}

/// `30d`, `12h`, `2w` as seconds.
fn parse_window(s: &str) -> Result<u64, String> {
    let shown = xray_cmk_core::text::shortened(s, 40);
    // The unit is the last character, whatever its width in bytes.
    let Some(unit) = s.chars().last() else {
        return Err("expected a number and a unit, e.g. 30d, 12h or 2w".to_owned());
    };
    let n = &s[..s.len() - unit.len_utf8()];
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{shown}`: expected a number and a unit, e.g. 30d, 12h or 2w"))?;
    let unit: u64 = match unit {
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(format!("`{shown}`: the unit must be h, d or w")),
    };
    n.checked_mul(unit)
        .filter(|secs| *secs <= 100 * 366 * 86_400)
        .ok_or_else(|| format!("`{shown}`: at most 100 years"))
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn the_definitions_are_consistent() {
        // Conflicts, requirements and flattened groups name arguments that exist, once.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn windows_parse_and_bad_ones_are_errors_not_panics() {
        assert_eq!(parse_window("30d"), Ok(30 * 86_400));
        assert_eq!(parse_window("12h"), Ok(12 * 3_600));
        assert_eq!(parse_window("2w"), Ok(14 * 86_400));
        for bad in [
            "",
            "3日",
            "日",
            "d",
            "-1d",
            "30",
            "1e3d",
            "99999999999999999999w",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_window("3日"),
            Err("`3日`: the unit must be h, d or w".to_owned())
        );
        assert!(parse_window("9999999999999w").is_err(), "no overflow");
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum IacCommand {
    /// Scan `.tf` files, directories (recursively, each directory a module) and plan JSON
    /// (`terraform show -json`) with the same rules as `audit`.
    #[command(after_help = IAC_HELP)]
    Scan(Box<IacScanArgs>),
    /// Write a complete Terraform module, or a CloudFormation template, that encrypts X-Ray with
    /// a CMK, from the policy file.
    #[command(after_help = IAC_GENERATE_HELP)]
    Generate(IacGenerateArgs),
}

const IAC_HELP: &str = "\
What cannot be resolved from the code (a variable without a value, a data source, an unknown
function; in a CloudFormation template a parameter without a Default, an import, AWS::AccountId or
AWS::Region unless --parameters gives them) is unknown: a low-confidence `error` result, never a
pass.

Exit codes:
  0  clean: nothing failed at or above --fail-on, and everything could be decided
  1  findings at or above --fail-on
  2  usage or configuration error
  3  incomplete: a file did not parse, or a check could not be decided (takes precedence over 1)

GitHub code scanning: `xray-cmk iac scan . --format sarif --out xray-cmk.sarif`, then upload the
file with github/codeql-action/upload-sarif.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IacFormat {
    Table,
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

#[derive(Debug, Args)]
pub(crate) struct IacScanArgs {
    /// `.tf` files, directories, plan JSON files and CloudFormation templates (`.yaml`, `.yml`,
    /// `.json`, `.template`; SAM and CDK output included).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// CloudFormation parameter values, as `aws cloudformation deploy --parameter-overrides`
    /// takes them (`Key=Value` pairs, or JSON); `AWS::AccountId` and `AWS::Region` set the pseudo
    /// parameters, unknown otherwise.
    #[arg(long, value_name = "FILE")]
    pub(crate) parameters: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = IacFormat::Table)]
    pub(crate) format: IacFormat,
    /// Write the output to this file instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub(crate) out: Option<PathBuf>,
    /// Organization policy file. Default: ./xray-cmk.toml if present, else built-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    /// Lowest severity of a failure that makes the exit code 1.
    #[arg(long, default_value = "low", value_name = "SEVERITY")]
    pub(crate) fail_on: Severity,
    /// Run only these rules (comma separated, `*` wildcards).
    #[arg(long, value_delimiter = ',', value_name = "RULE,...")]
    pub(crate) rules: Vec<String>,
    /// Leave these rules out (comma separated, `*` wildcards).
    #[arg(long, value_delimiter = ',', value_name = "RULE,...")]
    pub(crate) skip_rules: Vec<String>,
    /// No closing summary line on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
}

const IAC_GENERATE_HELP: &str = "\
Terraform (the default): a module with the key, its alias and aws_xray_encryption_config, for one
account (--account) and region. CloudFormation has no resource for X-Ray's encryption, so the
template (--format cloudformation) holds the key, its alias, and the guardrail's AWS Config rule
with an automatic remediation (AWSConfigRemediation-UpdateXRayKMSKey) that puts X-Ray on the key
and back on it after any drift; it needs AWS Config recording in the account-region, and takes
the account and region from the stack. Do not deploy it where the `guard generate` StackSet
runs: both create the Config rule xray-cmk-encryption.

Examples:
  xray-cmk iac generate --account 111122223333 --region eu-west-1 --out infra/xray
  xray-cmk iac generate --format cloudformation --out infra/xray
  xray-cmk iac scan infra/xray";

/// What `iac generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GenerateFormat {
    /// A Terraform module: DIR/main.tf.
    Terraform,
    /// A CloudFormation template: DIR/xray-cmk.template.yaml.
    Cloudformation,
}

#[derive(Debug, Args)]
pub(crate) struct IacGenerateArgs {
    #[arg(long, value_enum, default_value_t = GenerateFormat::Terraform)]
    pub(crate) format: GenerateFormat,
    /// The 12-digit account the module is for (`{account}` in the policy's access lists).
    /// Required for Terraform; a CloudFormation template takes the stack's account.
    #[arg(long, required_if_eq("format", "terraform"))]
    pub(crate) account: Option<String>,
    /// The region X-Ray encrypts in (the module's default; a variable). Default: us-east-1. A
    /// CloudFormation template takes the stack's region.
    #[arg(long, value_parser = parse_region)]
    pub(crate) region: Option<String>,
    /// Organization policy file. Default: ./xray-cmk.toml if present, else built-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    /// Write DIR/main.tf (or DIR/xray-cmk.template.yaml) instead of printing it.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GuardCommand {
    /// Write the guardrail into DIR: a CloudFormation StackSet template, an SCP, a Terraform
    /// module and a README with the commands that deploy them.
    #[command(after_help = GUARD_HELP)]
    Generate(GuardGenerateArgs),
}

const GUARD_HELP: &str = "\
What it writes into DIR:
  xray-cmk-guard.stackset.yaml  CloudFormation for a service-managed StackSet: the AWS Config rule
                                xray-cmk-encryption (a Guard 2.x custom policy, no Lambda) that is
                                compliant only when X-Ray uses one of the approved key ARNs;
                                EventBridge rules that alert on PutEncryptionConfig, on KMS
                                DisableKey / ScheduleKeyDeletion / PutKeyPolicy / DisableKeyRotation
                                and on the rule going NON_COMPLIANT; an SNS topic; with
                                [guard] auto_remediate, the SSM remediation and its role
  xray-cmk-guard.scp.json       the SCP: only automation and break-glass roles may change X-Ray's
                                encryption, only break-glass roles the keys tagged managed-by=xray-cmk
  xray-cmk-encryption.guard     the Guard rule with the keys written in, for cfn-guard
  terraform/                    the same as Terraform (terraform/scp/ for the management account)
  README.md                     what each resource does, and the deployment commands

The roles, the alert topic and auto_remediate come from the policy file's [guard] table
(`xray-cmk policy init` documents it). The approved keys are key ARNs, never aliases: AWS Config
records the key ARN X-Ray resolved. Give them with --key-arns FILE (one ARN per line, # comments),
or take them from the latest recorded audit with --from-history: its customer managed keys that
are enabled and passed every rule that judged them.

Examples:
  xray-cmk guard generate --out guard/ --key-arns approved-keys.txt
  xray-cmk guard generate --out guard/ --from-history --force

Exit codes: 0 written; 2 usage or configuration error (nothing is written).";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("keys").required(true).args(["key_arns", "from_history"])))]
pub(crate) struct GuardGenerateArgs {
    /// The directory to write; created if missing. A non-empty one needs --force.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// The approved KMS key ARNs, one per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub(crate) key_arns: Option<PathBuf>,
    /// Take the approved keys from the latest audit in the history database.
    #[arg(long)]
    pub(crate) from_history: bool,
    /// Organization policy file. Default: ./xray-cmk.toml if present, else built-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    /// Write into a non-empty DIR, replacing the files it generates.
    #[arg(long)]
    pub(crate) force: bool,
    /// The database --from-history reads.
    #[command(flatten)]
    pub(crate) history: HistoryDb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IamPolicyMode {
    /// Read-only: what `audit` calls, in the caller's account and in every audited account.
    Audit,
    /// What `apply` and `verify` call besides: create and fix keys, switch X-Ray, write and read
    /// a marked trace. Never key deletion or disabling.
    Remediate,
    /// What `erase`, `restore` and `rotate-now` call: DisableKey, EnableKey, RotateKeyOnDemand,
    /// ScheduleKeyDeletion and CancelKeyDeletion, with the reads they need.
    Respond,
}

#[derive(Debug, Args)]
pub(crate) struct IamPolicyArgs {
    /// Which commands the policy covers.
    #[arg(long, value_enum, default_value_t = IamPolicyMode::Audit)]
    pub(crate) mode: IamPolicyMode,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Write a commented policy file with every default (`-` for stdout).
    Init(PolicyInitArgs),
    /// Validate a policy file; every error names the file, line and key.
    Check {
        /// Default: ./xray-cmk.toml
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PolicyInitArgs {
    /// Where to write it. Default: ./xray-cmk.toml
    pub(crate) path: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    /// JSON Lines: one result per line as soon as its account is done, then a summary line.
    Jsonl,
    /// CSV, one row per result, streamed per account (audit only).
    Csv,
    /// AWS Security Finding Format, `{"Findings": [...]}` for Security Hub's BatchImportFindings
    /// (audit only).
    Asff,
}

fn parse_region(s: &str) -> Result<String, xray_cmk_core::region::InvalidRegion> {
    xray_cmk_core::region::validate_region(s).map(|()| s.to_owned())
}

/// The accounts and regions `audit`, `plan` and `verify` cover, and how AWS is reached.
#[derive(Debug, Args)]
#[command(next_help_heading = "Scope")]
pub(crate) struct ScanArgs {
    /// Every ACTIVE account of the organization (organizations:ListAccounts), the management
    /// account included. Run from the management or a delegated-admin account.
    #[arg(long)]
    pub(crate) org: bool,
    /// These accounts: IDs, comma separated, or @FILE with one ID per line.
    #[arg(long, value_delimiter = ',', value_name = "ID,...|@FILE")]
    pub(crate) accounts: Vec<String>,
    /// The accounts of this organizational unit and all its children (repeatable).
    #[arg(long, value_name = "OU_ID")]
    pub(crate) ou: Vec<String>,
    /// Leave these accounts out: IDs, comma separated, or @FILE.
    #[arg(long, value_delimiter = ',', value_name = "ID,...|@FILE")]
    pub(crate) exclude_accounts: Vec<String>,
    /// The X-Ray regions, comma separated. Default: every region enabled for each account
    /// (account:ListRegions).
    #[arg(long, value_delimiter = ',', value_parser = parse_region, value_name = "REGION,...")]
    pub(crate) regions: Vec<String>,
    #[command(flatten)]
    pub(crate) aws: AwsAccess,
    #[command(flatten)]
    pub(crate) legacy_region: LegacyHomeRegion,
    /// Maximum requests in flight per AWS service (each service has its own limit, so a busy
    /// API cannot starve the others). Accounts are scanned this many at a time.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512), help_heading = "AWS access")]
    pub(crate) concurrency: u16,
}

/// Which rules `audit` runs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Rules")]
pub(crate) struct RuleSelection {
    /// Run only these rules (comma separated, `*` wildcards: `xray-*`). Only what they need is
    /// collected, so a narrower audit makes fewer API calls. The guardrail's rules run only when
    /// named here (`guard-*`).
    #[arg(long, value_delimiter = ',', value_name = "RULE,...")]
    pub(crate) rules: Vec<String>,
    /// Leave these rules out (comma separated, `*` wildcards).
    #[arg(long, value_delimiter = ',', value_name = "RULE,...")]
    pub(crate) skip_rules: Vec<String>,
}

/// What `audit` writes, and what makes its exit code 1.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub(crate) struct AuditOutput {
    /// Output format. JSON follows docs/json-v1.md.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
    /// Lowest severity of a failure that makes the exit code 1.
    #[arg(long, default_value = "low", value_name = "SEVERITY")]
    pub(crate) fail_on: Severity,
    /// The table (the default format) lists every result, passes included; without it, only
    /// failures and errors, grouped by account and region, then a line per rule.
    #[arg(long)]
    pub(crate) show_passes: bool,
    /// Write run statistics as JSON: elapsed time, HTTP requests by service (attempts) and
    /// operations by IAM action name.
    #[arg(long, value_name = "PATH")]
    pub(crate) stats_out: Option<PathBuf>,
    /// No progress bar and no closing summary line on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Also send every result to AWS Security Hub (BatchImportFindings, in each result's account
    /// and region, as ASFF); needs securityhub:BatchImportFindings there.
    #[arg(long)]
    pub(crate) to_security_hub: bool,
}

/// `xray-cmk audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditCommandArgs {
    /// Organization policy file. Default: ./xray-cmk.toml if present, else built-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) scan: ScanArgs,
    #[command(flatten)]
    pub(crate) select: RuleSelection,
    #[command(flatten)]
    pub(crate) output: AuditOutput,
    #[command(flatten)]
    pub(crate) config: ConfigSourceArgs,
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
}

/// The deprecation line for a flag a command used to accept and ignore.
pub(crate) fn no_effect_line(flag: &str, command: &str) -> String {
    format!("xray-cmk: {flag} has no effect on {command} and is deprecated; it will be refused in a later release")
}

/// Flags `plan` took from `audit` and ignored: still accepted for one release, hidden, each
/// with a line on stderr.
#[derive(Debug, Args)]
pub(crate) struct PlanNoEffect {
    #[arg(long, hide = true, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    #[arg(long, hide = true, value_name = "PATH")]
    stats_out: Option<PathBuf>,
    #[arg(long, hide = true)]
    to_security_hub: bool,
}

impl PlanNoEffect {
    /// The flags given, as they are spelt.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        [
            ("--fail-on", self.fail_on.is_some()),
            ("--stats-out", self.stats_out.is_some()),
            ("--to-security-hub", self.to_security_hub),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

/// Flags `verify` took from `audit` and ignored: still accepted for one release, hidden, each
/// with a line on stderr.
#[derive(Debug, Args)]
pub(crate) struct VerifyNoEffect {
    #[arg(long, hide = true, value_enum)]
    format: Option<Format>,
    #[arg(long, hide = true, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    #[arg(long, hide = true, value_delimiter = ',', value_name = "RULE,...")]
    rules: Vec<String>,
    #[arg(long, hide = true, value_delimiter = ',', value_name = "RULE,...")]
    skip_rules: Vec<String>,
    #[arg(long, hide = true, value_name = "PATH")]
    policy: Option<PathBuf>,
    #[arg(long, hide = true, value_name = "PATH")]
    stats_out: Option<PathBuf>,
    #[arg(long, short, hide = true)]
    quiet: bool,
    #[arg(long, hide = true)]
    to_security_hub: bool,
}

impl VerifyNoEffect {
    /// The flags given, as they are spelt.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        [
            ("--format", self.format.is_some()),
            ("--fail-on", self.fail_on.is_some()),
            ("--rules", !self.rules.is_empty()),
            ("--skip-rules", !self.skip_rules.is_empty()),
            ("--policy", self.policy.is_some()),
            ("--stats-out", self.stats_out.is_some()),
            ("--quiet", self.quiet),
            ("--to-security-hub", self.to_security_hub),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

/// Reading X-Ray's configuration from AWS Config instead of from each account-region.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS Config aggregator")]
pub(crate) struct ConfigSourceArgs {
    /// Read every account-region's X-Ray encryption configuration from this AWS Config
    /// aggregator (its `AWS::XRay::EncryptionConfig` items, with
    /// config:SelectAggregateResourceConfig in the caller's account and home region); the keys,
    /// trails and everything else are still read live. Account-regions without a current item
    /// no older than --max-config-age are read live. An aggregator that cannot be read makes
    /// every result an error (exit 3).
    #[arg(long, value_name = "NAME", value_parser = parse_aggregator_name)]
    pub(crate) from_config_aggregator: Option<String>,
    /// The oldest configuration item used (h, d or w): older ones are read live.
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_window, requires = "from_config_aggregator")]
    pub(crate) max_config_age: u64,
}

/// An aggregator name as AWS Config allows it: 1-256 of `[\w\-]`.
fn parse_aggregator_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{}`: an aggregator name is 1-256 letters, digits, `_` or `-`",
            xray_cmk_core::text::shortened(s, 40)
        ))
    }
}

/// The history database, for the commands that read it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "History")]
pub(crate) struct HistoryDb {
    /// History database (SQLite). Default: $XDG_DATA_HOME/xray-cmk/history.db, else
    /// ~/.local/share/xray-cmk/history.db.
    #[arg(long, value_name = "PATH", env = "XRAY_CMK_DB")]
    pub(crate) db: Option<PathBuf>,
}

/// Where runs are recorded for `xray-cmk kpi`, for the commands that record.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "History")]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    pub(crate) store: HistoryDb,
    /// Do not record this run (also XRAY_CMK_NO_HISTORY=1, unless --db is given).
    #[arg(long)]
    pub(crate) no_history: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RetryModeArg {
    Standard,
    Adaptive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Organization policy file. Default: ./xray-cmk.toml if present, else built-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    /// Output format: table or json (jsonl writes the same JSON).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
    /// Also write the plan (JSON, versioned) to this file.
    #[arg(long, value_name = "PATH")]
    pub(crate) out: Option<PathBuf>,
    /// No line on stderr when the plan is incomplete.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) scan: ScanArgs,
    /// Also run these opt-in rules (the guardrail's, `guard-*`; comma separated, `*` wildcards):
    /// what they fail is listed as not fixed by apply. Every other rule always runs.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "RULE,...",
        help_heading = "Rules"
    )]
    pub(crate) rules: Vec<String>,
    /// Leave these out of --rules (comma separated, `*` wildcards).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "RULE,...",
        help_heading = "Rules"
    )]
    pub(crate) skip_rules: Vec<String>,
    #[command(flatten)]
    pub(crate) no_effect: PlanNoEffect,
}

const APPLY_HELP: &str = "\
Before anything changes, every target in scope is read (its account reached, X-Ray's encryption
configuration read) and every step's precondition is checked against AWS: a plan that is stale
(X-Ray or a key policy changed since), an alias taken by another key, or a read that is denied
stops apply and nothing changed. Steps already in place are skipped, so running apply again after
a crash converges without duplicate keys or aliases.

Exit codes:
  0  every target in scope applied or already in place
  1  some target failed: it stopped at that step, and the output says what state it was left in
  2  usage error, an --only that selects no target of the plan, or a plan that is edited, stale,
     from another version or malformed: nothing changed
  3  some target in scope could not be read (its account could not be reached, or X-Ray's
     configuration there could not be read): nothing changed (takes precedence over 2, except a
     plan made for another principal, refused before any account is reached)";

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The plan file `xray-cmk plan --out` wrote.
    pub(crate) plan: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub(crate) yes: bool,
    /// Organization policy file, used to re-check before the switch that X-Ray can use the key.
    /// Default: ./xray-cmk.toml if present, else built-in defaults.
    #[arg(long, value_name = "PATH")]
    pub(crate) policy: Option<PathBuf>,
    /// Only these targets: ACCOUNT or ACCOUNT/REGION (repeatable, or comma separated).
    #[arg(long, value_delimiter = ',', value_name = "ACCOUNT[/REGION]")]
    pub(crate) only: Vec<xray_cmk_core::remediation::apply::Only>,
    /// Also write the result (JSON) to this file.
    #[arg(long, value_name = "PATH")]
    pub(crate) out: Option<PathBuf>,
    /// Targets applied at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) concurrency: u16,
    /// Seconds to wait for X-Ray's encryption status to become ACTIVE.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub(crate) wait_timeout: u64,
    /// Seconds to keep trying to read the verification trace back.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) verify_timeout: u64,
    /// No line per target on stderr as it finishes.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Write run statistics as JSON: elapsed time, HTTP requests by service, operations by IAM
    /// action name (pre-flight included).
    #[arg(long, value_name = "PATH")]
    pub(crate) stats_out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) aws: AwsAccess,
    #[command(flatten)]
    pub(crate) legacy_region: LegacyHomeRegion,
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Only these targets: ACCOUNT or ACCOUNT/REGION (repeatable, or comma separated).
    #[arg(long, value_delimiter = ',', value_name = "ACCOUNT[/REGION]")]
    pub(crate) only: Vec<xray_cmk_core::remediation::apply::Only>,
    /// Seconds to keep trying to read each trace back.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) timeout: u64,
    #[command(flatten)]
    pub(crate) scan: ScanArgs,
    #[command(flatten)]
    pub(crate) no_effect: VerifyNoEffect,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub(crate) format: ListFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A rule id, e.g. xray-default-encryption.
    pub(crate) rule: String,
}

/// Colour only on a terminal, and never when NO_COLOR is set to anything non-empty.
pub(crate) fn use_color(no_color_flag: bool) -> bool {
    !no_color_flag
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}
