//! Validation of AWS region names given on the command line.

/// Checks that `name` has the shape of an AWS region (`eu-west-1`, `us-gov-west-1`,
/// `cn-northwest-1`, `eu-isoe-west-1`): lowercase words joined by `-`, ending in a number.
/// Whether the region exists and is enabled is for the account to say.
pub fn validate_region(name: &str) -> Result<(), InvalidRegion> {
    let parts: Vec<&str> = name.split('-').collect();
    let shape_ok = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[0].len() == 2
        && parts.last().is_some_and(|n| {
            !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
        });
    if shape_ok {
        Ok(())
    } else {
        Err(InvalidRegion(name.to_owned()))
    }
}

/// A name that does not have the shape of an AWS region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid AWS region name (expected something like `eu-west-1`)")]
pub struct InvalidRegion(pub String);

#[cfg(test)]
mod tests {
    use super::validate_region;

    #[test]
    fn accepts_real_region_shapes() {
        for r in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "cn-northwest-1",
            "eu-isoe-west-1",
            "il-central-1",
        ] {
            assert!(validate_region(r).is_ok(), "{r}");
        }
    }

    #[test]
    fn rejects_malformed_names() {
        for r in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "useast1",
            "us-east-1a",
            "eu--1",
            "-east-1",
            "us-east-100",
            "euwest-1",
        ] {
            assert!(validate_region(r).is_err(), "{r}");
        }
    }
}
