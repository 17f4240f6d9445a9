//! The cells of the standard table: which workload, payload, concurrency and sessions.

use serde::{Deserialize, Serialize};

use crate::clients::ClientKind;
use crate::spec::Workload;

/// Contenders on the one mutex of the lock-handoff cell (the 10).
pub const LOCK_CONTENDERS: usize = 10;
/// Participants of the leader-failover cell's latch: a leader and two in line.
pub const LATCH_PARTICIPANTS: usize = 3;
/// Contending sessions of the counter and atom cells (the 10).
pub const SHARED_CONTENDERS: usize = 10;
/// Items offered and not yet taken in the queue cell: keeps the queue short (Curator's consumer
/// lists the whole queue for every take).
pub const QUEUE_WINDOW: usize = 10;
/// Tree sizes of the cache initial-load cells (the 10,000 and 100,000 nodes).
pub const CACHE_LOAD_TREES: [usize; 2] = [10_000, 100_000];
/// Tree size of the cache update-propagation cell.
pub const CACHE_UPDATE_TREE: usize = 1_000;

/// One row of the table: every client runs it, alternating, round after round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub workload: Workload,
    pub payload: usize,
    /// Total outstanding units, spread over the sessions.
    pub outstanding: usize,
    pub sessions: usize,
    /// For `children`: how many children the listed znode has.
    pub children: usize,
    /// For `multi`: ops per multi.
    pub multi_ops: usize,
}

impl Cell {
    fn new(workload: Workload, payload: usize, outstanding: usize) -> Cell {
        Cell { workload, payload, outstanding, sessions: 1, children: 0, multi_ops: 0 }
    }

    fn sessions(mut self, sessions: usize) -> Cell {
        self.sessions = sessions;
        self
    }

    /// A short unique name: `get 100B n=10`, `set 100B n=100 s=4`, `children-1000 n=10`,
    /// `lock-handoff c=10` (c = contenders, each its own session).
    pub fn label(&self) -> String {
        match self.workload {
            Workload::Lock => return format!("lock-handoff c={}", self.outstanding),
            Workload::Failover => return format!("leader-failover c={}", self.sessions),
            Workload::Counter => return format!("counter c={}", self.outstanding),
            Workload::Atom => return format!("atom c={}", self.outstanding),
            Workload::Queue => return format!("queue {} w={}", size(self.payload), self.outstanding),
            Workload::CacheLoad => return format!("cache-load {} t={}", size(self.payload), self.children),
            Workload::CacheUpdate => return format!("cache-update {} t={}", size(self.payload), self.children),
            _ => {}
        }
        let mut s = match self.workload {
            Workload::Children => format!("children-{}", self.children),
            Workload::Multi => format!("multi-{} {}", self.multi_ops, size(self.payload)),
            Workload::Connect => "connect".to_string(),
            w => format!("{w} {}", size(self.payload)),
        };
        if !matches!(self.workload, Workload::Watch | Workload::Connect) {
            s.push_str(&format!(" n={}", self.outstanding));
        }
        if self.sessions > 1 {
            s.push_str(&format!(" s={}", self.sessions));
        }
        s
    }

    /// Whether `client` runs this cell: the recipe cells need the recipe (zk-dsl's, Curator's,
    /// kazoo's `Lock` and `Counter`; no latch, typed atom or Curator-layout queue in kazoo), the
    /// request cells a plain client (Curator's plain requests are the Java client's). The
    /// `VecDeque`, callback and blocking-window patterns of zk-dsl, and raw's pattern floors, are
    /// written for get, set and create only.
    pub fn runs_with(&self, client: ClientKind) -> bool {
        if matches!(
            client,
            ClientKind::ZkDslDeque
                | ClientKind::ZkDslCallbacks
                | ClientKind::ZkDslBlockingWindow
                | ClientKind::RawTasks
        ) {
            return matches!(self.workload, Workload::Get | Workload::Set | Workload::Create);
        }
        match self.workload {
            Workload::Lock | Workload::Counter | Workload::CacheLoad | Workload::CacheUpdate => {
                matches!(client, ClientKind::ZkDsl | ClientKind::Curator | ClientKind::Kazoo)
            }
            Workload::Failover | Workload::Atom | Workload::Queue => {
                matches!(client, ClientKind::ZkDsl | ClientKind::Curator)
            }
            _ => client != ClientKind::Curator,
        }
    }

    /// The core grid: get/set/create, 100 B, one session.
    pub fn is_core(&self) -> bool {
        matches!(self.workload, Workload::Get | Workload::Set | Workload::Create)
            && self.payload == 100
            && self.sessions == 1
    }
}

pub fn size(bytes: usize) -> String {
    if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{}KiB", bytes / 1024)
    } else {
        format!("{bytes}B")
    }
}

