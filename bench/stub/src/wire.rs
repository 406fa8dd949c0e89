//! What a request is (service, operation, caller) and the answer in its protocol's wire shape:
//! awsJson 1.1 (KMS, CloudTrail, Organizations, Logs), restJson (X-Ray, Account), query (STS, IAM).
//!
//! All services share one endpoint (`AWS_ENDPOINT_URL`), so the service is the SigV4 credential
//! scope's, as the emulator's caller.py reads it; the signature itself is not checked.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::org::{self, Account, Key, KeyManager, Org, Posture, AWS_ALIASES, KEY_ALIAS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    RestJson,
    Query,
}

/// Operations the stub answers; `Other` gets the protocol's unknown-operation error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    StsGetCallerIdentity,
    StsAssumeRole,
    OrgListAccounts,
    OrgDescribeOrganization,
    CloudTrailListTrails,
    KmsListKeys,
    KmsListAliases,
    KmsDescribeKey,
    KmsGetKeyPolicy,
    KmsGetKeyRotationStatus,
    KmsListResourceTags,
    XrayGetEncryptionConfig,
    XrayGetTraceSegmentDestination,
    AccountListRegions,
    Other,
}

impl Op {
    pub const KNOWN: [Op; 14] = [
        Op::StsGetCallerIdentity,
        Op::StsAssumeRole,
        Op::OrgListAccounts,
        Op::OrgDescribeOrganization,
        Op::CloudTrailListTrails,
        Op::KmsListKeys,
        Op::KmsListAliases,
        Op::KmsDescribeKey,
        Op::KmsGetKeyPolicy,
        Op::KmsGetKeyRotationStatus,
        Op::KmsListResourceTags,
        Op::XrayGetEncryptionConfig,
        Op::XrayGetTraceSegmentDestination,
        Op::AccountListRegions,
    ];

    /// `service:Operation`, as bench/proxy.py names calls in its stats.
    pub fn name(self) -> &'static str {
        match self {
            Op::StsGetCallerIdentity => "sts:GetCallerIdentity",
            Op::StsAssumeRole => "sts:AssumeRole",
            Op::OrgListAccounts => "organizations:ListAccounts",
            Op::OrgDescribeOrganization => "organizations:DescribeOrganization",
            Op::CloudTrailListTrails => "cloudtrail:ListTrails",
            Op::KmsListKeys => "kms:ListKeys",
            Op::KmsListAliases => "kms:ListAliases",
            Op::KmsDescribeKey => "kms:DescribeKey",
            Op::KmsGetKeyPolicy => "kms:GetKeyPolicy",
            Op::KmsGetKeyRotationStatus => "kms:GetKeyRotationStatus",
            Op::KmsListResourceTags => "kms:ListResourceTags",
            Op::XrayGetEncryptionConfig => "xray:GetEncryptionConfig",
            Op::XrayGetTraceSegmentDestination => "xray:GetTraceSegmentDestination",
            Op::AccountListRegions => "account:ListRegions",
            Op::Other => "other",
        }
    }

    fn from_parts(service: &str, operation: &str) -> Op {
        Op::KNOWN
            .into_iter()
            .find(|op| {
                let (s, o) = op.name().split_once(':').unwrap_or(("", ""));
                s == service && o == operation
            })
            .unwrap_or(Op::Other)
    }
}

/// A signed AWS request, identified.
#[derive(Debug)]
pub struct Call<'a> {
    pub access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub protocol: Protocol,
    pub op: Op,
    /// The operation's name as sent (for `Other`).
    pub operation: Cow<'a, str>,
}

impl Call<'_> {
    pub fn stat_name(&self) -> String {
        match self.op {
            Op::Other => format!("{}:{}", self.service, self.operation),
            op => op.name().to_owned(),
        }
    }
}

/// (access key, region, service) from `Credential=AKID/date/region/service/aws4_request`.
pub fn credential_scope(authorization: &str) -> Option<(&str, &str, &str)> {
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let mut parts = scope.split('/');
    let (key, _date, region, service, term) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (term == "aws4_request" && parts.next().is_none()).then_some((key, region, service))
}

