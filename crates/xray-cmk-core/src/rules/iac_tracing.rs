//! What the two IaC rules `tf-xray-encryption-missing` and `cfn-xray-encryption-missing` decide
//! alike: given where a module or template turns tracing on (certainly or maybe) and where it sets
//! X-Ray's encryption (certainly or maybe), which verdict it gets. Each rule words it for itself.

use crate::model::{DeclaredConfig, Presence, TracingSite};

/// The decision, with what each rule's message needs.
pub(super) enum Verdict<'a> {
    /// The encryption is certainly set; `tracing` is "tracing is on" or "tracing may be on".
    Pass {
        tracing: &'static str,
        config: &'a DeclaredConfig,
    },
    /// Tracing is or may be on (`tracing` says which, and where), and whether the encryption is
    /// set is unknown.
    ConfigUnknown {
        tracing: String,
        config: &'a DeclaredConfig,
        why: &'a str,
    },
    /// Tracing may be on, and nothing sets the encryption: unknown, at the uncertain site.
    TracingUnknown {
        tracing: String,
        site: &'a TracingSite,
    },
    /// Tracing is certainly on and nothing sets the encryption.
    Fail {
        tracing: String,
        site: &'a TracingSite,
    },
}

/// `what (and N more)`, for the first of `sites`.
fn first_of(sites: &[&TracingSite]) -> Option<String> {
    let first = sites.first()?;
    Some(match sites.len() {
        1 => first.what.clone(),
        n => format!("{} (and {} more)", first.what, n - 1),
    })
}

/// No verdict when nothing can turn tracing on. `known_at` is when an unknown is known
/// ("apply", "deploy").
pub(super) fn decide<'a>(
    tracing: &'a [TracingSite],
    encryption: &'a [DeclaredConfig],
    known_at: &str,
) -> Option<Verdict<'a>> {
    let on: Vec<&TracingSite> = tracing
        .iter()
        .filter(|s| s.presence == Presence::Certain)
        .collect();
    let maybe: Vec<(&TracingSite, &str)> = tracing
        .iter()
        .filter_map(|s| match &s.presence {
            Presence::Unknown(why) => Some((s, why.as_str())),
            Presence::Certain => None,
        })
        .collect();
    if on.is_empty() && maybe.is_empty() {
        return None;
    }
    if let Some(config) = encryption.iter().find(|c| c.presence == Presence::Certain) {
        let tracing = if on.is_empty() {
            "tracing may be on"
        } else {
            "tracing is on"
        };
        return Some(Verdict::Pass { tracing, config });
    }
    let said = match (first_of(&on), maybe.first()) {
        (Some(on), _) => format!("X-Ray tracing is on ({on})"),
        (None, Some((site, why))) => format!(
            "whether X-Ray tracing is on is only known at {known_at} time ({}: {why})",
            site.what
        ),
        (None, None) => return None,
    };
    let unknown_config = encryption.iter().find_map(|c| match &c.presence {
        Presence::Unknown(why) => Some((c, why.as_str())),
        Presence::Certain => None,
    });
    Some(match (unknown_config, on.first(), maybe.first()) {
        (Some((config, why)), _, _) => Verdict::ConfigUnknown {
            tracing: said,
            config,
            why,
        },
        (None, Some(site), _) => Verdict::Fail {
            tracing: said,
            site,
        },
        (None, None, Some((site, _))) => Verdict::TracingUnknown {
            tracing: said,
            site,
        },
        (None, None, None) => return None,
    })
}
