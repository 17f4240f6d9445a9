//! Duration literals: `timeout = 5s`, `ttl = 60s`, `500ms`, `2m`, `1h`.
//!
//! Rust reads `5s` as the integer literal `5` with the suffix `s`, so the parser finds these
//! as literals and the unit is checked here; anything else given to a duration option (a
//! `Duration` expression, a variable) is passed as written. A literal becomes the
//! `std::time::Duration` constructor a person would write: `from_millis` for `ms`, else
//! `from_secs` with minutes and hours converted to seconds.

use proc_macro2::Span;
use syn::{Expr, Lit};

/// The units, how many of the constructor's unit each is, and whether the constructor is
/// `from_millis` (else `from_secs`).
const UNITS: &[(&str, u64, Constructor)] = &[
    ("ms", 1, Constructor::Millis),
    ("s", 1, Constructor::Secs),
    ("m", 60, Constructor::Secs),
    ("min", 60, Constructor::Secs),
    ("h", 3600, Constructor::Secs),
];

/// The units as written in messages.
pub const UNIT_NAMES: &str = "`ms`, `s`, `m` (or `min`), `h`";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constructor {
    Millis,
    Secs,
}

impl Constructor {
    pub fn method(self) -> &'static str {
        match self {
            Constructor::Millis => "from_millis",
            Constructor::Secs => "from_secs",
        }
    }
}

/// A numeric literal given to a duration option.
pub struct DurationLit {
    pub lit: Lit,
}

/// Why a literal is no duration.
#[derive(Debug, PartialEq, Eq)]
pub enum DurationError {
    /// `5`: no unit.
    NoUnit,
    /// `5u64`, `5sec`.
    UnknownUnit(String),
    /// `1.5s`.
    Fractional,
    /// More seconds or milliseconds than a `u64` holds.
    TooLarge,
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurationError::NoUnit => write!(f, "a duration needs a unit: {UNIT_NAMES} (as in `5s` or `500ms`)"),
            DurationError::UnknownUnit(unit) => write!(f, "unknown unit `{unit}` in a duration; units: {UNIT_NAMES}"),
            DurationError::Fractional => {
                write!(f, "a duration literal is a whole number of its unit: write `1500ms`, not `1.5s`")
            }
            DurationError::TooLarge => write!(f, "duration too large"),
        }
    }
}

impl DurationLit {
    /// The literal, if `expr` is a numeric one.
    pub fn from_expr(expr: &Expr) -> Option<DurationLit> {
        match expr {
            Expr::Lit(e) if e.attrs.is_empty() && matches!(e.lit, Lit::Int(_) | Lit::Float(_)) => {
                Some(DurationLit { lit: e.lit.clone() })
            }
            _ => None,
        }
    }

    pub fn span(&self) -> Span {
        self.lit.span()
    }

    /// The constructor and its argument: `5s` is `(from_secs, 5)`, `2m` is `(from_secs, 120)`.
    pub fn value(&self) -> Result<(Constructor, u64), DurationError> {
        let (digits, suffix) = match &self.lit {
            Lit::Int(int) => (int.base10_digits(), int.suffix()),
            Lit::Float(float) => {
                return Err(match unit(float.suffix()) {
                    Some(_) => DurationError::Fractional,
                    None if float.suffix().is_empty() => DurationError::NoUnit,
                    None => DurationError::UnknownUnit(float.suffix().to_owned()),
                })
            }
            _ => return Err(DurationError::NoUnit),
        };
        if suffix.is_empty() {
            return Err(DurationError::NoUnit);
        }
        let (factor, constructor) = unit(suffix).ok_or_else(|| DurationError::UnknownUnit(suffix.to_owned()))?;
        let n: u64 = digits.parse().map_err(|_| DurationError::TooLarge)?;
        let n = n.checked_mul(factor).ok_or(DurationError::TooLarge)?;
        Ok((constructor, n))
    }
}

fn unit(suffix: &str) -> Option<(u64, Constructor)> {
    UNITS.iter().find(|(name, _, _)| *name == suffix).map(|(_, factor, c)| (*factor, *c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(source: &str) -> Result<(Constructor, u64), DurationError> {
        let expr: Expr = syn::parse_str(source).expect(source);
        DurationLit::from_expr(&expr).expect(source).value()
    }

    #[test]
    fn units_become_the_constructor_a_person_would_write() {
        assert_eq!(value("5s"), Ok((Constructor::Secs, 5)));
        assert_eq!(value("500ms"), Ok((Constructor::Millis, 500)));
        assert_eq!(value("1_500ms"), Ok((Constructor::Millis, 1500)));
        assert_eq!(value("2m"), Ok((Constructor::Secs, 120)));
        assert_eq!(value("2min"), Ok((Constructor::Secs, 120)));
        assert_eq!(value("1h"), Ok((Constructor::Secs, 3600)));
        assert_eq!(value("0s"), Ok((Constructor::Secs, 0)));
    }

    #[test]
    fn bad_literals_say_why() {
        assert_eq!(value("5"), Err(DurationError::NoUnit));
        assert_eq!(value("5sec"), Err(DurationError::UnknownUnit("sec".into())));
        assert_eq!(value("5u64"), Err(DurationError::UnknownUnit("u64".into())));
        assert_eq!(value("1.5s"), Err(DurationError::Fractional));
        assert_eq!(value("1.5"), Err(DurationError::NoUnit));
        assert_eq!(value("18446744073709551615h"), Err(DurationError::TooLarge));
        assert!(DurationLit::from_expr(&syn::parse_str("Duration::from_secs(5)").unwrap()).is_none());
    }
}