pub fn identify<'a>(
    authorization: &'a str,
    target: Option<&'a str>,
    path: &'a str,
    body: &[u8],
) -> Option<Call<'a>> {
    let (access_key, region, service) = credential_scope(authorization)?;
    let (protocol, operation): (Protocol, Cow<'a, str>) = if let Some(target) = target {
        (
            Protocol::Json,
            Cow::Borrowed(target.rsplit('.').next().unwrap_or("")),
        )
    } else {
        match (service, path) {
            ("sts" | "iam", _) => (
                Protocol::Query,
                Cow::Owned(form_value(body, "Action").unwrap_or_default()),
            ),
            ("xray", "/EncryptionConfig") => (Protocol::RestJson, "GetEncryptionConfig".into()),
            ("xray", "/GetTraceSegmentDestination") => {
                (Protocol::RestJson, "GetTraceSegmentDestination".into())
            }
            ("account", "/listRegions") => (Protocol::RestJson, "ListRegions".into()),
            (_, other) => (Protocol::RestJson, other.into()),
        }
    };
    Some(Call {
        access_key,
        region,
        service,
        protocol,
        op: Op::from_parts(service, &operation),
        operation,
    })
}

/// One field of an `application/x-www-form-urlencoded` body, decoded.
pub fn form_value(body: &[u8], name: &str) -> Option<String> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        (&pair[..eq] == name.as_bytes()).then(|| percent_decode(&pair[eq + 1..]))
    })
}

