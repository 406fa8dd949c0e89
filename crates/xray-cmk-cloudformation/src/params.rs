//! `--parameters FILE`: parameter values in the formats `aws cloudformation deploy
//! --parameter-overrides` takes, plus `AWS::AccountId` and `AWS::Region` for the pseudo
//! parameters:
//!
//! - `Key=Value` pairs, separated by whitespace or newlines (`#` starts a comment line);
//! - JSON: `[{"ParameterKey": "K", "ParameterValue": "V"}]` (as `create-stack` takes), `["K=V"]`,
//!   `{"Parameters": {"K": "V"}}` (as CodePipeline takes) or `{"K": "V"}`.

use std::path::Path;

use serde_json::Value as J;

use crate::eval::Parameters;

#[derive(Debug, thiserror::Error)]
pub enum ParametersError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: String, what: String },
}

fn scalar(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        J::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

fn pair(text: &str) -> Option<(String, String)> {
    let (k, v) = text.split_once('=')?;
    let k = k.trim();
    (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
}

/// The values of a parameters file.
pub fn read_parameters(path: &Path) -> Result<Parameters, ParametersError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| ParametersError::Read {
        path: shown.clone(),
        source,
    })?;
    let invalid = |what: String| ParametersError::Invalid {
        path: shown.clone(),
        what,
    };
    if !meta.is_file() || meta.len() > 1024 * 1024 {
        return Err(invalid("not a regular file of at most 1 MiB".to_owned()));
    }
    let text = std::fs::read_to_string(path).map_err(|source| ParametersError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text).map_err(invalid)
}

fn parse(text: &str) -> Result<Parameters, String> {
    let mut out = Parameters::default();
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let json: J = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        match &json {
            J::Array(items) => {
                for item in items {
                    let (k, v) = match item {
                        J::String(s) => pair(s).ok_or_else(|| format!("`{s}` is not Key=Value"))?,
                        J::Object(o) => {
                            let k = o.get("ParameterKey").and_then(J::as_str);
                            let v = o.get("ParameterValue").and_then(scalar);
                            match (k, v) {
                                (Some(k), Some(v)) => (k.to_owned(), v),
                                // `UsePreviousValue` keeps a value only the stack knows.
                                _ => continue,
                            }
                        }
                        other => return Err(format!("unexpected entry {other}")),
                    };
                    out.values.insert(k, v);
                }
            }
            J::Object(o) => {
                let map = match o.get("Parameters") {
                    Some(J::Object(p)) => p,
                    _ => o,
                };
                for (k, v) in map {
                    let v = scalar(v).ok_or_else(|| format!("{k}: not a scalar value"))?;
                    out.values.insert(k.clone(), v);
                }
            }
            _ => return Err("expected a JSON list or object".to_owned()),
        }
        return Ok(out);
    }
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for token in line.split_whitespace() {
            let (k, v) = pair(token).ok_or_else(|| format!("`{token}` is not Key=Value"))?;
            out.values.insert(k, v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn every_deploy_format_reads_to_the_same_values() {
        let want: Vec<(String, String)> = vec![
            ("AWS::Region".into(), "eu-west-1".into()),
            ("Mode".into(), "Active".into()),
        ];
        for text in [
            "Mode=Active AWS::Region=eu-west-1\n",
            "# comment\nMode=Active\nAWS::Region=eu-west-1\n",
            r#"[{"ParameterKey": "Mode", "ParameterValue": "Active"}, {"ParameterKey": "AWS::Region", "ParameterValue": "eu-west-1"}]"#,
            r#"["Mode=Active", "AWS::Region=eu-west-1"]"#,
            r#"{"Parameters": {"Mode": "Active", "AWS::Region": "eu-west-1"}}"#,
            r#"{"Mode": "Active", "AWS::Region": "eu-west-1"}"#,
        ] {
            let got: Vec<(String, String)> = parse(text).expect(text).values.into_iter().collect();
            assert_eq!(got, want, "{text}");
        }
        assert!(parse("Mode").is_err());
        assert!(parse("[1]").is_err());
    }
}
