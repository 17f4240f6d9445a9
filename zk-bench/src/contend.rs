//! `--contended`: a CPU-burning neighbour. One busy thread per CPU this process may run on, each
//! pinned to its CPU (`sched_setaffinity`), spinning from just before a run's spec goes to the
//! worker until its report is back (warm-up and measured window). The client, the server and the
//! neighbour then share every core at the same priority, so a client that needs more CPU per op
//! (or more wakeups) loses throughput, which an idle machine hides once the server is the limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The running neighbour; dropping it stops and joins its threads.
#[derive(Debug)]
pub struct Neighbour {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// What `--contended` does, for the results' notes.
pub fn describe() -> String {
    let cpus = allowed_cpus();
    format!(
        "contended: a CPU-burning neighbour, one busy thread pinned to each of the {} CPUs ({:?}) at normal \
         priority, spinning through each run's warm-up and measured window",
        cpus.len(),
        cpus
    )
}

impl Neighbour {
    pub fn start() -> Neighbour {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = allowed_cpus()
            .into_iter()
            .map(|cpu| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // Unpinned, it still burns a core's worth: the scheduler places it.
                    let _ = pin_to(cpu);
                    let mut x = cpu as u64 | 1;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..1000 {
                            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                        }
                    }
                })
            })
            .collect();
        Neighbour { stop, threads }
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The CPUs this process may run on (its affinity mask), or CPU 0 if it cannot be read.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return vec![0];
    }
    // SAFETY: CPU_ISSET reads the set within its fixed size (CPU_SETSIZE bits).
    (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).collect()
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) -> bool {
    // SAFETY: as above; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_neighbour_burns_and_stops() {
        assert!(!allowed_cpus().is_empty());
        let before = crate::procfs::cpu_ticks("self").unwrap_or(0);
        let n = Neighbour::start();
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(n);
        assert!(crate::procfs::cpu_ticks("self").unwrap_or(0) > before);
    }
}
