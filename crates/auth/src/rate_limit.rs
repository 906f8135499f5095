//! Per-application (and, for anonymous requests, per-address) rate limiting over fixed windows.
//!
//! Counters live in this process: with several server processes on one database, each enforces
//! the limit on the requests it serves.

use flowline_core::{AppId, EnvironmentId, OrgId};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    App(OrgId, AppId),
    /// The organization API key's own window (the environment endpoints).
    Org(OrgId),
    /// Every application request of one environment, against its package's request rate.
    Environment(OrgId, EnvironmentId),
    Address(IpAddr),
}

/// The outcome of charging one request, with what the `X-RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

struct Window {
    started: Instant,
    used: u32,
}

pub struct RateLimiter {
    window: Duration,
    windows: Mutex<HashMap<RateKey, Window>>,
}

const PRUNE_ABOVE: usize = 100_000;

impl RateLimiter {
    pub fn new(window: Duration) -> RateLimiter {
        RateLimiter {
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request against `key`'s window of `limit` requests.
    pub fn charge(&self, key: RateKey, limit: u32) -> RateDecision {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if windows.len() > PRUNE_ABOVE {
            let span = self.window;
            windows.retain(|_, window| now.duration_since(window.started) < span);
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            used: 0,
        });
        if now.duration_since(window.started) >= self.window {
            *window = Window {
                started: now,
                used: 0,
            };
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        let elapsed = now.duration_since(window.started);
        RateDecision {
            allowed,
            limit,
            remaining: limit.saturating_sub(window.used),
            reset_secs: self.window.saturating_sub(elapsed).as_secs().max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_resets_with_the_window() {
        let limiter = RateLimiter::new(Duration::from_millis(50));
        let key = RateKey::App(OrgId(1), AppId(1));
        let first = limiter.charge(key, 2);
        assert!(first.allowed);
        assert_eq!(first.remaining, 1);
        assert!(limiter.charge(key, 2).allowed);
        let third = limiter.charge(key, 2);
        assert!(!third.allowed);
        assert_eq!(third.remaining, 0);
        let other = limiter.charge(RateKey::App(OrgId(1), AppId(2)), 2);
        assert!(other.allowed, "apps have separate windows");
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.charge(key, 2).allowed);
    }
}
