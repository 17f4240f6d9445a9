//! Moving clients when the server list changes (ZOOKEEPER-1355's probabilistic rebalancing).
//!
//! When an ensemble grows from N to M servers, load spreads evenly only if about `1 - N/M` of
//! the clients move, and only to the new servers; when it shrinks, only the clients of removed
//! servers move, spread so that the survivors end up even. Each client decides alone, with a
//! coin: no coordination, and in expectation exactly the share that must move does.

use super::connect_string::HostPort;

/// What a client does with a new server list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rebalance {
    /// Keep the connection; the new list is used from the next reconnection on.
    Stay,
    /// Drop the connection and connect next to one of `first` (then the rest as usual).
    Move { first: Vec<HostPort> },
}

/// The decision for a client connected to `current` (if any) whose list goes from `old` to
/// `new`. `coin` is uniform in `[0, 1)`; `new` is already in the order to try.
pub(crate) fn rebalance(old: &[HostPort], current: Option<&HostPort>, new: &[HostPort], coin: f64) -> Rebalance {
    let (kept, added): (Vec<HostPort>, Vec<HostPort>) = new.iter().cloned().partition(|h| old.contains(h));
    let connected_to_kept = current.is_some_and(|c| new.contains(c));
    let (old_n, new_n, kept_n) = (old.len() as f64, new.len() as f64, kept.len() as f64);
    if current.is_none() {
        // Not connected: nothing to move; the next attempt uses the new list.
        return Rebalance::Stay;
    }
    if new.len() > old.len() {
        if connected_to_kept {
            // Each kept server must shed the share 1 - old/new of its clients, to added servers.
            if coin < 1.0 - old_n / new_n && !added.is_empty() {
                return Rebalance::Move { first: added };
            }
            return Rebalance::Stay;
        }
        // Our server is gone: the kept ones are already over their share, so go to an added one.
        return Rebalance::Move { first: if added.is_empty() { kept } else { added } };
    }
    if connected_to_kept {
        // The same number of servers or fewer: ours only gains clients.
        return Rebalance::Stay;
    }
    // Our server is gone and the list did not grow: split between kept and added servers so
    // that every server of the new list ends with the same share.
    let p_kept =
        if kept.is_empty() || old_n == kept_n { 0.0 } else { (kept_n * (old_n - new_n)) / (new_n * (old_n - kept_n)) };
    let first = if (coin < p_kept && !kept.is_empty()) || added.is_empty() { kept } else { added };
    Rebalance::Move { first }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(names: &[&str]) -> Vec<HostPort> {
        names.iter().map(|n| HostPort { host: (*n).into(), port: 2181 }).collect()
    }

    /// The share of `clients` spread evenly over `old` that `rebalance` moves to each server.
    fn simulate(old: &[&str], new: &[&str], clients: usize) -> std::collections::BTreeMap<String, usize> {
        let (old, new) = (hosts(old), hosts(new));
        let mut load = std::collections::BTreeMap::new();
        for i in 0..clients {
            let current = &old[i % old.len()];
            // A deterministic, evenly spread coin per client.
            let coin = (i as f64 * 0.618_033_988_75).fract();
            let at = match rebalance(&old, Some(current), &new, coin) {
                Rebalance::Stay => current.clone(),
                Rebalance::Move { first } => first[i % first.len()].clone(),
            };
            *load.entry(at.host).or_insert(0) += 1;
        }
        load
    }

    #[test]
    fn growing_moves_the_right_share_only_to_new_servers() {
        let load = simulate(&["a", "b", "c"], &["a", "b", "c", "d", "e"], 15_000);
        for (host, n) in &load {
            assert!((2_700..=3_300).contains(n), "{host}: {n} of 15,000 ({load:?})");
        }
    }

    #[test]
    fn shrinking_moves_only_the_clients_of_removed_servers() {
        let old = hosts(&["a", "b", "c", "d"]);
        for (i, current) in old.iter().enumerate().take(2) {
            assert_eq!(rebalance(&old, Some(current), &hosts(&["a", "b", "c"]), i as f64 / 4.0), Rebalance::Stay);
        }
        let load = simulate(&["a", "b", "c", "d"], &["a", "b", "c"], 12_000);
        for (host, n) in &load {
            assert!((3_600..=4_400).contains(n), "{host}: {n} of 12,000 ({load:?})");
        }
    }

    #[test]
    fn replacing_a_server_moves_its_clients_evenly() {
        let load = simulate(&["a", "b", "c"], &["a", "b", "d"], 9_000);
        assert_eq!(load.get("c"), None);
        for (host, n) in &load {
            assert!((2_600..=3_400).contains(n), "{host}: {n} of 9,000 ({load:?})");
        }
    }

    #[test]
    fn same_list_or_not_connected_stays() {
        let list = hosts(&["a", "b"]);
        assert_eq!(rebalance(&list, Some(&list[0]), &list, 0.0), Rebalance::Stay);
        assert_eq!(rebalance(&list, None, &hosts(&["c"]), 0.5), Rebalance::Stay);
        assert_eq!(
            rebalance(&list, Some(&list[0]), &hosts(&["c"]), 0.5),
            Rebalance::Move { first: hosts(&["c"]) },
            "a removed server's clients must go"
        );
    }
}
