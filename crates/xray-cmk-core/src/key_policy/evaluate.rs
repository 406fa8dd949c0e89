//! Deciding one request against a key policy.
//!
//! Follows the AWS policy evaluation logic for a resource policy in a single account: an explicit
//! Deny wins over everything; otherwise an Allow that names the caller (or everyone) allows; an
//! Allow that names only the caller's account leaves the decision to that account's IAM policies
//! (the KMS "enable IAM policies" statement); otherwise the request is implicitly denied.

use std::fmt;

use super::principal::{covers, names_exactly, Caller, PrincipalMatch};
use super::tri::Tri;
use super::wildcard;
use super::{
    ActionElement, Context, Effect, PolicyDocument, PrincipalElement, ResourceElement, Statement,
};

/// A request to decide: who asks, for which action, with which condition keys.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// An IAM role or user ARN, an STS assumed-role ARN, an account root ARN (or bare account id),
    /// or a service principal such as `xray.amazonaws.com`.
    pub principal: &'a str,
    /// The action, e.g. `kms:Decrypt`.
    pub action: &'a str,
    pub context: &'a Context,
}

impl<'a> Request<'a> {
    pub fn new(principal: &'a str, action: &'a str, context: &'a Context) -> Self {
        Request {
            principal,
            action,
            context,
        }
    }
}

/// What the key policy says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement names this principal (or everyone) and no Deny matches.
    Allowed { sid: Option<String> },
    /// Allowed only because an Allow names the principal's account: its IAM policies decide.
    DelegatedToIam {
        account: String,
        sid: Option<String>,
    },
    /// A Deny statement matches.
    ExplicitDeny { sid: Option<String> },
    /// No statement allows the request (implicit deny).
    NotAllowed,
    /// A statement that would otherwise apply cannot be evaluated, e.g. an unsupported operator.
    Undetermined { reason: String },
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = |sid: &Option<String>| match sid {
            Some(sid) => format!(" by statement \"{sid}\""),
            None => String::new(),
        };
        match self {
            Decision::Allowed { sid } => write!(f, "allowed{}", by(sid)),
            Decision::DelegatedToIam { account, sid } => write!(
                f,
                "delegated to the IAM policies of account {account}{}",
                by(sid)
            ),
            Decision::ExplicitDeny { sid } => write!(f, "explicitly denied{}", by(sid)),
            Decision::NotAllowed => f.write_str("not allowed by the key policy"),
            Decision::Undetermined { reason } => write!(f, "undetermined: {reason}"),
        }
    }
}

impl PolicyDocument {
    /// Decides `req` against this policy. See the module documentation for the rules.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let caller = Caller::parse(req.principal);
        let mut found = Found::default();
        for (index, statement) in self.statements.iter().enumerate() {
            let (who, holds) = applies(statement, &caller, req);
            if who == PrincipalMatch::No || holds == Tri::No {
                continue;
            }
            let label = label(index, statement);
            match (statement.effect, holds, who) {
                (Effect::Deny, Tri::Yes, _) => {
                    return Decision::ExplicitDeny {
                        sid: statement.sid.clone(),
                    }
                }
                (Effect::Deny, Tri::Unknown(why), _) => {
                    found
                        .maybe_deny
                        .get_or_insert(format!("{label} might deny: {why}"));
                }
                (Effect::Allow, Tri::Yes, PrincipalMatch::Account(account)) => {
                    found.delegated.get_or_insert((account, statement));
                }
                (Effect::Allow, Tri::Yes, _) => {
                    found.allowed.get_or_insert(statement);
                }
                (Effect::Allow, Tri::Unknown(why), PrincipalMatch::Account(_)) => {
                    found
                        .maybe_delegated
                        .get_or_insert(format!("{label} might delegate: {why}"));
                }
                (Effect::Allow, Tri::Unknown(why), _) => {
                    found
                        .maybe_allowed
                        .get_or_insert(format!("{label} might allow: {why}"));
                }
                (_, Tri::No, _) => {}
            }
        }
        found.decide()
    }
}

