//! Retrying what is safe to retry.
//!
//! A request that failed with `ConnectionLoss` (or timed out) may or may not have been applied.
//! Retrying a read, or a write that can recognise its own earlier success, is safe; retrying a
//! plain create or an unconditional update is not (a second node, a lost update). So a
//! [`RetryPolicy`] is not a wrapper around any future: it is taken only by operations that are
//! safe to repeat — reads ([`Call::retry`] is implemented only for them, through the sealed
//! [`Idempotent`] trait) and protected creates ([`ProtectedCreate::retry`](super::ProtectedCreate::retry)),
//! which find their own node instead of making a second one. The recipes use the same policies.
//!
//! Only `ConnectionLoss` and `Timeout` are retried: a session that expired or closed cannot be
//! retried on (make a new client, e.g. with `run_sessions`), and a server's refusal is an answer.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::client::call::{Call, Op};
use crate::client::{ChildrenOp, ExistsOp, GetAclOp, GetDataOp, SyncOp};
use crate::error::Error;

/// Exponential backoff with jitter, bounded by a number of attempts and by the time elapsed
/// since the first attempt (Curator's `BoundedExponentialBackoffRetry` with a deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    base: Duration,
    max_sleep: Duration,
    max_attempts: u32,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 50 ms doubling up to 2 s between attempts, at most 10 attempts and 30 s in all.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(50),
            max_sleep: Duration::from_secs(2),
            max_attempts: 10,
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Backoff starting at `base`, doubling per attempt (with jitter), otherwise the defaults.
    pub fn exponential(base: Duration) -> Self {
        RetryPolicy { base, ..RetryPolicy::default() }
    }

    /// One attempt, no retries.
    pub fn never() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// At most `n` attempts in all (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// No attempt starts later than `d` after the first.
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }

    /// The longest pause between two attempts.
    pub fn max_sleep(mut self, d: Duration) -> Self {
        self.max_sleep = d;
        self
    }

    /// Whether `error` is worth another attempt at all: [`Error::is_retryable`], kept here
    /// for recipes written against the policy.
    pub fn is_retryable(error: &Error) -> bool {
        error.is_retryable()
    }

    /// The pause before attempt `attempt + 1` (attempts count from 1), or `None` to give up.
    /// The pause is drawn uniformly from half to all of `base × 2^(attempt-1)`, capped.
    pub fn pause(&self, attempt: u32, started: Instant) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = exp.min(self.max_sleep);
        let half = ceiling / 2;
        let jitter = Duration::from_nanos(fastrand::u64(0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX)));
        let pause = half + jitter;
        (started.elapsed() + pause <= self.max_elapsed).then_some(pause)
    }

    /// Runs `attempt` until it succeeds, fails with a non-retryable error, or the policy gives
    /// up (then the last error is returned). Crate-internal: only operations known to be safe
    /// to repeat go through it.
    pub(crate) async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let mut n = 1;
        loop {
            match attempt().await {
                Err(e) if e.is_retryable() => match self.pause(n, started) {
                    Some(pause) => {
                        tracing::debug!(error = %e, attempt = n, ?pause, "retrying");
                        tokio::time::sleep(pause).await;
                        n += 1;
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Operations that may be sent again after a `ConnectionLoss` without changing their meaning:
/// reads. Sealed: a user cannot declare a create idempotent.
pub trait Idempotent: Op + Clone + Sync + sealed::Sealed {}

macro_rules! idempotent {
    ($($op:ty),*) => {$(
        impl sealed::Sealed for $op {}
        impl Idempotent for $op {}
    )*};
}
idempotent!(GetDataOp, ExistsOp, ChildrenOp, GetAclOp, SyncOp);

impl<'c, O: Idempotent> Call<'c, O> {
    /// Retries the read after `ConnectionLoss` or `Timeout`, as `policy` allows. Only reads have
    /// this method: a write retried blindly could apply twice (see [`ProtectedCreate`](super::ProtectedCreate)
    /// for creates that can be retried).
    pub fn retry(self, policy: RetryPolicy) -> Retrying<'c, O> {
        Retrying { call: self, policy }
    }
}

/// A read that is retried by a [`RetryPolicy`]; await it.
#[must_use = "nothing is sent until it is awaited"]
#[derive(Debug)]
pub struct Retrying<'c, O> {
    call: Call<'c, O>,
    policy: RetryPolicy,
}

impl<'c, O: Idempotent + std::fmt::Debug> IntoFuture for Retrying<'c, O> {
    type Output = Result<O::Output, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        let Retrying { call, policy } = self;
        Box::pin(async move {
            let (client, op, timeout) = (call.client, call.op, call.timeout);
            // Each attempt has the call's deadline.
            policy.run(|| Call { client, op: op.clone(), timeout }.send()).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stop_at_the_bounds() {
        let policy =
            RetryPolicy::exponential(Duration::from_millis(100)).max_attempts(4).max_sleep(Duration::from_millis(300));
        let start = Instant::now();
        let p1 = policy.pause(1, start).unwrap();
        assert!(p1 >= Duration::from_millis(50) && p1 <= Duration::from_millis(100), "{p1:?}");
        let p3 = policy.pause(3, start).unwrap();
        assert!(p3 >= Duration::from_millis(150) && p3 <= Duration::from_millis(300), "{p3:?}");
        assert_eq!(policy.pause(4, start), None, "four attempts made");
        let tight = RetryPolicy::default().max_elapsed(Duration::from_millis(10));
        assert_eq!(tight.pause(1, start - Duration::from_millis(20)), None, "out of time");
        assert_eq!(RetryPolicy::never().pause(1, start), None);
    }
}
