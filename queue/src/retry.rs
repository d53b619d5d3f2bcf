//! Retry policy: exponential backoff with "equal jitter".
//!
//! For the attempt `n` that just failed (1-based), with the kind's `base` and `cap`:
//!
//! ```text
//! d(n)     = base × 2^(n−1)
//! delay(n) = min(cap, d(n)/2 + uniform(0, d(n)/2))   (equal jitter, then the cap)
//! delay(n) = max(delay(n), Retry-After)              (when the venue sent one)
//! ```
//!
//! Jitter spreads replicas apart (no synchronized retry storms), and because each delay lies in
//! `[d(n)/2, d(n)]` while the next lies in `[d(n), 2·d(n)]`, delays never shrink (they only
//! flatten at `cap`). With `fetch-fx`'s defaults (base 1 s, cap 60 s, 8 attempts) the waits are
//! about 1, 2, 4, 8, 16, 32, 32–60 s: two minutes in all.
//! After `max_attempts` attempts the job is dead (the runner decides that, and that permanent
//! errors are not retried).

use std::time::Duration;

use rand::Rng;
use settings::RetryPolicy;

fn uncapped(policy: &RetryPolicy, attempt: u32) -> u64 {
    let exp = attempt.saturating_sub(1).min(32);
    policy.base_ms.saturating_mul(1u64 << exp)
}

/// The delay before the attempt after `attempt`, with jitter drawn from `rng`.
pub fn delay<R: Rng + ?Sized>(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut R,
) -> Duration {
    let d = uncapped(policy, attempt);
    let half = d / 2;
    let jittered =
        Duration::from_millis((half + rng.random_range(0..=d - half)).min(policy.cap_ms));
    match retry_after {
        Some(ra) if ra > jittered => ra,
        _ => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::SmallRng};

    const FX: RetryPolicy = RetryPolicy {
        max_attempts: 8,
        base_ms: 1_000,
        cap_ms: 60_000,
    };

    /// The largest delay after failed attempt `n`: `min(cap, d(n))`.
    fn ceiling(policy: &RetryPolicy, attempt: u32) -> Duration {
        Duration::from_millis(uncapped(policy, attempt).min(policy.cap_ms))
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let secs: Vec<u64> = (1..=8).map(|n| ceiling(&FX, n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            delay(&FX, 1, Some(Duration::from_secs(3)), &mut rng),
            Duration::from_secs(3)
        );
        assert!(delay(&FX, 6, Some(Duration::from_secs(3)), &mut rng) >= Duration::from_secs(16));
    }

    proptest! {
        #[test]
        fn delays_stay_within_half_and_full_ceiling(attempt in 1u32..40, seed: u64) {
            let mut rng = SmallRng::seed_from_u64(seed);
            let d = delay(&FX, attempt, None, &mut rng);
            let c = ceiling(&FX, attempt);
            let lo = Duration::from_millis((uncapped(&FX, attempt) / 2).min(FX.cap_ms));
            prop_assert!(d <= c && d >= lo, "{:?} not in [{:?}, {:?}]", d, lo, c);
        }

        #[test]
        fn delays_never_shrink_from_one_attempt_to_the_next(attempt in 1u32..20, seed: u64) {
            let mut rng = SmallRng::seed_from_u64(seed);
            let a = delay(&FX, attempt, None, &mut rng);
            let b = delay(&FX, attempt + 1, None, &mut rng);
            prop_assert!(b >= a, "{:?} then {:?}", a, b);
        }

        #[test]
        fn jitter_actually_varies(attempt in 3u32..7) {
            let draws: std::collections::BTreeSet<_> = (0..20u64)
                .map(|s| delay(&FX, attempt, None, &mut SmallRng::seed_from_u64(s)))
                .collect();
            prop_assert!(draws.len() > 1);
        }
    }
}
