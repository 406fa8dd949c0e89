//! Renderers over one [`Report`] value: a table for people and the frozen JSON v1 document for
//! programs. Renderers never decide anything; they only present what the core concluded.

pub mod apply;
pub mod asff;
pub mod csv;
pub mod evidence;
pub mod history;
pub mod html;
pub mod json_v1;
pub mod kpi;
pub mod plan;
pub mod sarif;
pub mod table;
pub mod verify;

use xray_cmk_core::{Finding, Summary};

/// What one scan covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// The policy file in force, if one was read.
    pub policy: Option<String>,
}

/// Everything a renderer needs about one scan.
#[derive(Debug, Clone)]
pub struct Report {
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub scope: Scope,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Report {
    /// A report whose findings were streamed elsewhere: only the summary is kept.
    pub fn summarised(
        tool_version: impl Into<String>,
        generated_at: impl Into<String>,
        scope: Scope,
        summary: Summary,
    ) -> Self {
        Self {
            tool_version: tool_version.into(),
            generated_at: generated_at.into(),
            scope,
            findings: Vec::new(),
            summary,
        }
    }

    pub fn new(
        tool_version: impl Into<String>,
        generated_at: impl Into<String>,
        scope: Scope,
        findings: Vec<Finding>,
    ) -> Self {
        let summary = Summary::from_findings(&findings);
        Self {
            tool_version: tool_version.into(),
            generated_at: generated_at.into(),
            scope,
            findings,
            summary,
        }
    }
}