/// The first statement of each kind that applies, in document order.
#[derive(Default)]
struct Found<'a> {
    maybe_deny: Option<String>,
    allowed: Option<&'a Statement>,
    maybe_allowed: Option<String>,
    delegated: Option<(String, &'a Statement)>,
    maybe_delegated: Option<String>,
}

impl Found<'_> {
    /// Strongest first: a possible Deny leaves everything open; a possible direct Allow outranks a
    /// certain delegation, since it could grant access without any IAM policy.
    fn decide(self) -> Decision {
        if let Some(reason) = self.maybe_deny {
            return Decision::Undetermined { reason };
        }
        if let Some(statement) = self.allowed {
            return Decision::Allowed {
                sid: statement.sid.clone(),
            };
        }
        if let Some(reason) = self.maybe_allowed {
            return Decision::Undetermined { reason };
        }
        if let Some((account, statement)) = self.delegated {
            return Decision::DelegatedToIam {
                account,
                sid: statement.sid.clone(),
            };
        }
        match self.maybe_delegated {
            Some(reason) => Decision::Undetermined { reason },
            None => Decision::NotAllowed,
        }
    }
}

/// How the statement's principal covers the caller, and whether the rest of it (action, resource,
/// conditions) holds for the request.
fn applies(statement: &Statement, caller: &Caller<'_>, req: &Request<'_>) -> (PrincipalMatch, Tri) {
    let who = match &statement.principal {
        PrincipalElement::Principal(p) => covers(p, caller),
        PrincipalElement::NotPrincipal(p) if names_exactly(p, caller) => PrincipalMatch::No,
        PrincipalElement::NotPrincipal(_) => PrincipalMatch::Direct,
    };
    if who == PrincipalMatch::No || !action_matches(&statement.action, req.action) {
        return (who, Tri::No);
    }
    let conditions = statement
        .conditions
        .iter()
        .map(|c| c.evaluate(req.context.get(c.key())));
    let holds = Tri::all(std::iter::once(resource_matches(&statement.resource)).chain(conditions));
    // "NotPrincipal must be used with Deny. Using it with Allow is not supported." (IAM User
    // Guide): what AWS would do with such a statement is not documented, so it decides nothing.
    let not_principal_allow = statement.effect == Effect::Allow
        && matches!(statement.principal, PrincipalElement::NotPrincipal(_));
    if not_principal_allow && holds != Tri::No {
        return (
            who,
            Tri::Unknown("`NotPrincipal` with `Allow`, which AWS does not support".to_owned()),
        );
    }
    (who, holds)
}

/// Action patterns are matched case-insensitively with `*` and `?`.
pub(crate) fn action_matches(element: &ActionElement, action: &str) -> bool {
    let any = |patterns: &[String]| patterns.iter().any(|p| wildcard::matches(p, action, true));
    match element {
        ActionElement::Action(patterns) => any(patterns),
        ActionElement::NotAction(patterns) => !any(patterns),
    }
}

/// A key policy's resource is the key itself, so any `Resource` covers it. `NotResource: "*"`
/// excludes it; a `NotResource` naming KMS ARNs might or might not name this key.
fn resource_matches(element: &ResourceElement) -> Tri {
    let ResourceElement::NotResource(patterns) = element else {
        return Tri::Yes;
    };
    if patterns
        .iter()
        .any(|p| !p.is_empty() && p.chars().all(|c| c == '*'))
    {
        return Tri::No;
    }
    let names_kms = |p: &String| {
        p.starts_with("arn:")
            && p.split(':')
                .nth(2)
                .is_some_and(|service| wildcard::matches(service, "kms", true))
    };
    match patterns.iter().find(|p| names_kms(p)) {
        Some(p) => Tri::Unknown(format!("NotResource `{p}` may or may not name this key")),
        None => Tri::Yes,
    }
}

fn label(index: usize, statement: &Statement) -> String {
    match &statement.sid {
        Some(sid) => format!("statement \"{sid}\""),
        None => format!("statement {}", index + 1),
    }
}

#[cfg(test)]
mod tests;
