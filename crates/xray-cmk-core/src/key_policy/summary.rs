//! One-line human summaries of statements, for finding messages.

use super::condition::{Base, Operator};
use super::{ActionElement, Condition, PrincipalElement, ResourceElement, Statement};

impl Statement {
    /// A short description such as
    /// `Allow arn:aws:iam::111122223333:role/X kms:Decrypt if kms:ViaService=xray.us-east-1.amazonaws.com`.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} {} {}",
            self.effect.as_str(),
            principals(&self.principal),
            actions(&self.action)
        );
        if let Some(on) = resources(&self.resource) {
            out.push_str(" on ");
            out.push_str(&on);
        }
        if !self.conditions.is_empty() {
            let conditions: Vec<String> = self.conditions.iter().map(condition).collect();
            out.push_str(" if ");
            out.push_str(&conditions.join(" and "));
        }
        out
    }
}

fn principals(element: &PrincipalElement) -> String {
    let list = |p: &super::Principals| {
        let values: Vec<&str> = p.entries.iter().map(|e| e.value()).collect();
        values.join(", ")
    };
    match element {
        PrincipalElement::Principal(p) if p.is_everyone() => "*".to_string(),
        PrincipalElement::Principal(p) => list(p),
        PrincipalElement::NotPrincipal(p) => format!("everyone except {}", list(p)),
    }
}

fn actions(element: &ActionElement) -> String {
    match element {
        ActionElement::Action(a) => a.join(", "),
        ActionElement::NotAction(a) => format!("every action except {}", a.join(", ")),
    }
}

/// `None` for the usual `"*"`, which says nothing in a key policy.
fn resources(element: &ResourceElement) -> Option<String> {
    match element {
        ResourceElement::Resource(r) if r.iter().all(|x| x == "*") => None,
        ResourceElement::Resource(r) => Some(r.join(", ")),
        ResourceElement::NotResource(r) => Some(format!("every resource except {}", r.join(", "))),
    }
}

/// `key=value` for plain equality (the common case), `key Operator value` otherwise; several
/// values are shown as a list.
fn condition(c: &Condition) -> String {
    let values = match c.values() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    if is_plain_equality(c.parsed()) {
        let sign = if c.parsed().negated { "!=" } else { "=" };
        format!("{}{sign}{values}", c.key())
    } else {
        format!("{} {} {values}", c.key(), c.operator())
    }
}

fn is_plain_equality(op: &Operator) -> bool {
    op.set.is_none() && !op.if_exists && matches!(op.base, Base::StringEquals | Base::Bool)
}

#[cfg(test)]
mod tests {
    use crate::key_policy::PolicyDocument;

    fn summary(statement: &str) -> String {
        let doc =
            PolicyDocument::parse(&format!(r#"{{"Statement":{statement}}}"#)).expect("parses");
        doc.statements[0].summary()
    }

    #[test]
    fn summaries_read_like_the_policy() {
        assert_eq!(
            summary(
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/X"},
                    "Action":"kms:Decrypt","Resource":"*",
                    "Condition":{"StringEquals":{"kms:ViaService":"xray.us-east-1.amazonaws.com"}}}"#
            ),
            "Allow arn:aws:iam::111122223333:role/X kms:Decrypt if kms:ViaService=xray.us-east-1.amazonaws.com"
        );
        assert_eq!(
            summary(
                r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#
            ),
            "Allow * kms:Encrypt, kms:Decrypt"
        );
        assert_eq!(
            summary(
                r#"{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"NotAction":"kms:Describe*",
                    "NotResource":"arn:aws:kms:*:*:key/x",
                    "Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-1"},
                                 "IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]}}}"#
            ),
            "Deny everyone except 111122223333 every action except kms:Describe* on every resource \
             except arn:aws:kms:*:*:key/x if aws:SourceIp IpAddress [10.0.0.0/8, 192.0.2.0/24] \
             and aws:PrincipalOrgID!=o-1"
        );
        assert_eq!(
            summary(
                r#"{"Effect":"Allow","Principal":{"Service":"xray.amazonaws.com"},"Action":"kms:GenerateDataKey*",
                    "Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":true}}}"#
            ),
            "Allow xray.amazonaws.com kms:GenerateDataKey* if kms:GrantIsForAWSResource=true"
        );
    }
}
