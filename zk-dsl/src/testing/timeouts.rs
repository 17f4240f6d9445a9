//! One knob for every wait in the tests: `ZK_TEST_TIMEOUT_SCALE`.
//!
//! Timeouts tuned on a fast laptop fail on a loaded two-core CI runner. Rather than sprinkling
//! magic numbers, every wait in the harness (and, by convention, in the tests using it) goes
//! through [`scaled`], so a slow machine is fixed by one environment variable.

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that multiplies every harness timeout (a positive number, default 1).
pub const TIMEOUT_SCALE_ENV: &str = "ZK_TEST_TIMEOUT_SCALE";

/// The unscaled time allowed for slow, one-off things: a server starting, a quorum forming.
pub const BASE_TIMEOUT: Duration = Duration::from_secs(10);

/// The factor read from `ZK_TEST_TIMEOUT_SCALE` (once per process); 1.0 when unset or invalid.
pub fn timeout_scale() -> f64 {
    static SCALE: OnceLock<f64> = OnceLock::new();
    *SCALE.get_or_init(|| {
        let raw = std::env::var(TIMEOUT_SCALE_ENV).ok();
        let scale = parse_scale(raw.as_deref());
        if raw.is_some() {
            tracing::debug!(scale, "{TIMEOUT_SCALE_ENV} applied to test timeouts");
        }
        scale
    })
}

/// `d` multiplied by [`timeout_scale`], saturating at `Duration::MAX`.
pub fn scaled(d: Duration) -> Duration {
    scale_by(d, timeout_scale())
}

fn scale_by(d: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

fn parse_scale(raw: Option<&str>) -> f64 {
    let Some(raw) = raw else { return 1.0 };
    match raw.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
        _ => {
            tracing::warn!(value = raw, "ignoring invalid {TIMEOUT_SCALE_ENV} (want a positive number); using 1.0");
            1.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_numbers_only() {
        assert_eq!(parse_scale(None), 1.0);
        assert_eq!(parse_scale(Some("2.5")), 2.5);
        assert_eq!(parse_scale(Some(" 3 ")), 3.0);
        for bad in ["", "0", "-1", "NaN", "inf", "fast"] {
            assert_eq!(parse_scale(Some(bad)), 1.0, "{bad:?}");
        }
    }

    #[test]
    fn scaling_saturates() {
        assert_eq!(scale_by(Duration::from_secs(10), 1.5), Duration::from_secs(15));
        assert_eq!(scale_by(Duration::MAX, 2.0), Duration::MAX);
    }
}
