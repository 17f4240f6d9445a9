//! How a [`ServiceProvider`](super::ServiceProvider) picks an instance, and which instances it
//! leaves out for a while after errors.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How [`ServiceProvider::get_instance`](super::ServiceProvider::get_instance) picks among the
/// usable instances (curator-x-discovery's `ProviderStrategy`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Each in turn, in id order (Curator's default `RoundRobinStrategy`): spreads load evenly.
    #[default]
    RoundRobin,
    /// Uniformly at random (`RandomStrategy`): spreads load without shared state between
    /// clients' picks lining up.
    Random,
    /// The same instance for as long as it is usable, then the next in turn (`StickyStrategy`
    /// over round-robin): for connection reuse or session affinity.
    Sticky,
}

/// When a noted instance is left out (curator-x-discovery's `DownInstancePolicy`): after
/// `error_threshold` errors noted within `timeout` of the first, until `timeout` has passed
/// since that first error. Default 30 s and 2 errors, as Curator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownInstancePolicy {
    /// How long an instance's noted errors count.
    pub timeout: Duration,
    /// How many noted errors make it down.
    pub error_threshold: u32,
}

impl Default for DownInstancePolicy {
    fn default() -> Self {
        DownInstancePolicy { timeout: Duration::from_secs(30), error_threshold: 2 }
    }
}

impl DownInstancePolicy {
    /// Down after `error_threshold` errors, for `timeout` from the first.
    pub fn new(timeout: Duration, error_threshold: u32) -> Self {
        DownInstancePolicy { timeout, error_threshold }
    }
}

/// Errors noted per instance id.
#[derive(Debug, Default)]
pub(super) struct DownInstances {
    noted: HashMap<String, (Instant, u32)>,
}

impl DownInstances {
    /// Counts an error of `id` (forgetting the errors whose time is up).
    pub fn note(&mut self, policy: &DownInstancePolicy, id: &str) {
        self.noted.retain(|_, (first, _)| first.elapsed() < policy.timeout);
        self.noted.entry(id.to_owned()).or_insert_with(|| (Instant::now(), 0)).1 += 1;
    }

    pub fn is_down(&self, policy: &DownInstancePolicy, id: &str) -> bool {
        self.noted
            .get(id)
            .is_some_and(|(first, errors)| *errors >= policy.error_threshold && first.elapsed() < policy.timeout)
    }
}

/// A strategy's memory between picks.
#[derive(Debug, Default)]
pub(super) struct Picker {
    /// The next round-robin turn.
    turn: usize,
    /// The sticky strategy's instance id.
    stuck: Option<String>,
}

impl Picker {
    /// The index in `ids` (the usable instances' ids, in order) to hand out; `None` if empty.
    pub fn pick(&mut self, strategy: Strategy, ids: &[&str]) -> Option<usize> {
        if ids.is_empty() {
            return None;
        }
        match strategy {
            Strategy::RoundRobin => Some(self.next_turn(ids.len())),
            Strategy::Random => Some(fastrand::usize(..ids.len())),
            Strategy::Sticky => {
                if let Some(i) = self.stuck.as_deref().and_then(|stuck| ids.iter().position(|id| *id == stuck)) {
                    return Some(i);
                }
                let i = self.next_turn(ids.len());
                // In range: next_turn is below ids.len().
                self.stuck = Some(ids[i].to_owned());
                Some(i)
            }
        }
    }

    fn next_turn(&mut self, len: usize) -> usize {
        let i = self.turn % len;
        self.turn = self.turn.wrapping_add(1);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_pick_as_documented() {
        let ids = ["a", "b", "c"];
        let mut p = Picker::default();
        let rr: Vec<usize> = (0..6).filter_map(|_| p.pick(Strategy::RoundRobin, &ids)).collect();
        assert_eq!(rr, [0, 1, 2, 0, 1, 2]);
        let mut p = Picker::default();
        let first = p.pick(Strategy::Sticky, &ids).unwrap();
        assert!((0..5).all(|_| p.pick(Strategy::Sticky, &ids) == Some(first)));
        // Its instance gone: another, then that one.
        let rest: Vec<&str> = ids.iter().copied().filter(|id| *id != ids[first]).collect();
        let next = p.pick(Strategy::Sticky, &rest).unwrap();
        assert_eq!(p.pick(Strategy::Sticky, &rest), Some(next));
        assert_eq!(Picker::default().pick(Strategy::Random, &[]), None);
    }

    #[test]
    fn an_instance_is_down_after_the_threshold_until_the_timeout() {
        let policy = DownInstancePolicy::new(Duration::from_millis(50), 2);
        let mut down = DownInstances::default();
        down.note(&policy, "a");
        assert!(!down.is_down(&policy, "a"));
        down.note(&policy, "a");
        assert!(down.is_down(&policy, "a") && !down.is_down(&policy, "b"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!down.is_down(&policy, "a"), "forgiven after the timeout");
    }
}
