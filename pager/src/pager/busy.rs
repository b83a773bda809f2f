//! What to do when a lock is busy: fail at once, SQLite's default timeout backoff, or a
//! caller's handler (`sqlite3_busy_handler`).

use folio_vfs::Vfs;
use std::time::Duration;

/// SQLite's `sqliteDefaultBusyCallback` delays (ms) and their running totals.
const DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
const TOTALS_MS: [u64; 12] = [0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228];

pub(crate) enum BusyPolicy {
    /// Give up at once.
    Fail,
    /// Sleep with SQLite's backoff until about this long has been spent.
    Timeout(Duration),
    /// The caller decides.
    Custom(Box<dyn FnMut(u32) -> bool + Send>),
}

impl BusyPolicy {
    pub(crate) fn timeout(timeout: Duration) -> BusyPolicy {
        if timeout.is_zero() {
            BusyPolicy::Fail
        } else {
            BusyPolicy::Timeout(timeout)
        }
    }

    /// Called after the `attempts`-th busy failure (from 0): true to try again. Sleeps through
    /// the VFS, so a simulated disk replays without wall-clock time.
    pub(crate) fn should_retry(&mut self, vfs: &dyn Vfs, attempts: u32) -> bool {
        match self {
            BusyPolicy::Fail => false,
            BusyPolicy::Custom(handler) => handler(attempts),
            BusyPolicy::Timeout(timeout) => {
                let timeout = timeout.as_millis() as u64;
                let n = attempts as usize;
                let (mut delay, prior) = match (DELAYS_MS.get(n), TOTALS_MS.get(n)) {
                    (Some(&d), Some(&t)) => (d, t),
                    _ => (100, TOTALS_MS[11] + 100 * (n as u64 - 11)),
                };
                if prior + delay > timeout {
                    if prior >= timeout {
                        return false;
                    }
                    delay = timeout - prior;
                }
                vfs.sleep(Duration::from_millis(delay));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use folio_vfs::memory::MemoryVfs;

    #[test]
    fn timeout_backoff_spends_about_the_timeout_then_gives_up() {
        let vfs = MemoryVfs::new();
        let mut policy = BusyPolicy::timeout(Duration::from_millis(40));
        let mut tries = 0;
        while policy.should_retry(&vfs, tries) {
            tries += 1;
            assert!(tries < 100, "never gave up");
        }
        // 1+2+5+10+15 = 33 ms, then a 7 ms partial delay reaches 40: six retries.
        assert_eq!(tries, 6);
        assert!(!BusyPolicy::timeout(Duration::ZERO).should_retry(&vfs, 0));
    }
}
