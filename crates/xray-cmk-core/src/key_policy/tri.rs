//! Three-valued truth for parts of a policy the model may be unable to decide.
//!
//! An unsupported operator must not silently become `false` (that could hide an Allow) nor `true`
//! (that could invent one), so conditions evaluate to [`Tri`] and combine with Kleene logic: a
//! definite `No` in an AND, or a definite `Yes` in an OR, still settles the answer.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    /// Undecidable, with the reason a person should read.
    Unknown(String),
}

impl Tri {
    pub(crate) fn from_bool(b: bool) -> Self {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }

    pub(crate) fn not(self) -> Self {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            unknown => unknown,
        }
    }

    /// AND over `items`: `No` wins, then the first `Unknown`, else `Yes` (also for no items).
    pub(crate) fn all(items: impl IntoIterator<Item = Tri>) -> Self {
        let mut unknown = None;
        for item in items {
            match item {
                Tri::No => return Tri::No,
                Tri::Unknown(reason) => {
                    unknown.get_or_insert(reason);
                }
                Tri::Yes => {}
            }
        }
        unknown.map_or(Tri::Yes, Tri::Unknown)
    }

    /// OR over `items`: `Yes` wins, then the first `Unknown`, else `No` (also for no items).
    pub(crate) fn any(items: impl IntoIterator<Item = Tri>) -> Self {
        Tri::all(items.into_iter().map(Tri::not)).not()
    }
}

#[cfg(test)]
mod tests {
    use super::Tri;

    fn unk() -> Tri {
        Tri::Unknown("u".into())
    }

    #[test]
    fn kleene_and_or() {
        assert_eq!(Tri::all([Tri::Yes, unk()]), unk());
        assert_eq!(Tri::all([unk(), Tri::No]), Tri::No);
        assert_eq!(Tri::all([]), Tri::Yes);
        assert_eq!(Tri::any([Tri::No, unk()]), unk());
        assert_eq!(Tri::any([unk(), Tri::Yes]), Tri::Yes);
        assert_eq!(Tri::any([]), Tri::No);
        assert_eq!(unk().not(), unk());
    }
}
