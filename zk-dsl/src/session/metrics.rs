//! The client's metrics, through the [`metrics`](https://docs.rs/metrics) facade (cargo feature
//! `metrics`): whatever recorder the application installs (Prometheus, StatsD, …) gets them.
//! Without the feature every function here is empty and the timestamps are `()`, so the hot
//! path pays nothing.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `zk_dsl_request_duration_seconds` | histogram | `op` | a request's written → reply time |
//! | `zk_dsl_requests_in_flight` | gauge | | requests written and not yet answered (all sessions) |
//! | `zk_dsl_reconnects_total` | counter | | connections re-established for a live session |
//! | `zk_dsl_sessions` | gauge | `state` | live sessions in each state (`connecting`, `connected`, `read_only`) |
//! | `zk_dsl_watches` | gauge | | watchers registered (all sessions) |
//! | `zk_dsl_bytes_sent_total` | counter | | bytes written to the servers |
//! | `zk_dsl_bytes_received_total` | counter | | bytes read from the servers |

use crate::proto::OpCode;
use crate::session::SessionState;

/// When a request was written (for its latency): an `Instant` with the feature, else nothing.
#[cfg(feature = "metrics")]
pub(crate) type Stamp = std::time::Instant;
/// When a request was written (for its latency): an `Instant` with the feature, else nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) type Stamp = ();

/// The `state` label of a live session; terminal sessions are not counted.
fn state_label(state: SessionState) -> Option<&'static str> {
    match state {
        SessionState::Connecting => Some("connecting"),
        SessionState::Connected => Some("connected"),
        SessionState::ConnectedReadOnly => Some("read_only"),
        _ => None,
    }
}

#[cfg(feature = "metrics")]
mod imp {
    use super::*;

    pub(crate) fn stamp() -> Stamp {
        std::time::Instant::now()
    }

    pub(crate) fn request_written() {
        metrics::gauge!("zk_dsl_requests_in_flight").increment(1.0);
    }

    pub(crate) fn request_answered(op: OpCode, written: Stamp) {
        // The key is built from static parts: `histogram!` with a label allocates the label
        // list on every call, once per request.
        static METADATA: metrics::Metadata<'static> =
            metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        let key = metrics::Key::from_static_parts("zk_dsl_request_duration_seconds", op_label(op));
        metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
            .record(written.elapsed().as_secs_f64());
        metrics::gauge!("zk_dsl_requests_in_flight").decrement(1.0);
    }

    /// The `op` label of `op`, made once per process for every opcode.
    fn op_label(op: OpCode) -> &'static [metrics::Label] {
        static LABELS: std::sync::OnceLock<Vec<[metrics::Label; 1]>> = std::sync::OnceLock::new();
        let labels = LABELS.get_or_init(|| {
            OpCode::ALL.iter().map(|op| [metrics::Label::from_static_parts("op", op.name())]).collect()
        });
        // Every opcode is in `ALL` (the enum's own list), so the lookup always finds it.
        match OpCode::ALL.iter().position(|o| *o == op).and_then(|i| labels.get(i)) {
            Some(label) => label,
            None => &[],
        }
    }

    pub(crate) fn requests_lost(count: usize) {
        metrics::gauge!("zk_dsl_requests_in_flight").decrement(count as f64);
    }

    pub(crate) fn reconnected() {
        metrics::counter!("zk_dsl_reconnects_total").increment(1);
    }

    pub(crate) fn state_changed(from: Option<SessionState>, to: SessionState) {
        if from == Some(to) {
            return;
        }
        if let Some(label) = from.and_then(state_label) {
            metrics::gauge!("zk_dsl_sessions", "state" => label).decrement(1.0);
        }
        if let Some(label) = state_label(to) {
            metrics::gauge!("zk_dsl_sessions", "state" => label).increment(1.0);
        }
    }

    pub(crate) fn watches_changed(before: usize, after: usize) {
        if before != after {
            metrics::gauge!("zk_dsl_watches").increment(after as f64 - before as f64);
        }
    }

    pub(crate) fn bytes_sent(count: usize) {
        metrics::counter!("zk_dsl_bytes_sent_total").increment(count as u64);
    }

    pub(crate) fn bytes_received(count: usize) {
        metrics::counter!("zk_dsl_bytes_received_total").increment(count as u64);
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(clippy::unused_unit)]
mod imp {
    use super::*;

    #[inline(always)]
    pub(crate) fn stamp() -> Stamp {}
    #[inline(always)]
    pub(crate) fn request_written() {}
    #[inline(always)]
    pub(crate) fn request_answered(_: OpCode, _: Stamp) {}
    #[inline(always)]
    pub(crate) fn requests_lost(_: usize) {}
    #[inline(always)]
    pub(crate) fn reconnected() {}
    #[inline(always)]
    pub(crate) fn state_changed(_: Option<SessionState>, _: SessionState) {
        let _ = state_label;
    }
    #[inline(always)]
    pub(crate) fn watches_changed(_: usize, _: usize) {}
    #[inline(always)]
    pub(crate) fn bytes_sent(_: usize) {}
    #[inline(always)]
    pub(crate) fn bytes_received(_: usize) {}
}

pub(crate) use imp::*;
