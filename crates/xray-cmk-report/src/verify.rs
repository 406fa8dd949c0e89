//! `xray-cmk verify`'s result table: one line per account and region, then the counts.

use std::fmt::Write as _;

/// How one target's check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new trace was written and read back; what was seen.
    Verified(String),
    /// X-Ray refused the segment or did not give it back.
    Failed(String),
    /// The check could not be made (a call was denied, say): unknown, never a pass.
    Unchecked(String),
}

/// One target's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub account: String,
    pub region: String,
    pub outcome: Outcome,
}

/// How many targets ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub verified: usize,
    pub failed: usize,
    pub unchecked: usize,
}

/// The table, sorted by account and region, and its counts.
pub fn render(mut rows: Vec<Row>) -> (String, Counts) {
    rows.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    let mut out = String::new();
    let mut counts = Counts::default();
    for row in &rows {
        let (word, msg) = match &row.outcome {
            Outcome::Verified(m) => {
                counts.verified += 1;
                ("ok", m)
            }
            Outcome::Failed(m) => {
                counts.failed += 1;
                ("FAILED", m)
            }
            Outcome::Unchecked(m) => {
                counts.unchecked += 1;
                ("ERROR", m)
            }
        };
        let (account, region) = (&row.account, &row.region);
        // Text from AWS never acts on the terminal (escapes, bidi controls).
        let msg = xray_cmk_core::text::for_terminal(msg);
        let _ = writeln!(out, "{account} {region:<15} {word:<7} {msg}");
    }
    let _ = writeln!(
        out,
        "\n{} targets · {} verified · {} failed · {} could not be checked",
        rows.len(),
        counts.verified,
        counts.failed,
        counts.unchecked
    );
    (out, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(account: &str, region: &str, outcome: Outcome) -> Row {
        Row {
            account: account.into(),
            region: region.into(),
            outcome,
        }
    }

    #[test]
    fn sorted_rows_then_the_counts_and_text_from_aws_escaped() {
        let (text, counts) = render(vec![
            row(
                "222222222222",
                "*",
                Outcome::Unchecked("could not be checked: sts:AssumeRole: denied".into()),
            ),
            row(
                "111111111111",
                "us-east-1",
                Outcome::Verified("read back".into()),
            ),
            row(
                "111111111111",
                "eu-west-1",
                Outcome::Failed("not stored \u{1b}[31m".into()),
            ),
        ]);
        insta::assert_snapshot!(text, @r"
        111111111111 eu-west-1       FAILED  not stored \u{1b}[31m
        111111111111 us-east-1       ok      read back
        222222222222 *               ERROR   could not be checked: sts:AssumeRole: denied

        3 targets · 1 verified · 1 failed · 1 could not be checked
        ");
        assert_eq!(
            counts,
            Counts {
                verified: 1,
                failed: 1,
                unchecked: 1
            }
        );
    }
}
