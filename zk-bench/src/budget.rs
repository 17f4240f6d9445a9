//! `--client-cpu PCT`: every client process gets PCT % of one CPU and no more, through a
//! cgroup CPU quota of its own (cgroup v2's `cpu.max`, or v1's `cpu.cfs_quota_us`), while the
//! server and the rest of the machine run unconstrained. One group per worker: in a shared one,
//! an idle JVM's compiler and collector threads would spend the budget of whichever client runs.
//!
//! `--contended` shares the cores between client, server and a neighbour, and on two cores the
//! server then sets the pace: rounds vary by more than clients differ. With a budget the client
//! is the limit instead: its throughput is its budget divided by its CPU per op, which is what
//! the client costs a host whose CPU is spoken for. Needs root (or a delegated cgroup) and a
//! cpu controller; without them each client is skipped with the reason, never measured
//! unlimited.

use std::fs;
use std::path::{Path, PathBuf};

/// A cgroup holding one client's worker process, removed on drop.
#[derive(Debug)]
pub struct CpuBudget {
    dir: PathBuf,
    /// The hierarchy's root, where processes go back before the group is removed.
    root: PathBuf,
    percent: f64,
    period_us: u64,
    quota_us: u64,
    version: u8,
}

impl CpuBudget {
    /// A group named after `name` with `percent` % of one CPU (above 0; more than 100 spans
    /// CPUs).
    pub fn create(percent: f64, name: &str) -> Result<CpuBudget, String> {
        if !valid_share(percent) {
            return Err(format!("--client-cpu {percent}: needs a share above 0"));
        }
        let (root, version) = cpu_hierarchy()?;
        // A short period spreads the budget evenly over a run; the kernel's smallest quota is
        // 1 ms, so small shares take a longer period.
        let mut period_us = 10_000u64;
        if quota(percent, period_us) < 1_000 {
            period_us = 100_000;
        }
        let quota_us = quota(percent, period_us).max(1_000);
        let dir = root.join(format!("zk-bench-{}-{name}", std::process::id()));
        if version == 2 {
            // The root's children get the cpu controller (a no-op if they have it).
            write(&root.join("cgroup.subtree_control"), "+cpu")?;
        }
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let budget = CpuBudget { dir, root, percent, period_us, quota_us, version };
        if version == 2 {
            write(&budget.dir.join("cpu.max"), &format!("{quota_us} {period_us}"))?;
        } else {
            write(&budget.dir.join("cpu.cfs_period_us"), &period_us.to_string())?;
            write(&budget.dir.join("cpu.cfs_quota_us"), &quota_us.to_string())?;
        }
        Ok(budget)
    }

    /// Puts process `pid` (all its threads) under the budget.
    pub fn add(&self, pid: u32) -> Result<(), String> {
        write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    /// Periods in which the group ran out of its quota, so far (the budget is biting).
    pub fn throttled_periods(&self) -> Option<u64> {
        let stat = fs::read_to_string(self.dir.join("cpu.stat")).ok()?;
        stat.lines().find_map(|l| l.strip_prefix("nr_throttled ")).and_then(|n| n.trim().parse().ok())
    }

    /// What the budget is, for the results' notes.
    pub fn describe(&self) -> String {
        format!(
            "client-bound: each client's process limited to {}% of one CPU (a cgroup v{} of its own, quota {} µs \
             per {} µs), the server and the rest of the machine unconstrained, so a client's throughput is its CPU \
             budget over its CPU per op",
            self.percent, self.version, self.quota_us, self.period_us
        )
    }
}

impl Drop for CpuBudget {
    fn drop(&mut self) {
        // A group can only be removed empty: whatever still runs in it goes back to the root.
        if let Ok(procs) = fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in procs.lines() {
                let _ = fs::write(self.root.join("cgroup.procs"), pid);
            }
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Whether `percent` can be a budget: a finite share above 0.
pub fn valid_share(percent: f64) -> bool {
    percent > 0.0 && percent.is_finite()
}

/// Microseconds of CPU per `period_us` for `percent` % of one CPU.
fn quota(percent: f64, period_us: u64) -> u64 {
    (period_us as f64 * percent / 100.0).round() as u64
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| {
        format!("writing {value:?} to {}: {e} (--client-cpu needs root or a delegated cgroup)", path.display())
    })
}

/// Where the cpu controller is mounted: a cgroup2 hierarchy that offers it, else a v1 one.
fn cpu_hierarchy() -> Result<(PathBuf, u8), String> {
    let mounts = fs::read_to_string("/proc/self/mounts").map_err(|e| format!("reading /proc/self/mounts: {e}"))?;
    let mut v1 = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(&point), Some(&kind), Some(&options)) = (fields.get(1), fields.get(2), fields.get(3)) else {
            continue;
        };
        let point = PathBuf::from(point);
        match kind {
            "cgroup2" => {
                let controllers = fs::read_to_string(point.join("cgroup.controllers")).unwrap_or_default();
                if controllers.split_whitespace().any(|c| c == "cpu") {
                    return Ok((point, 2));
                }
            }
            "cgroup" if options.split(',').any(|o| o == "cpu") => v1 = v1.or(Some(point)),
            _ => {}
        }
    }
    v1.map(|p| (p, 1)).ok_or_else(|| "no cgroup hierarchy with the cpu controller is mounted".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_follow_the_share_and_the_period() {
        assert_eq!(quota(10.0, 10_000), 1_000);
        assert_eq!(quota(25.0, 10_000), 2_500);
        assert_eq!(quota(150.0, 10_000), 15_000);
        assert_eq!(quota(5.0, 100_000), 5_000);
    }

    #[test]
    fn a_budget_holds_a_busy_process_to_its_share() {
        let budget = match CpuBudget::create(10.0, "test") {
            Ok(budget) => budget,
            Err(e) => {
                // An unprivileged machine cannot run `--client-cpu` at all; it says so there.
                eprintln!("skipped: {e}");
                return;
            }
        };
        // Killed however the test ends: a spinning leftover would burn a CPU for the rest of
        // the suite.
        struct Busy(std::process::Child);
        impl Drop for Busy {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let busy = Busy(std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap());
        budget.add(busy.0.id()).unwrap();
        let pid = busy.0.id().to_string();
        let before = crate::procfs::cpu_ticks(&pid).unwrap();
        let started = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(1_000));
        let used = crate::procfs::cpu_ticks(&pid).unwrap() - before;
        let wall_ticks = started.elapsed().as_secs_f64() * crate::procfs::clock_ticks_per_second() as f64;
        drop(busy);
        // 10 % of the wall time, with room for tick rounding; unlimited, a busy process gets a
        // whole CPU on an idle machine. The quota biting is the sure sign, whatever the load.
        let share = used as f64 / wall_ticks;
        assert!(used > 0 && share < 0.3, "the busy process used {:.0} % of a CPU", share * 100.0);
        assert!(budget.throttled_periods().unwrap_or(0) > 0, "the quota never bit");
        let dir = budget.dir.clone();
        drop(budget);
        assert!(!dir.exists(), "the group is removed with the budget");
    }

    #[test]
    fn a_share_must_be_positive() {
        assert!(CpuBudget::create(0.0, "test").is_err());
        assert!(CpuBudget::create(f64::NAN, "test").is_err());
    }
}
