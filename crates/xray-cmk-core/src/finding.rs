//! Results of rules. Every rule emits a [`Finding`] for every target it judged: a pass, a fail, or an
//! error when the input could not be read (unknown is never a pass).

use std::fmt;

/// How bad a failure is. Ordered, so `--fail-on` can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}` (expected low, medium, high or critical)")]
pub struct UnknownSeverity(pub String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// The outcome of one rule on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    Fail,
    /// The rule could not decide because its input could not be read.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// How sure the rule is, separate from how bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One result. Built only through [`FindingBuilder`] so a result always names its target, and
/// read through its accessors: no code outside the core can make or change one by hand.
///
/// ```compile_fail,E0451
/// // A result cannot be written as a literal outside the core ...
/// let f = xray_cmk_core::Finding {
///     rule: xray_cmk_core::rules::ids::XRAY_DEFAULT_ENCRYPTION,
///     status: xray_cmk_core::Status::Pass,
/// };
/// ```
///
/// ```compile_fail,E0616
/// // ... nor changed after it was built: a failure cannot be turned into a pass.
/// fn hide(f: &mut xray_cmk_core::Finding) {
///     f.status = xray_cmk_core::Status::Pass;
/// }
/// ```
///
/// ```
/// // Reading it goes through the accessors.
/// fn is_error(f: &xray_cmk_core::Finding) -> bool {
///     f.status() == xray_cmk_core::Status::Error
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub(crate) rule: crate::RuleId,
    pub(crate) status: Status,
    pub(crate) severity: Severity,
    pub(crate) confidence: Confidence,
    pub(crate) account: String,
    pub(crate) region: String,
    /// The resource judged; stable across a fix so a fail and its later pass share a fingerprint.
    pub(crate) resource: String,
    /// The KMS key involved, when there is one.
    pub(crate) key: Option<String>,
    pub(crate) message: String,
    /// The policy exemption that matched this failure, if any.
    pub(crate) suppression: Option<Suppression>,
    /// Where in the source it was found, for Terraform.
    pub(crate) location: Option<crate::model::SourceLocation>,
    /// Where a live audit read what the result judged; `None` for IaC scans.
    pub(crate) source: Option<crate::model::ReadFrom>,
}

impl Finding {
    pub fn rule(&self) -> crate::RuleId {
        self.rule
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn severity(&self) -> Severity {
        self.severity
    }

    pub fn confidence(&self) -> Confidence {
        self.confidence
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The resource judged; stable across a fix so a fail and its later pass share a fingerprint.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The KMS key involved, when there is one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The policy exemption that matched this failure, if any.
    pub fn suppression(&self) -> Option<&Suppression> {
        self.suppression.as_ref()
    }

    /// Where in the source it was found, for Terraform.
    pub fn location(&self) -> Option<&crate::model::SourceLocation> {
        self.location.as_ref()
    }

    /// Where a live audit read what the result judged; `None` for IaC scans.
    pub fn source(&self) -> Option<&crate::model::ReadFrom> {
        self.source.as_ref()
    }

    /// A failure an active exemption covers: reported, but not counted against compliance.
    pub fn is_suppressed(&self) -> bool {
        self.suppression.as_ref().is_some_and(|s| !s.expired)
    }

    /// A failure that counts: not suppressed.
    pub fn is_open_failure(&self) -> bool {
        self.status == Status::Fail && !self.is_suppressed()
    }

    /// What identifies the result across runs: the rule and what it judged (account, region,
    /// resource), not the message. 32 hex digits of SHA-256.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let text = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            self.rule, self.account, self.region, self.resource
        );
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// An exemption from the policy file that matched a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub reason: String,
    /// `YYYY-MM-DD`, the last day it applies.
    pub expires: String,
    /// True when the exemption has expired: the failure is no longer suppressed.
    pub expired: bool,
}

/// The resource name used for X-Ray's per-region encryption configuration, which has no ARN.
pub const XRAY_ENCRYPTION_CONFIG: &str = "xray-encryption-config";

/// Builds a [`Finding`] from a rule's metadata and a target.
#[derive(Debug)]
pub struct FindingBuilder {
    rule: crate::RuleId,
    severity: Severity,
    account: String,
    region: String,
    resource: String,
    key: Option<String>,
    confidence: Confidence,
    location: Option<crate::model::SourceLocation>,
}

impl FindingBuilder {
    pub fn new(
        meta: &crate::RuleMeta,
        account: impl Into<String>,
        region: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            rule: meta.id,
            severity: meta.severity,
            account: account.into(),
            region: region.into(),
            resource: resource.into(),
            key: None,
            confidence: Confidence::High,
            location: None,
        }
    }

    /// Where the judged thing is declared, when it came from source.
    pub fn location(mut self, location: Option<&crate::model::SourceLocation>) -> Self {
        self.location = location.cloned();
        self
    }

    /// Names another resource than the one the builder was made for.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    pub fn key(mut self, key: Option<&str>) -> Self {
        self.key = key.map(str::to_owned);
        self
    }

    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    fn build(self, status: Status, message: String) -> Finding {
        Finding {
            rule: self.rule,
            status,
            severity: self.severity,
            confidence: self.confidence,
            account: self.account,
            region: self.region,
            resource: self.resource,
            key: self.key,
            message,
            suppression: None,
            location: self.location,
            source: None,
        }
    }

    pub fn pass(self, message: impl Into<String>) -> Finding {
        self.build(Status::Pass, message.into())
    }

    pub fn fail(self, message: impl Into<String>) -> Finding {
        self.build(Status::Fail, message.into())
    }

    /// An unknown result. Its confidence is always low: the rule could not look.
    pub fn error(self, message: impl Into<String>) -> Finding {
        self.confidence(Confidence::Low)
            .build(Status::Error, message.into())
    }
}
