//! `xray-cmk debug …`: hidden entry points for developers, not a stable interface.
//!
//! `debug decide-key-policy` exposes [`PolicyDocument::evaluate`] as JSON Lines so that another,
//! independent evaluator (the emulator's `iam_eval.py`) can be compared with it case by case
//! (`emulator/differential.py`). Every input line gets exactly one output line, in order; a line
//! that cannot be read becomes an `invalid` answer, never the end of the stream.

use std::io::{BufRead, BufReader, BufWriter, Write};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value};
use xray_cmk_core::key_policy::{Context, Decision, PolicyDocument, Request};

use crate::cli::DebugCommand;
use crate::exit::Exit;

pub(crate) fn run(cmd: &DebugCommand) -> Result<Exit> {
    match cmd {
        DebugCommand::DecideKeyPolicy => {
            decide_key_policy(BufReader::new(std::io::stdin()), std::io::stdout().lock())?;
            Ok(Exit::Clean)
        }
    }
}

/// One case per input line, one answer per output line. Output is buffered and flushed whenever
/// the input has nothing more buffered, so a caller that writes one case and waits gets its
/// answer, and a caller that streams many pays for few writes.
fn decide_key_policy<R: std::io::Read>(mut input: BufReader<R>, output: impl Write) -> Result<()> {
    let mut out = BufWriter::new(output);
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        if input.buffer().is_empty() {
            out.flush().context("writing to stdout")?;
        }
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading stdin")?
            == 0
        {
            break;
        }
        number += 1;
        let answer = match std::str::from_utf8(&line) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => decide_line(text.trim()),
            Err(e) => Answer::BadLine(Value::Null, format!("not UTF-8: {e}")),
        };
        let answer = match answer {
            Answer::Decided(v) => v,
            Answer::BadLine(id, why) => invalid(id, format!("input line {number}: {why}")),
        };
        serde_json::to_writer(&mut out, &answer).context("writing to stdout")?;
        out.write_all(b"\n").context("writing to stdout")?;
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}

enum Answer {
    Decided(Value),
    /// The line is not a well-formed case: its id (when it had one) and why.
    BadLine(Value, String),
}

impl From<Value> for Answer {
    fn from(v: Value) -> Self {
        Answer::Decided(v)
    }
}

fn decide_line(text: &str) -> Answer {
    let case: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Answer::BadLine(Value::Null, format!("not JSON: {e}")),
    };
    let Value::Object(case) = case else {
        return Answer::BadLine(Value::Null, "a case must be a JSON object".into());
    };
    let id = case.get("id").cloned().unwrap_or(Value::Null);
    let bad = |why: &str| Answer::BadLine(id.clone(), why.to_string());
    let policy_text = match case.get("policy") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => return bad("`policy` must be an object or a JSON string"),
    };
    let Some(principal) = case.get("principal").and_then(Value::as_str) else {
        return bad("`principal` must be a string");
    };
    let Some(action) = case.get("action").and_then(Value::as_str) else {
        return bad("`action` must be a string");
    };
    let context = match case.get("context") {
        None | Some(Value::Null) => Context::new(),
        Some(Value::Object(map)) => match context(map) {
            Ok(ctx) => ctx,
            Err(why) => return bad(&why),
        },
        Some(_) => return bad("`context` must map keys to lists of strings"),
    };
    let policy = match PolicyDocument::parse(&policy_text) {
        Ok(p) => p,
        Err(e) => return invalid(id, e.to_string()).into(),
    };
    decision(
        id,
        policy.evaluate(&Request::new(principal, action, &context)),
    )
    .into()
}

fn context(map: &Map<String, Value>) -> Result<Context, String> {
    let mut ctx = Context::new();
    for (key, values) in map {
        let Value::Array(values) = values else {
            return Err(format!("context key `{key}`: expected a list of strings"));
        };
        let values = values
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("context key `{key}`: expected a list of strings"))?;
        ctx = ctx.with_values(key, values);
    }
    Ok(ctx)
}

fn decision(id: Value, decision: Decision) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), id);
    let (kind, sid) = match decision {
        Decision::Allowed { sid } => ("allowed", sid),
        Decision::DelegatedToIam { account, sid } => {
            out.insert("account".into(), account.into());
            ("delegated", sid)
        }
        Decision::ExplicitDeny { sid } => ("explicit_deny", sid),
        Decision::NotAllowed => ("not_allowed", None),
        Decision::Undetermined { reason } => {
            out.insert("reason".into(), reason.into());
            ("undetermined", None)
        }
    };
    out.insert("decision".into(), kind.into());
    if let Some(sid) = sid {
        out.insert("sid".into(), sid.into());
    }
    Value::Object(out)
}

fn invalid(id: Value, reason: String) -> Value {
    serde_json::json!({"id": id, "decision": "invalid", "reason": reason})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(input: &str) -> Vec<Value> {
        let mut out = Vec::new();
        decide_key_policy(BufReader::new(input.as_bytes()), &mut out).expect("runs");
        String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    #[test]
    fn one_answer_per_case_in_order_and_bad_lines_do_not_stop_the_stream() {
        let policy =
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#;
        let input = format!(
            "{{\"id\":1,\"policy\":{policy},\"principal\":\"111122223333\",\"action\":\"kms:Decrypt\",\"context\":{{}}}}\n\
             not json\n\
             \n\
             {{\"id\":\"x\",\"policy\":{policy},\"action\":\"kms:Decrypt\"}}\n\
             {{\"id\":3,\"policy\":\"{{}}\",\"principal\":\"p\",\"action\":\"a\"}}\n\
             {{\"id\":4,\"policy\":{policy},\"principal\":\"p\",\"action\":\"a\",\"context\":{{\"k\":[1]}}}}"
        );
        let got = answers(&input);
        assert_eq!(got.len(), 5);
        assert_eq!(got[0]["decision"], "allowed");
        assert_eq!(got[1]["decision"], "invalid");
        assert!(got[1]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("input line 2: not JSON")));
        assert_eq!(got[2]["id"], "x");
        assert_eq!(got[2]["decision"], "invalid");
        assert_eq!(got[3]["id"], 3);
        assert_eq!(got[3]["reason"], "the key policy has no `Statement`");
        assert_eq!(got[4]["decision"], "invalid");
    }

    #[test]
    fn invalid_utf8_is_an_invalid_line() {
        let mut out = Vec::new();
        decide_key_policy(BufReader::new(&b"\xff\xfe\n"[..]), &mut out).expect("runs");
        let v: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["decision"], "invalid");
    }
}
