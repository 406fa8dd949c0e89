//! Principals: what a statement names, who is asking, and whether the one covers the other.
//!
//! The rules follow "AWS JSON policy elements: Principal" of the IAM User Guide: `"*"` and
//! `{"AWS": "*"}` mean everyone; an account (its root ARN or its bare 12-digit id) delegates to the
//! account, whose IAM policies then decide for its users and roles; a role ARN covers the sessions
//! of that role; service principals are matched by name.

/// One entry of a `Principal` or `NotPrincipal` element, in the policy's own spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// The bare string `"*"`.
    Everyone,
    /// An `AWS` entry: `"*"`, an account id, or an IAM / STS ARN.
    Aws(String),
    /// A `Service` entry such as `xray.amazonaws.com`.
    Service(String),
    /// A `Federated` entry (an identity provider).
    Federated(String),
    /// A `CanonicalUser` entry (an S3 canonical id; never useful in a key policy).
    CanonicalUser(String),
}

impl PrincipalEntry {
    /// Whether this entry names every principal (`"*"` or `{"AWS": "*"}`).
    pub fn is_everyone(&self) -> bool {
        matches!(self, PrincipalEntry::Everyone)
            || matches!(self, PrincipalEntry::Aws(v) if v == "*")
    }

    /// The account this entry belongs to: an account id or an ARN's account. Services have none.
    pub fn account(&self) -> Option<&str> {
        match self {
            PrincipalEntry::Aws(value) => match AwsId::parse(value) {
                AwsId::Account(account) => Some(account),
                AwsId::Role { account, .. } => Some(account),
                AwsId::Arn(arn) => arn_account(arn),
                AwsId::Everyone | AwsId::Opaque(_) => None,
            },
            _ => None,
        }
    }

