//! The requests in flight on one connection, and the session's xids: which request a reply
//! answers (replies come back in xid order, so the oldest), and whose an auth reply is
//! (replayed identities' replies first, then `add_auth` waiters in order). A plain type, so
//! the matching rules are tested without a socket; the session task owns one per connection.

use std::collections::VecDeque;

use tokio::sync::OwnedSemaphorePermit;

use super::metrics::{self, Stamp};
use super::request::{Completion, WatchAction};
use crate::proto::OpCode;

/// The session's request ids: 1, 2, … `i32::MAX`, then 1 again (the negative ones are
/// reserved for pings, auth, notifications and SetWatches).
#[derive(Debug)]
pub(crate) struct Xids {
    next: i32,
}

impl Xids {
    pub fn new() -> Xids {
        Xids { next: 1 }
    }

    /// The id of the next request written, in wire order.
    pub fn next(&mut self) -> i32 {
        let xid = self.next;
        self.next = if xid == i32::MAX { 1 } else { xid + 1 };
        xid
    }
}

/// A request written to the connection whose reply has not arrived.
#[derive(Debug)]
pub(crate) struct Pending {
    pub xid: i32,
    pub op: OpCode,
    /// Applied to the watch registry when the reply arrives, before it is completed.
    pub watch: Option<Box<WatchAction>>,
    pub completion: Completion,
    /// Held (for its `Drop`) until the reply: see `Request::permit`.
    pub _permit: Option<OwnedSemaphorePermit>,
    /// When it was written, for its latency (nothing without the `metrics` feature).
    pub written: Stamp,
}

impl Pending {
    /// A request just written.
    pub fn new(
        xid: i32,
        op: OpCode,
        watch: Option<Box<WatchAction>>,
        completion: Completion,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Pending {
        Pending { xid, op, watch, completion, _permit: permit, written: metrics::stamp() }
    }

    /// A request nobody's permit counts (the session's own: close, removeWatches).
    pub fn internal(xid: i32, op: OpCode, completion: Completion) -> Pending {
        Pending::new(xid, op, None, completion, None)
    }
}

/// What one connection is waiting for.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    requests: VecDeque<Pending>,
    auth_waiters: VecDeque<Completion>,
    /// Auth packets replayed on this connection whose replies have not arrived; they come
    /// before the replies of any `add_auth` sent on it (auth replies keep their order).
    auth_replayed: usize,
}

/// A reply that does not answer the oldest request in flight.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// Nothing is in flight.
    NothingPending { xid: i32 },
    /// Another request is older.
    OutOfOrder { xid: i32, expected: i32 },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::NothingPending { xid } => write!(f, "reply with xid {xid} but nothing pending"),
            Mismatch::OutOfOrder { xid, expected } => write!(f, "reply xid {xid} out of order (expected {expected})"),
        }
    }
}

impl InFlight {
    /// A request just written.
    pub fn push(&mut self, pending: Pending) {
        metrics::request_written();
        self.requests.push_back(pending);
    }

    /// An `add_auth` just written; its completion waits for the next auth reply that is not
    /// a replayed identity's.
    pub fn push_auth(&mut self, completion: Completion) {
        self.auth_waiters.push_back(completion);
    }

    /// An identity replayed on this connection (its reply has no waiter).
    pub fn replayed_auth(&mut self) {
        self.auth_replayed += 1;
    }

    /// Requests in flight (auth packets not counted).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// The request a reply with `xid` answers: the oldest one, which must carry that xid. On a
    /// mismatch nothing is taken.
    pub fn answer(&mut self, xid: i32) -> Result<Pending, Mismatch> {
        match self.requests.front() {
            None => Err(Mismatch::NothingPending { xid }),
            Some(p) if p.xid != xid => Err(Mismatch::OutOfOrder { xid, expected: p.xid }),
            Some(_) => self.requests.pop_front().map(answered).ok_or(Mismatch::NothingPending { xid }),
        }
    }

