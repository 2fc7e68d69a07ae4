//! Where the threads that are not packet cores run. EAL pins the main
//! thread to the main lcore's CPU, and threads spawned from it inherit
//! that: the control plane and the gRPC runtime would share the CPU of a
//! busy-polling packet core and wait milliseconds for it. They go to the
//! other CPUs instead, as DPDK's own control threads do.

use super::error::{Error, Result};

/// The CPUs left for control threads: every CPU allowed to this process
/// (`allowed`) except the packet cores' (`datapath`); all of `allowed`
/// when the packet cores take them all.
pub fn control_cpus(allowed: &[usize], datapath: &[usize]) -> Vec<usize> {
    let rest: Vec<usize> = allowed.iter().copied().filter(|c| !datapath.contains(c)).collect();
    if rest.is_empty() {
        allowed.to_vec()
    } else {
        rest
    }
}

/// The CPUs this machine has online (`0..available_parallelism` when
/// `/sys` does not say).
pub fn online_cpus() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(s.trim()))
        .unwrap_or_else(|| {
            (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
        })
}

/// The CPUs the calling thread may run on (`Cpus_allowed_list`); the
/// online CPUs when that cannot be read. Ask before `Eal::init`, which
/// pins the main thread.
pub fn current_thread_cpus() -> Vec<usize> {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Cpus_allowed_list:"))?;
            parse_cpu_list(line.split_once(':')?.1.trim())
        })
        .unwrap_or_else(online_cpus)
}

/// `0-3,6,8-9` as in `/sys/devices/system/cpu/online`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Pins the calling thread to `cpus`.
pub fn set_current_thread_cpus(cpus: &[usize]) -> Result<()> {
    let Some(&max) = cpus.iter().max() else {
        return Err(Error::Call {
            func: "pthread_setaffinity_np",
            errno: 22,
            msg: "no CPU".into(),
        });
    };
    let mut words = vec![0u64; max / 64 + 1];
    for &c in cpus {
        words[c / 64] |= 1 << (c % 64);
    }
    // SAFETY: `words` is a live, initialised slice of `words.len()` u64s
    // that the shim only reads; it touches nothing else but the calling
    // thread's affinity.
    let rc = unsafe { dpdk_sys::pspgw_set_thread_cpus(words.as_ptr(), words.len() as u32) };
    if rc != 0 {
        return Err(Error::Call {
            func: "pthread_setaffinity_np",
            errno: rc,
            msg: std::io::Error::from_raw_os_error(rc).to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_threads_avoid_the_packet_cores() {
        assert_eq!(control_cpus(&[0, 1], &[0]), vec![1]);
        assert_eq!(control_cpus(&[0, 1, 2, 3], &[1, 2]), vec![0, 3]);
        // Every CPU is a packet core: share them all rather than none.
        assert_eq!(control_cpus(&[0, 1], &[0, 1]), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-3,6,8-9"), Some(vec![0, 1, 2, 3, 6, 8, 9]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert!(!online_cpus().is_empty());
        assert!(current_thread_cpus().iter().all(|c| online_cpus().contains(c)));
    }

    #[test]
    fn pins_a_thread() {
        let cpus = online_cpus();
        let last = *cpus.last().unwrap();
        std::thread::spawn(move || {
            set_current_thread_cpus(&[last]).unwrap();
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list")).unwrap();
            assert_eq!(line.split_whitespace().last(), Some(last.to_string().as_str()));
        })
        .join()
        .unwrap();
        assert!(set_current_thread_cpus(&[]).is_err());
    }
}
