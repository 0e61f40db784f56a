//! The host's memory as the kernel reports it: `VmRSS` from `/proc/<pid>/status`, read once
//! or sampled on a thread for the length of a transfer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Most samples one sampler takes: at the default interval, over an hour of transfer.
const MAX_SAMPLES: u64 = 200_000;

/// The resident set size of process `pid` in bytes, or `None` if it cannot be read (the
/// process is gone, or this is not Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    // The format is `VmRSS:    12345 kB`.
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples a process's RSS on a thread until stopped (or dropped), keeping the maximum.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling `pid` every `interval`.
    pub fn start(pid: u32, interval: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let (t_stop, t_max, t_samples) = (Arc::clone(&stop), Arc::clone(&max), Arc::clone(&samples));
        let handle = thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !t_stop.load(Ordering::SeqCst) && t_samples.load(Ordering::SeqCst) < MAX_SAMPLES {
                    if let Some(rss) = rss_bytes(pid) {
                        t_max.fetch_max(rss, Ordering::SeqCst);
                        t_samples.fetch_add(1, Ordering::SeqCst);
                    }
                    thread::sleep(interval);
                }
            })
            .expect("spawn the RSS sampler thread");
        RssSampler { stop, max, samples, handle: Some(handle) }
    }

    /// The largest RSS seen so far, in bytes.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::SeqCst)
    }

    /// How many samples were taken so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::SeqCst)
    }

    /// Stops sampling; returns (max RSS in bytes, number of samples).
    pub fn finish(mut self) -> (u64, u64) {
        self.halt();
        (self.max(), self.samples())
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_rss() {
        let rss = rss_bytes(std::process::id()).expect("/proc/self/status has VmRSS on Linux");
        assert!(rss > 0);
        let sampler = RssSampler::start(std::process::id(), Duration::from_millis(1));
        for _ in 0..5000 {
            if sampler.samples() > 0 {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        let (max, samples) = sampler.finish();
        assert!(max > 0 && samples > 0);
    }
}