    /// The oldest request if it carries `xid` (a positive one: the reserved xids answer no
    /// request), else nothing: for a reply known only by its header.
    pub fn answer_if(&mut self, xid: i32) -> Option<Pending> {
        match self.requests.front() {
            Some(p) if p.xid == xid && xid > 0 => self.requests.pop_front().map(answered),
            _ => None,
        }
    }

    /// The waiter of the next auth reply: `None` for a replayed identity's reply (or one
    /// nobody waits for).
    pub fn auth_reply(&mut self) -> Option<Completion> {
        if self.auth_replayed > 0 {
            self.auth_replayed -= 1;
            None
        } else {
            self.auth_waiters.pop_front()
        }
    }

    /// Everything still waiting, oldest first, when the connection is gone: the requests, and
    /// the `add_auth` waiters.
    pub fn drain(&mut self) -> (VecDeque<Pending>, VecDeque<Completion>) {
        self.auth_replayed = 0;
        metrics::requests_lost(self.requests.len());
        (std::mem::take(&mut self.requests), std::mem::take(&mut self.auth_waiters))
    }
}

/// Counts a request's reply (its latency) as it leaves the queue.
// Without the `metrics` feature the stamp is `()`, and the call is empty.
#[allow(clippy::unit_arg)]
fn answered(pending: Pending) -> Pending {
    metrics::request_answered(pending.op, pending.written);
    pending
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    fn completion() -> (Completion, oneshot::Receiver<Result<super::super::request::RawReply, crate::Error>>) {
        let (tx, rx) = oneshot::channel();
        (Completion::Future(tx), rx)
    }

    fn request(xid: i32) -> Pending {
        Pending::internal(xid, OpCode::GetData, completion().0)
    }

    #[test]
    fn xids_count_up_and_wrap_past_the_reserved_ones() {
        let mut xids = Xids::new();
        assert_eq!((xids.next(), xids.next()), (1, 2));
        let mut xids = Xids { next: i32::MAX };
        assert_eq!((xids.next(), xids.next()), (i32::MAX, 1));
    }

    #[test]
    fn replies_answer_the_oldest_request_and_a_mismatch_takes_nothing() {
        let mut inflight = InFlight::default();
        assert_eq!(inflight.answer(1).unwrap_err(), Mismatch::NothingPending { xid: 1 });
        for xid in 1..=3 {
            inflight.push(request(xid));
        }
        assert_eq!(inflight.answer(2).unwrap_err(), Mismatch::OutOfOrder { xid: 2, expected: 1 });
        assert_eq!(inflight.len(), 3, "a mismatch takes nothing");
        assert_eq!(inflight.answer(1).map(|p| p.xid), Ok(1));
        // A header-only match: only the oldest, only a real xid.
        assert!(inflight.answer_if(3).is_none());
        assert!(inflight.answer_if(-4).is_none());
        assert_eq!(inflight.answer_if(2).map(|p| p.xid), Some(2));
        let (requests, auth) = inflight.drain();
        assert_eq!(requests.iter().map(|p| p.xid).collect::<Vec<_>>(), [3]);
        assert!(auth.is_empty() && inflight.len() == 0);
    }

    #[test]
    fn replayed_identities_are_answered_before_add_auth_waiters() {
        let mut inflight = InFlight::default();
        inflight.replayed_auth();
        inflight.replayed_auth();
        let (first, mut first_rx) = completion();
        let (second, _second_rx) = completion();
        inflight.push_auth(first);
        inflight.push_auth(second);
        assert!(inflight.auth_reply().is_none());
        assert!(inflight.auth_reply().is_none());
        let Some(Completion::Future(tx)) = inflight.auth_reply() else { panic!("the first waiter") };
        drop(tx);
        assert!(first_rx.try_recv().is_err(), "the first add_auth's completion came first");
        assert!(inflight.auth_reply().is_some());
        assert!(inflight.auth_reply().is_none(), "nobody else waits");
        // A new connection starts with no replays outstanding.
        inflight.replayed_auth();
        let _ = inflight.drain();
        let (third, _third_rx) = completion();
        inflight.push_auth(third);
        assert!(inflight.auth_reply().is_some());
    }
}
