//! What remediation creates: pure, so it can be reviewed in a plan and tested against the rules.

pub mod apply;
pub mod key_policy;
pub mod plan;