/// The standard table (34 cells).
pub fn standard() -> Vec<Cell> {
    let mut cells = Vec::new();
    // Throughput and latency against outstanding requests on one session.
    for w in [Workload::Get, Workload::Set, Workload::Create] {
        for n in [1, 10, 100, 1000] {
            cells.push(Cell::new(w, 100, n));
        }
    }
    // Several sessions, 100 outstanding in total.
    for w in [Workload::Get, Workload::Set] {
        for s in [4, 16] {
            cells.push(Cell::new(w, 100, 100).sessions(s));
        }
    }
    // Payload sizes: 1 KiB (the paper's) and 64 KiB.
    for w in [Workload::Get, Workload::Set] {
        cells.push(Cell::new(w, 1024, 100));
        cells.push(Cell::new(w, 64 << 10, 10));
    }
    cells.push(Cell::new(Workload::CreateDelete, 100, 100));
    for children in [100, 1000] {
        cells.push(Cell { children, ..Cell::new(Workload::Children, 0, 10) });
    }
    cells.push(Cell { multi_ops: 10, ..Cell::new(Workload::Multi, 100, 10) });
    cells.push(Cell::new(Workload::Watch, 100, 1));
    cells.push(Cell::new(Workload::Connect, 0, 1));
    // The recipes: one mutex handed between contenders, and a latch losing its leader.
    cells.push(Cell::new(Workload::Lock, 0, LOCK_CONTENDERS).sessions(LOCK_CONTENDERS));
    cells.push(Cell::new(Workload::Failover, 0, 1).sessions(LATCH_PARTICIPANTS));
    // Shared data: one counter and one typed atom under contention, and a queue's producer →
    // consumer.
    cells.push(Cell::new(Workload::Counter, 0, SHARED_CONTENDERS).sessions(SHARED_CONTENDERS));
    cells.push(Cell::new(Workload::Atom, 0, SHARED_CONTENDERS).sessions(SHARED_CONTENDERS));
    cells.push(Cell::new(Workload::Queue, 100, QUEUE_WINDOW).sessions(2));
    // Caches: the initial load of a big tree, and a change reaching the cache.
    for nodes in CACHE_LOAD_TREES {
        cells.push(Cell { children: nodes, ..Cell::new(Workload::CacheLoad, 100, 1) });
    }
    cells.push(Cell { children: CACHE_UPDATE_TREE, ..Cell::new(Workload::CacheUpdate, 100, 1).sessions(2) });
    cells
}

/// The cells `--only` asks for: a text that is a cell's whole label picks that cell alone
/// (`get 100B n=1` is not also `n=10`); any other text picks every label containing it.
pub fn select(cells: Vec<Cell>, only: &[String]) -> Vec<Cell> {
    let labels: Vec<String> = cells.iter().map(Cell::label).collect();
    let picks = |label: &str| {
        only.iter().any(|o| if labels.iter().any(|l| l == o) { label == o } else { label.contains(o.as_str()) })
    };
    cells.into_iter().zip(&labels).filter(|(_, l)| picks(l)).map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_label_selects_one_cell_and_other_text_every_match() {
        let pick = |texts: &[&str]| {
            let only: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
            select(standard(), &only).iter().map(Cell::label).collect::<Vec<_>>()
        };
        assert_eq!(pick(&["get 100B n=1"]), ["get 100B n=1"]);
        assert_eq!(pick(&["get 100B n=10"]), ["get 100B n=10"]);
        assert_eq!(pick(&["n=1000"]), ["get 100B n=1000", "set 100B n=1000", "create 100B n=1000"]);
        assert_eq!(pick(&["watch", "connect"]), ["watch 100B", "connect"]);
        assert!(pick(&["nothing like it"]).is_empty());
        assert_eq!(pick(&["lock", "failover"]), ["lock-handoff c=10", "leader-failover c=3"]);
        assert_eq!(pick(&["counter", "atom", "queue"]), ["counter c=10", "atom c=10", "queue 100B w=10"]);
        assert_eq!(
            pick(&["cache"]),
            ["cache-load 100B t=10000", "cache-load 100B t=100000", "cache-update 100B t=1000"]
        );
    }

    #[test]
    fn recipe_cells_run_with_the_clients_that_have_the_recipe() {
        let cells = standard();
        let runs = |label: &str| {
            let cell = cells.iter().find(|c| c.label() == label).unwrap();
            ClientKind::ALL.into_iter().filter(|&k| cell.runs_with(k)).collect::<Vec<_>>()
        };
        assert_eq!(runs("lock-handoff c=10"), [ClientKind::ZkDsl, ClientKind::Kazoo, ClientKind::Curator]);
        assert_eq!(runs("leader-failover c=3"), [ClientKind::ZkDsl, ClientKind::Curator]);
        assert_eq!(runs("counter c=10"), [ClientKind::ZkDsl, ClientKind::Kazoo, ClientKind::Curator]);
        assert_eq!(runs("atom c=10"), [ClientKind::ZkDsl, ClientKind::Curator]);
        assert_eq!(runs("queue 100B w=10"), [ClientKind::ZkDsl, ClientKind::Curator]);
        assert_eq!(runs("cache-load 100B t=100000"), [ClientKind::ZkDsl, ClientKind::Kazoo, ClientKind::Curator]);
        assert!(!runs("get 100B n=10").contains(&ClientKind::Curator));
        assert!(runs("get 100B n=10").contains(&ClientKind::Java));
        assert!(runs("get 100B n=10").contains(&ClientKind::ZkDslCallbacks));
        assert!(runs("get 100B n=10").contains(&ClientKind::ZkDslTls));
        assert!(!runs("watch 100B").contains(&ClientKind::ZkDslDeque));
        assert!(runs("create 100B n=10").contains(&ClientKind::RawTasks));
        assert!(!runs("children-100 n=10").contains(&ClientKind::RawTasks));
    }

    #[test]
    fn labels_are_unique() {
        let cells = standard();
        let mut labels: Vec<String> = cells.iter().map(Cell::label).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), cells.len());
        assert!(labels.contains(&"get 100B n=10".to_string()));
        assert!(labels.contains(&"set 100B n=100 s=4".to_string()));
        assert!(labels.contains(&"get 64KiB n=10".to_string()));
    }
}
