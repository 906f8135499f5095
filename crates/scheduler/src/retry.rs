//! How long a failed step waits before its next attempt.

use chrono::Duration;
use flowline_flows::{Backoff, RetryPolicy};
use rand::Rng;

/// The default first wait, when the policy names none.
const DEFAULT_INITIAL_MS: u64 = 1_000;
/// The default longest wait.
const DEFAULT_MAX_MS: u64 = 300_000;

/// The wait before attempt `attempt + 1`, after `attempt` failed ones: `initial_ms`, doubled
/// each time with exponential backoff, capped at `max_ms`, with up to 20% of jitter so that
/// records that failed together do not all come back together.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let initial = policy.initial_ms.unwrap_or(DEFAULT_INITIAL_MS);
    let max = policy.max_ms.unwrap_or(DEFAULT_MAX_MS.max(initial));
    let base = match policy.backoff {
        Backoff::Fixed => initial,
        Backoff::Exponential => {
            let doublings = attempt.saturating_sub(1).min(32);
            initial.saturating_mul(1u64 << doublings)
        }
    }
    .min(max);
    let jitter = rand::rng().random_range(0..=base / 5);
    Duration::milliseconds(i64::try_from(base + jitter).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_waits_double_up_to_the_cap() {
        let policy = RetryPolicy {
            max: 5,
            backoff: Backoff::Exponential,
            initial_ms: Some(100),
            max_ms: Some(1_000),
        };
        for (attempt, base) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1_000),
            (9, 1_000),
        ] {
            let wait = backoff(&policy, attempt).num_milliseconds();
            assert!(
                (base..=base + base / 5).contains(&wait),
                "{attempt}: {wait}"
            );
        }
        let fixed = RetryPolicy {
            backoff: Backoff::Fixed,
            ..policy
        };
        assert!(backoff(&fixed, 4).num_milliseconds() <= 120);
    }
}