fn percent_decode(s: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Access keys the stub issues in AssumeRole: `ASIA` + the 12-digit account + `STUB`.
pub fn access_key_for(account: &str) -> String {
    format!("ASIA{account}STUB")
}

/// The account an access key belongs to; None for keys the stub did not issue (the management
/// account's static `test`, as moto maps unknown keys to its default account).
pub fn account_of_key(key: &str) -> Option<&str> {
    let acct = key.strip_prefix("ASIA")?.strip_suffix("STUB")?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub error_type: Option<&'static str>,
    pub body: String,
}

const JSON_11: &str = "application/x-amz-json-1.1";

impl Reply {
    fn ok(protocol: Protocol, body: String) -> Reply {
        Reply {
            status: 200,
            content_type: match protocol {
                Protocol::Json => JSON_11,
                Protocol::RestJson => "application/json",
                Protocol::Query => "text/xml",
            },
            error_type: None,
            body,
        }
    }

    /// An error in the protocol's shape (the same shapes as bench/proxy.py's faults).
    pub fn error(
        protocol: Protocol,
        status: u16,
        code: &'static str,
        message: &str,
        request_id: &str,
    ) -> Reply {
        match protocol {
            Protocol::Json => Reply {
                status,
                content_type: JSON_11,
                error_type: Some(code),
                body: format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
            },
            Protocol::RestJson => {
                // X-Ray's error shapes name the member `Message`, Account's `message`.
                let member = if code == "ThrottledException" || code == "InternalFailure" {
                    "Message"
                } else {
                    "message"
                };
                Reply {
                    status,
                    content_type: "application/json",
                    error_type: Some(code),
                    body: format!(r#"{{"{member}":"{message}"}}"#),
                }
            }
            Protocol::Query => {
                let kind = if status >= 500 { "Receiver" } else { "Sender" };
                Reply {
                    status,
                    content_type: "text/xml",
                    error_type: None,
                    body: format!(
                        "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>\
                         </Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                    ),
                }
            }
        }
    }

    /// The throttling error AWS answers with for this service.
    pub fn throttle(call: &Call<'_>, request_id: &str) -> Reply {
        let (status, code) = match (call.protocol, call.service) {
            (Protocol::Json, _) => (400, "ThrottlingException"),
            (Protocol::RestJson, "xray") => (429, "ThrottledException"),
            (Protocol::RestJson, _) => (429, "TooManyRequestsException"),
            (Protocol::Query, _) => (400, "Throttling"),
        };
        Reply::error(call.protocol, status, code, "Rate exceeded", request_id)
    }

    pub fn internal_error(call: &Call<'_>, request_id: &str) -> Reply {
        let code = match (call.protocol, call.service) {
            (Protocol::RestJson, "account") => "InternalServerException",
            _ => "InternalFailure",
        };
        Reply::error(
            call.protocol,
            500,
            code,
            "We encountered an internal error. Please try again.",
            request_id,
        )
    }
}

/// Fixed times, so that answers repeat: keys created 2026-01-01, credentials valid for an hour
/// from the stub's start.
pub struct Clock {
    pub started_epoch: u64,
}

const KEY_CREATED: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;

/// RFC 3339 UTC of a Unix time (days to civil date: Howard Hinnant's algorithm).
pub fn iso8601(epoch: u64) -> String {
    let days = (epoch / DAY) as i64;
    let secs = epoch % DAY;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A string member of the request's JSON object. The SDK sends ids and tokens without escapes, so
/// a scan is enough; anything else falls back to a full parse.
fn body_field<'b>(body: &'b [u8], name: &str) -> Option<Cow<'b, str>> {
    let text = std::str::from_utf8(body).ok()?;
    let bytes = text.as_bytes();
    let mut from = 0;
    let at = loop {
        let i = text[from..].find(name)? + from;
        let end = i + name.len();
        if i > 0 && bytes[i - 1] == b'"' && bytes.get(end) == Some(&b'"') {
            break end + 1;
        }
        from = end;
    };
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    let end = value.find('"')?;
    if !value[..end].contains('\\') {
        return Some(Cow::Borrowed(&value[..end]));
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get(name)?.as_str().map(|s| Cow::Owned(s.to_owned()))
}

/// The answer to a call of `acct`, from the synthetic organization.
pub fn answer(
    org: &Org,
    clock: &Clock,
    page_size: usize,
    call: &Call<'_>,
    acct: &Account,
    body: &[u8],
    request_id: &str,
) -> Reply {
    let p = call.protocol;
    let region = call.region;
    let not_found = |what: &str| {
        Reply::error(
            Protocol::Json,
            400,
            "NotFoundException",
            &format!("Key '{what}' does not exist"),
            request_id,
        )
    };
    match call.op {
        Op::StsGetCallerIdentity => {
            let (user, arn) = if account_of_key(call.access_key).is_some() {
                (
                    format!("AROASTUB{}:xray-cmk", acct.id),
                    format!(
                        "arn:aws:sts::{}:assumed-role/{}/xray-cmk",
                        acct.id,
                        org::MEMBER_ROLE_NAME
                    ),
                )
            } else {
                (acct.id.clone(), format!("arn:aws:iam::{}:root", acct.id))
            };
            Reply::ok(
                p,
                format!(
                    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                     <GetCallerIdentityResult><UserId>{user}</UserId><Account>{}</Account><Arn>{arn}</Arn>\
                     </GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId>\
                     </ResponseMetadata></GetCallerIdentityResponse>",
                    acct.id
                ),
            )
        }
        Op::StsAssumeRole => {
            let role_arn = form_value(body, "RoleArn").unwrap_or_default();
            let session = form_value(body, "RoleSessionName").unwrap_or_default();
            let mut parts = role_arn.splitn(6, ':');
            let account = parts.nth(4).unwrap_or("");
            let role = parts.next().and_then(|r| r.strip_prefix("role/"));
            let (Some(target), Some(role)) = (org.account(account), role) else {
                return Reply::error(
                    p,
                    403,
                    "AccessDenied",
                    "Not authorized to perform sts:AssumeRole",
                    request_id,
                );
            };
            let expiration = iso8601(clock.started_epoch + 3600);
            Reply::ok(
                p,
                format!(
                    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                     <Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>stubsecret{}</SecretAccessKey>\
                     <SessionToken>stubtoken{}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
                     <AssumedRoleUser><AssumedRoleId>AROASTUB{}:{session}</AssumedRoleId>\
                     <Arn>arn:aws:sts::{}:assumed-role/{role}/{session}</Arn></AssumedRoleUser>\
                     </AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                     </AssumeRoleResponse>",
                    access_key_for(&target.id), target.id, target.id, target.id, target.id
                ),
            )
        }
        Op::OrgListAccounts => {
            let start: usize = body_field(body, "NextToken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let end = (start + page_size).min(org.accounts.len());
            let mut out = String::with_capacity(64 + (end - start) * 260);
            out.push_str(r#"{"Accounts":["#);
            let mgmt = &org.management().id;
            for (i, a) in org.accounts[start.min(end)..end].iter().enumerate() {
                let name = if a.index == 0 {
                    "management".to_owned()
                } else {
                    format!("bench-{:04}", a.index)
                };
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    r#"{{"Id":"{id}","Arn":"arn:aws:organizations::{mgmt}:account/{org}/{id}","Email":"{name}@example.com","Name":"{name}","Status":"ACTIVE","State":"ACTIVE","JoinedMethod":"CREATED","JoinedTimestamp":{t}.0}}"#,
                    id = a.id,
                    org = org::ORGANIZATION_ID,
                    t = KEY_CREATED + a.index as u64,
                );
            }
            out.push(']');
            if end < org.accounts.len() {
                let _ = write!(out, r#","NextToken":"{end}""#);
            }
            out.push('}');
            Reply::ok(p, out)
        }
        Op::OrgDescribeOrganization => {
            let mgmt = &org.management().id;
            Reply::ok(
                p,
                format!(
                    r#"{{"Organization":{{"Id":"{o}","Arn":"arn:aws:organizations::{mgmt}:organization/{o}","FeatureSet":"ALL","MasterAccountArn":"arn:aws:organizations::{mgmt}:account/{o}/{mgmt}","MasterAccountId":"{mgmt}","MasterAccountEmail":"management@example.com","AvailablePolicyTypes":[]}}}}"#,
                    o = org::ORGANIZATION_ID
                ),
            )
        }
        Op::CloudTrailListTrails => Reply::ok(p, r#"{"Trails":[]}"#.to_owned()),
        Op::KmsListKeys => {
            let keys = org.keys_in(acct, region);
            let mut out = String::from(r#"{"Keys":["#);
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    r#"{{"KeyArn":"{}","KeyId":"{}"}}"#,
                    k.arn(&acct.id),
                    k.id
                );
            }
            out.push_str(r#"],"Truncated":false}"#);
            Reply::ok(p, out)
        }
        Op::KmsListAliases => {
            let keys = org.keys_in(acct, region);
            let alias_of = |k: &Key| match k.manager {
                KeyManager::Customer => KEY_ALIAS,
                KeyManager::Aws => "alias/aws/xray",
            };
            let only = match body_field(body, "KeyId") {
                Some(id) => match org.find_key(acct, region, &id) {
                    Some(k) => Some(k),
                    None => return not_found(&id),
                },
                None => None,
            };
            let mut out = String::with_capacity(2048);
            out.push_str(r#"{"Aliases":["#);
            let mut first = true;
            let mut push = |out: &mut String, name: &str, target: Option<&str>| {
                if !first {
                    out.push(',');
                }
                first = false;
                let _ = write!(
                    out,
                    r#"{{"AliasArn":"arn:aws:kms:{region}:{}:{name}","AliasName":"{name}""#,
                    acct.id
                );
                if let Some(t) = target {
                    let _ = write!(out, r#","TargetKeyId":"{t}""#);
                }
                out.push('}');
            };
            match &only {
                Some(k) => push(&mut out, alias_of(k), Some(&k.id)),
                None => {
                    for k in &keys {
                        push(&mut out, alias_of(k), Some(&k.id));
                    }
                    for name in AWS_ALIASES {
                        if !keys.iter().any(|k| alias_of(k) == name) {
                            push(&mut out, name, None);
                        }
                    }
                }
            }
            out.push_str(r#"],"Truncated":false}"#);
            Reply::ok(p, out)
        }
        Op::KmsDescribeKey
        | Op::KmsGetKeyPolicy
        | Op::KmsGetKeyRotationStatus
        | Op::KmsListResourceTags => {
            let id = body_field(body, "KeyId").unwrap_or_default();
            let Some(key) = org.find_key(acct, region, &id) else {
                return not_found(&id);
            };
            Reply::ok(p, key_answer(org, clock, call.op, acct, &key))
        }
        Op::XrayGetEncryptionConfig => Reply::ok(
            p,
            match org.xray_key_arn(acct, region) {
                Some(arn) => format!(
                    r#"{{"EncryptionConfig":{{"Status":"ACTIVE","Type":"KMS","KeyId":"{arn}"}}}}"#
                ),
                None => r#"{"EncryptionConfig":{"Status":"ACTIVE","Type":"NONE"}}"#.to_owned(),
            },
        ),
        Op::XrayGetTraceSegmentDestination => {
            Reply::ok(p, r#"{"Destination":"XRay","Status":"ACTIVE"}"#.to_owned())
        }
        Op::AccountListRegions => {
            let mut out = String::from(r#"{"Regions":["#);
            for (i, r) in org::DEFAULT_REGIONS.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    r#"{{"RegionName":"{r}","RegionOptStatus":"ENABLED_BY_DEFAULT"}}"#
                );
            }
            out.push_str("]}");
            Reply::ok(p, out)
        }
        Op::Other => {
            let code = match p {
                Protocol::Query => "InvalidAction",
                _ => "UnknownOperationException",
            };
            Reply::error(
                p,
                400,
                code,
                "The stub does not serve this operation",
                request_id,
            )
        }
    }
}

fn key_answer(org: &Org, clock: &Clock, op: Op, acct: &Account, key: &Key) -> String {
    let arn = key.arn(&acct.id);
    match op {
        Op::KmsDescribeKey => {
            let (manager, description) = match key.manager {
                KeyManager::Customer => (
                    "CUSTOMER",
                    format!("xray-cmk bench key ({})", key.posture.as_str()),
                ),
                KeyManager::Aws => (
                    "AWS",
                    "Default key that protects my X-Ray data when no other key is defined"
                        .to_owned(),
                ),
            };
            let (enabled, state, deletion) = match (key.manager, key.posture) {
                (KeyManager::Customer, Posture::CmkDisabled) => (false, "Disabled", String::new()),
                (KeyManager::Customer, Posture::CmkPendingDeletion) => (
                    false,
                    "PendingDeletion",
                    format!(r#","DeletionDate":{}.0"#, clock.started_epoch + 7 * DAY),
                ),
                _ => (true, "Enabled", String::new()),
            };
            format!(
                r#"{{"KeyMetadata":{{"AWSAccountId":"{a}","Arn":"{arn}","CreationDate":{KEY_CREATED}.0,"CustomerMasterKeySpec":"SYMMETRIC_DEFAULT","KeySpec":"SYMMETRIC_DEFAULT","Description":"{description}","Enabled":{enabled},"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"KeyId":"{id}","KeyManager":"{manager}","KeyUsage":"ENCRYPT_DECRYPT","KeyState":"{state}","MultiRegion":false,"Origin":"AWS_KMS"{deletion}}}}}"#,
                a = acct.id,
                id = key.id,
            )
        }
        Op::KmsGetKeyPolicy => {
            let policy = match key.manager {
                KeyManager::Customer => org.customer_key_policy(&acct.id),
                KeyManager::Aws => Org::aws_managed_key_policy(&acct.id, key.region),
            };
            format!(r#"{{"Policy":{},"PolicyName":"default"}}"#, json_string(&policy))
        }
        Op::KmsGetKeyRotationStatus => {
            // AWS rotates its managed keys yearly; the seeder turns rotation on except for one posture.
            if key.posture == Posture::CmkRotationDisabled && key.manager == KeyManager::Customer {
                format!(r#"{{"KeyId":"{arn}","KeyRotationEnabled":false}}"#)
            } else {
                format!(
                    r#"{{"KeyId":"{arn}","KeyRotationEnabled":true,"RotationPeriodInDays":365,"NextRotationDate":{}.0}}"#,
                    KEY_CREATED + 365 * DAY
                )
            }
        }
        _ => match key.manager {
            KeyManager::Customer => r#"{"Tags":[{"TagKey":"owner","TagValue":"platform-security"},{"TagKey":"data-classification","TagValue":"confidential"}],"Truncated":false}"#.to_owned(),
            KeyManager::Aws => r#"{"Tags":[],"Truncated":false}"#.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=ASIA123456789012STUB/20261202/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=0";

    fn call<'a>(auth: &'a str, target: Option<&'a str>, path: &'a str, body: &[u8]) -> Call<'a> {
        identify(auth, target, path, body).expect("signed")
    }

    fn json(r: &Reply) -> serde_json::Value {
        serde_json::from_str(&r.body).expect("valid JSON")
    }

    #[test]
    fn identifies_service_operation_and_caller_from_the_credential_scope() {
        let c = call(AUTH, Some("TrentService.DescribeKey"), "/", b"{}");
        assert_eq!(
            (c.service, c.region, c.protocol, c.op),
            ("kms", "eu-west-1", Protocol::Json, Op::KmsDescribeKey)
        );
        assert_eq!(account_of_key(c.access_key), Some("123456789012"));
        assert_eq!(account_of_key("test"), None);
        let sts = "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/sts/aws4_request, SignedHeaders=host";
        let c = call(
            sts,
            None,
            "/",
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FR",
        );
        assert_eq!((c.protocol, c.op), (Protocol::Query, Op::StsAssumeRole));
        let xray = AUTH.replace("/kms/", "/xray/");
        let c = call(&xray, None, "/EncryptionConfig", b"");
        assert_eq!(
            (c.protocol, c.op),
            (Protocol::RestJson, Op::XrayGetEncryptionConfig)
        );
        let c = call(AUTH, Some("TrentService.CreateKey"), "/", b"{}");
        assert_eq!((c.op, c.stat_name().as_str()), (Op::Other, "kms:CreateKey"));
        assert!(identify("Bearer x", None, "/", b"").is_none());
        assert_eq!(
            form_value(b"A=1&RoleArn=arn%3Aaws%3Aiam%3A%3A42%3Arole%2FR", "RoleArn").as_deref(),
            Some("arn:aws:iam::42:role/R")
        );
    }

    #[test]
    fn answers_have_the_wire_shapes_of_the_emulator() {
        let org = Org::new(40, 2, 1);
        let clock = Clock {
            started_epoch: 1_800_000_000,
        };
        let acct = &org.accounts[1];
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20261202/us-east-1/kms/aws4_request, SignedHeaders=host",
            access_key_for(&acct.id)
        );
        let ask = |target: &str, body: &str| {
            let c = call(&auth, Some(target), "/", body.as_bytes());
            answer(&org, &clock, 20, &c, acct, body.as_bytes(), "rid")
        };
        let keys = json(&ask("TrentService.ListKeys", "{}"));
        let key_id = keys["Keys"][0]["KeyId"].as_str().expect("a key").to_owned();
        let arn = keys["Keys"][0]["KeyArn"].as_str().expect("arn").to_owned();
        assert_eq!(
            arn,
            format!("arn:aws:kms:us-east-1:{}:key/{key_id}", acct.id)
        );
        let meta = json(&ask(
            "TrentService.DescribeKey",
            &format!(r#"{{"KeyId":"{arn}"}}"#),
        ));
        assert_eq!(meta["KeyMetadata"]["KeyState"], "Enabled");
        assert_eq!(meta["KeyMetadata"]["KeyManager"], "CUSTOMER");
        let policy = json(&ask(
            "TrentService.GetKeyPolicy",
            &format!(r#"{{"KeyId":"{key_id}","PolicyName":"default"}}"#),
        ));
        let doc: serde_json::Value =
            serde_json::from_str(policy["Policy"].as_str().expect("a string")).expect("JSON");
        assert_eq!(
            doc["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"][1],
            "xray.ap-northeast-2.amazonaws.com"
        );
        let aliases = json(&ask("TrentService.ListAliases", "{}"));
        assert_eq!(aliases["Aliases"][0]["AliasName"], "alias/xray-cmk");
        assert_eq!(aliases["Aliases"][0]["TargetKeyId"], key_id.as_str());
        assert_eq!(aliases["Aliases"].as_array().map(Vec::len), Some(15));
        let missing = ask("TrentService.DescribeKey", r#"{"KeyId":"nope"}"#);
        assert_eq!(
            (missing.status, missing.error_type),
            (400, Some("NotFoundException"))
        );
        let xray = auth.replace("/us-east-1/kms/", "/ap-northeast-2/xray/");
        let c = call(&xray, None, "/EncryptionConfig", b"");
        let enc = json(&answer(&org, &clock, 20, &c, acct, b"", "rid"));
        assert_eq!(enc["EncryptionConfig"]["KeyId"], arn.as_str());
        // Organizations pages by NextToken.
        let orgs = auth.replace("/kms/", "/organizations/");
        let c = call(
            &orgs,
            Some("AWSOrganizationsV20161128.ListAccounts"),
            "/",
            b"{}",
        );
        let page = json(&answer(
            &org,
            &clock,
            20,
            &c,
            org.management(),
            b"{}",
            "rid",
        ));
        assert_eq!(page["Accounts"].as_array().map(Vec::len), Some(20));
        assert_eq!(page["NextToken"], "20");
        let body = br#"{"NextToken":"20"}"#;
        let page = json(&answer(&org, &clock, 20, &c, org.management(), body, "rid"));
        assert_eq!(page["Accounts"].as_array().map(Vec::len), Some(20));
        assert!(page.get("NextToken").is_none());
    }

    #[test]
    fn assume_role_issues_keys_that_name_the_account() {
        let org = Org::new(5, 1, 1);
        let clock = Clock {
            started_epoch: 1_800_000_000,
        };
        let sts = "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/sts/aws4_request, SignedHeaders=host";
        let member = &org.accounts[3].id;
        let body = format!(
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A{member}%3Arole%2FOrganizationAccountAccessRole&RoleSessionName=s"
        );
        let c = call(sts, None, "/", body.as_bytes());
        let r = answer(
            &org,
            &clock,
            20,
            &c,
            org.management(),
            body.as_bytes(),
            "rid",
        );
        assert_eq!((r.status, r.content_type), (200, "text/xml"));
        assert!(r
            .body
            .contains(&format!("<AccessKeyId>ASIA{member}STUB</AccessKeyId>")));
        assert!(r
            .body
            .contains("<Expiration>2027-01-15T09:00:00Z</Expiration>"));
        let body = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A999999999999%3Arole%2FR";
        let r = answer(
            &org,
            &clock,
            20,
            &c,
            org.management(),
            body.as_bytes(),
            "rid",
        );
        assert_eq!(r.status, 403);
        assert!(r.body.contains("<Code>AccessDenied</Code>"));
    }

    #[test]
    fn faults_have_each_protocols_shape() {
        let kms = call(AUTH, Some("TrentService.ListKeys"), "/", b"{}");
        let t = Reply::throttle(&kms, "rid");
        assert_eq!((t.status, t.error_type), (400, Some("ThrottlingException")));
        assert_eq!(
            json(&t),
            serde_json::json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
        );
        let xray = AUTH.replace("/kms/", "/xray/");
        let c = call(&xray, None, "/EncryptionConfig", b"");
        let t = Reply::throttle(&c, "rid");
        assert_eq!((t.status, t.error_type), (429, Some("ThrottledException")));
        assert_eq!(json(&t)["Message"], "Rate exceeded");
        let acct = AUTH.replace("/kms/", "/account/");
        let c = call(&acct, None, "/listRegions", b"");
        let e = Reply::internal_error(&c, "rid");
        assert_eq!(
            (e.status, e.error_type),
            (500, Some("InternalServerException"))
        );
        assert!(json(&e)["message"].is_string());
        let sts = AUTH.replace("/kms/", "/sts/");
        let c = call(&sts, None, "/", b"Action=GetCallerIdentity");
        let t = Reply::throttle(&c, "rid");
        assert_eq!(t.status, 400);
        assert!(t
            .body
            .contains("<Type>Sender</Type><Code>Throttling</Code>"));
    }

    #[test]
    fn body_fields_are_read_without_a_full_parse() {
        let body = br#"{"PolicyName":"default", "KeyId" : "k-1"}"#;
        assert_eq!(body_field(body, "KeyId").as_deref(), Some("k-1"));
        assert_eq!(body_field(body, "Key"), None);
        assert_eq!(
            body_field(br#"{"KeyId":"a\u0062"}"#, "KeyId").as_deref(),
            Some("ab")
        );
        assert_eq!(body_field(b"{}", "NextToken"), None);
    }

    #[test]
    fn iso8601_is_utc_civil_time() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(iso8601(951_825_600), "2000-02-29T12:00:00Z");
    }
}