    /// The account this entry names as a whole (its root ARN or its bare id), if it does.
    pub fn account_principal(&self) -> Option<&str> {
        match self {
            PrincipalEntry::Aws(value) => match AwsId::parse(value) {
                AwsId::Account(account) => Some(account),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value as written (`*` for [`PrincipalEntry::Everyone`]).
    pub fn value(&self) -> &str {
        match self {
            PrincipalEntry::Everyone => "*",
            PrincipalEntry::Aws(v)
            | PrincipalEntry::Service(v)
            | PrincipalEntry::Federated(v)
            | PrincipalEntry::CanonicalUser(v) => v,
        }
    }
}

/// The entries of one `Principal` or `NotPrincipal` element; any one of them may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    pub entries: Vec<PrincipalEntry>,
}

impl Principals {
    /// Whether the element names every principal.
    pub fn is_everyone(&self) -> bool {
        self.entries.iter().any(PrincipalEntry::is_everyone)
    }
}

/// How a `Principal` element covers the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalMatch {
    No,
    /// Only through the caller's account: the account's IAM policies decide.
    Account(String),
    /// The caller itself (or everyone) is named.
    Direct,
}

impl PrincipalMatch {
    fn rank(&self) -> u8 {
        match self {
            PrincipalMatch::No => 0,
            PrincipalMatch::Account(_) => 1,
            PrincipalMatch::Direct => 2,
        }
    }
}

/// How `principals` (a `Principal` element) covers `caller`: the strongest match of any entry.
pub(crate) fn covers(principals: &Principals, caller: &Caller<'_>) -> PrincipalMatch {
    principals
        .entries
        .iter()
        .map(|entry| entry_covers(entry, caller))
        .max_by_key(PrincipalMatch::rank)
        .unwrap_or(PrincipalMatch::No)
}

/// Whether `principals` (a `NotPrincipal` element) names `caller` itself. Only the exact identity
/// counts: the IAM guide asks to list a session, its role and its account separately, so naming an
/// account or a role does not except its sessions.
pub(crate) fn names_exactly(principals: &Principals, caller: &Caller<'_>) -> bool {
    principals.entries.iter().any(|entry| match entry {
        PrincipalEntry::Everyone => true,
        PrincipalEntry::Aws(value) => match AwsId::parse(value) {
            AwsId::Everyone => true,
            AwsId::Account(account) => {
                matches!(caller.kind, CallerKind::Root { account: a } if a == account)
            }
            AwsId::Role { arn, .. } | AwsId::Arn(arn) => caller.raw == arn,
            AwsId::Opaque(_) => false,
        },
        PrincipalEntry::Service(name) => {
            matches!(caller.kind, CallerKind::Service) && caller.raw == name
        }
        PrincipalEntry::Federated(v) | PrincipalEntry::CanonicalUser(v) => caller.raw == v,
    })
}

fn entry_covers(entry: &PrincipalEntry, caller: &Caller<'_>) -> PrincipalMatch {
    let covered = match entry {
        PrincipalEntry::Everyone => true,
        PrincipalEntry::Aws(value) => return aws_covers(AwsId::parse(value), caller),
        PrincipalEntry::Service(name) => {
            matches!(caller.kind, CallerKind::Service) && caller.raw == name
        }
        PrincipalEntry::Federated(v) | PrincipalEntry::CanonicalUser(v) => caller.raw == v,
    };
    if covered {
        PrincipalMatch::Direct
    } else {
        PrincipalMatch::No
    }
}

fn aws_covers(id: AwsId<'_>, caller: &Caller<'_>) -> PrincipalMatch {
    match id {
        AwsId::Everyone => PrincipalMatch::Direct,
        AwsId::Account(account) => match &caller.kind {
            CallerKind::Root { account: a } if *a == account => PrincipalMatch::Direct,
            _ if caller.account() == Some(account) => PrincipalMatch::Account(account.to_string()),
            _ => PrincipalMatch::No,
        },
        AwsId::Role {
            partition,
            account,
            name,
            arn,
        } => {
            let session_of_role = matches!(&caller.kind,
                CallerKind::Session { partition: p, account: a, role_name: n }
                    if *p == partition && *a == account && *n == name);
            if caller.raw == arn || session_of_role {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
        AwsId::Arn(arn) if caller.raw == arn => PrincipalMatch::Direct,
        AwsId::Arn(_) | AwsId::Opaque(_) => PrincipalMatch::No,
    }
}

/// The identity making a request, read from the principal string of a [`super::Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller<'a> {
    pub(crate) raw: &'a str,
    pub(crate) kind: CallerKind<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallerKind<'a> {
    /// The account principal itself: `arn:aws:iam::A:root` or a bare id.
    Root { account: &'a str },
    /// `arn:aws:iam::A:role/path/Name`.
    Role { account: &'a str },
    /// `arn:aws:sts::A:assumed-role/Name/session`.
    Session {
        partition: &'a str,
        account: &'a str,
        role_name: &'a str,
    },
    /// Any other ARN with an account (IAM users, federated users, …).
    OtherArn { account: Option<&'a str> },
    /// A service principal such as `xray.amazonaws.com`.
    Service,
}

impl<'a> Caller<'a> {
    pub(crate) fn parse(raw: &'a str) -> Self {
        let kind = if is_account_id(raw) {
            CallerKind::Root { account: raw }
        } else if let Some(arn) = Arn::parse(raw) {
            caller_kind_of_arn(&arn)
        } else {
            CallerKind::Service
        };
        Caller { raw, kind }
    }

    /// The caller's account, when it has one.
    pub(crate) fn account(&self) -> Option<&'a str> {
        match self.kind {
            CallerKind::Root { account }
            | CallerKind::Role { account }
            | CallerKind::Session { account, .. } => Some(account),
            CallerKind::OtherArn { account } => account,
            CallerKind::Service => None,
        }
    }
}

fn caller_kind_of_arn<'a>(arn: &Arn<'a>) -> CallerKind<'a> {
    let account = Some(arn.account).filter(|a| is_account_id(a));
    match (arn.service, account) {
        ("iam", Some(account)) if arn.resource == "root" => CallerKind::Root { account },
        ("iam", Some(account)) if arn.resource.starts_with("role/") => CallerKind::Role { account },
        ("sts", Some(account)) => match arn.resource.strip_prefix("assumed-role/") {
            Some(rest) => match rest.split_once('/') {
                Some((role_name, _session)) => CallerKind::Session {
                    partition: arn.partition,
                    account,
                    role_name,
                },
                None => CallerKind::OtherArn {
                    account: Some(account),
                },
            },
            None => CallerKind::OtherArn {
                account: Some(account),
            },
        },
        _ => CallerKind::OtherArn { account },
    }
}

/// An `AWS` principal entry, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwsId<'a> {
    Everyone,
    /// An account: bare id or root ARN.
    Account(&'a str),
    /// An IAM role; `name` is the last path segment, which is what session ARNs carry.
    Role {
        partition: &'a str,
        account: &'a str,
        name: &'a str,
        arn: &'a str,
    },
    /// Any other ARN (user, session, federated user): matched exactly.
    Arn(&'a str),
    /// Not an ARN: e.g. the unique id IAM leaves behind when a named role is deleted.
    Opaque(&'a str),
}

impl<'a> AwsId<'a> {
    fn parse(value: &'a str) -> Self {
        if value == "*" {
            return AwsId::Everyone;
        }
        if is_account_id(value) {
            return AwsId::Account(value);
        }
        let Some(arn) = Arn::parse(value) else {
            return AwsId::Opaque(value);
        };
        if arn.service == "iam" && is_account_id(arn.account) {
            if arn.resource == "root" {
                return AwsId::Account(arn.account);
            }
            if let Some(path_and_name) = arn.resource.strip_prefix("role/") {
                let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
                return AwsId::Role {
                    partition: arn.partition,
                    account: arn.account,
                    name,
                    arn: value,
                };
            }
        }
        AwsId::Arn(value)
    }
}

/// The six colon-separated parts of an ARN; the resource keeps any further colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub(crate) partition: &'a str,
    pub(crate) service: &'a str,
    pub(crate) account: &'a str,
    pub(crate) resource: &'a str,
}

impl<'a> Arn<'a> {
    pub(crate) fn parse(value: &'a str) -> Option<Self> {
        let mut parts = value.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            // The region plays no part in naming principals.
            account: {
                parts.next()?;
                parts.next()?
            },
            resource: parts.next()?,
        })
    }
}

fn arn_account(value: &str) -> Option<&str> {
    Arn::parse(value)
        .map(|arn| arn.account)
        .filter(|a| is_account_id(a))
}

/// Whether `value` is a 12-digit AWS account id.
pub(crate) fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(values: &[&str]) -> Principals {
        Principals {
            entries: values
                .iter()
                .map(|v| PrincipalEntry::Aws(v.to_string()))
                .collect(),
        }
    }

    fn cover(p: &Principals, caller: &str) -> PrincipalMatch {
        covers(p, &Caller::parse(caller))
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/ops/XrayWriter";
    const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/XrayWriter/i-0abc";

    #[test]
    fn callers_are_classified() {
        assert_eq!(
            Caller::parse("111122223333").kind,
            CallerKind::Root {
                account: "111122223333"
            }
        );
        assert_eq!(
            Caller::parse("arn:aws:iam::111122223333:root").kind,
            CallerKind::Root {
                account: "111122223333"
            }
        );
        assert_eq!(
            Caller::parse(SESSION).kind,
            CallerKind::Session {
                partition: "aws",
                account: "111122223333",
                role_name: "XrayWriter"
            }
        );
        assert_eq!(
            Caller::parse("xray.amazonaws.com").kind,
            CallerKind::Service
        );
        assert_eq!(Caller::parse("xray.amazonaws.com").account(), None);
    }

    #[test]
    fn role_arn_covers_the_role_and_its_sessions() {
        let p = aws(&[ROLE]);
        assert_eq!(cover(&p, ROLE), PrincipalMatch::Direct);
        assert_eq!(cover(&p, SESSION), PrincipalMatch::Direct);
        // Same name in another account, or another role's session, is not covered.
        assert_eq!(
            cover(&p, "arn:aws:sts::444455556666:assumed-role/XrayWriter/s"),
            PrincipalMatch::No
        );
        assert_eq!(
            cover(&p, "arn:aws:sts::111122223333:assumed-role/Other/s"),
            PrincipalMatch::No
        );
        assert_eq!(
            cover(&p, "arn:aws:iam::111122223333:role/XrayWriter"),
            PrincipalMatch::No,
            "a role ARN names one path"
        );
    }

    #[test]
    fn account_entries_cover_root_directly_and_others_by_delegation() {
        for entry in ["arn:aws:iam::111122223333:root", "111122223333"] {
            let p = aws(&[entry]);
            assert_eq!(
                cover(&p, "arn:aws:iam::111122223333:root"),
                PrincipalMatch::Direct
            );
            assert_eq!(
                cover(&p, SESSION),
                PrincipalMatch::Account("111122223333".into())
            );
            assert_eq!(
                cover(&p, "arn:aws:iam::111122223333:user/alice"),
                PrincipalMatch::Account("111122223333".into())
            );
            assert_eq!(
                cover(&p, "arn:aws:iam::444455556666:root"),
                PrincipalMatch::No
            );
            assert_eq!(cover(&p, "xray.amazonaws.com"), PrincipalMatch::No);
        }
    }

    #[test]
    fn the_strongest_entry_wins() {
        let p = aws(&["111122223333", ROLE]);
        assert_eq!(cover(&p, SESSION), PrincipalMatch::Direct);
    }

    #[test]
    fn wildcards_and_services() {
        assert_eq!(
            cover(&aws(&["*"]), "xray.amazonaws.com"),
            PrincipalMatch::Direct
        );
        let everyone = Principals {
            entries: vec![PrincipalEntry::Everyone],
        };
        assert_eq!(cover(&everyone, SESSION), PrincipalMatch::Direct);
        let service = Principals {
            entries: vec![PrincipalEntry::Service("xray.amazonaws.com".into())],
        };
        assert_eq!(
            cover(&service, "xray.amazonaws.com"),
            PrincipalMatch::Direct
        );
        assert_eq!(cover(&service, "logs.amazonaws.com"), PrincipalMatch::No);
        assert_eq!(cover(&service, SESSION), PrincipalMatch::No);
    }

    #[test]
    fn not_principal_names_exact_identities_only() {
        let p = aws(&["111122223333", ROLE]);
        assert!(names_exactly(
            &p,
            &Caller::parse("arn:aws:iam::111122223333:root")
        ));
        assert!(names_exactly(&p, &Caller::parse(ROLE)));
        assert!(!names_exactly(&p, &Caller::parse(SESSION)));
        assert!(names_exactly(&aws(&[SESSION]), &Caller::parse(SESSION)));
    }

    #[test]
    fn entry_accounts() {
        assert_eq!(
            PrincipalEntry::Aws(ROLE.into()).account(),
            Some("111122223333")
        );
        assert_eq!(
            PrincipalEntry::Aws("444455556666".into()).account(),
            Some("444455556666")
        );
        assert_eq!(
            PrincipalEntry::Aws(SESSION.into()).account(),
            Some("111122223333")
        );
        assert_eq!(PrincipalEntry::Aws("*".into()).account(), None);
        assert_eq!(
            PrincipalEntry::Service("xray.amazonaws.com".into()).account(),
            None
        );
        let root = PrincipalEntry::Aws("arn:aws:iam::111122223333:root".into());
        assert_eq!(root.account_principal(), Some("111122223333"));
        assert_eq!(PrincipalEntry::Aws(ROLE.into()).account_principal(), None);
    }
}
