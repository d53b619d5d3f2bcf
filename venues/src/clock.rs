//! Venue clocks: a clock that is off is told apart from data that stopped.
//!
//! A venue's clock is skewed when its times advance with ours at a steady offset: the offset is
//! measured and taken off. Its data is stale when its times stop advancing (a stuck cache, a
//! halted matching engine): such a quote keeps its old time and ages with our clock. Only quotes
//! seen to advance with our clock since this client's previous fetch measure the offset, so a
//! frozen venue's growing lag is never mistaken for skew.
//!
//! The state is per client, so per process: each worker replica measures the offset from its own
//! consecutive fetches, and a quote's time is its venue time minus the offset, whichever replica
//! saw it first. Two replicas therefore give a frozen quote the same (old) time without sharing
//! anything.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::{DateTime, Duration, Utc};
use domain::Coin;

use crate::{MAX_CLOCK_SKEW_MS, TickerBatch};

/// How much less than our clock a quote's venue time may advance between two fetches and still
/// count as advancing with it (venues stamp quotes at their own update cadence).
const PACE_TOLERANCE_MS: i64 = 1_000;

#[derive(Debug, Default)]
struct State {
    /// The venue's clock minus ours, as last measured; `None` before a measurement.
    skew_ms: Option<i64>,
    /// Per coin, the venue's time of its quote and our receipt time, at the previous fetch.
    seen: HashMap<Coin, (DateTime<Utc>, DateTime<Utc>)>,
}

/// One venue's clock as this client sees it (clones share it).
#[derive(Debug, Clone, Default)]
pub(crate) struct VenueClock(Arc<Mutex<State>>);

impl VenueClock {
    /// Settles the times of a batch whose tickers carry the venue's own times.
    ///
    /// The skew is the median of (venue time − receipt time) over the quotes whose venue time
    /// advanced at least as fast as ours (less [`PACE_TOLERANCE_MS`]) since the previous fetch;
    /// when no quote did, the last measurement stands. On first sight a venue time ahead of ours
    /// can only be a clock that is off and is taken as skew; one behind may be stale data and
    /// waits for the next fetch. `clock_skew_ms` is the skew in force.
    ///
    /// Beyond ±[`MAX_CLOCK_SKEW_MS`] the skew is taken off every `observed_at` (never later than
    /// the receipt) and `last_trade_at`; otherwise the venue's times stand, except a single time
    /// more than [`MAX_CLOCK_SKEW_MS`] in the future, which becomes the receipt time.
    pub(crate) fn settle(&self, batch: &mut TickerBatch) {
        let mut st = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut paced = Vec::new();
        let mut first = Vec::new();
        for t in &batch.tickers {
            let offset = (t.observed_at - t.fetched_at).num_milliseconds();
            match st.seen.get(&t.coin) {
                Some((venue_then, ours_then)) => {
                    let venue = (t.observed_at - *venue_then).num_milliseconds();
                    let ours = (t.fetched_at - *ours_then).num_milliseconds();
                    if venue > 0 && venue >= ours - PACE_TOLERANCE_MS {
                        paced.push(offset);
                    }
                }
                None => first.push(offset),
            }
        }
        if let Some(m) = median(&mut paced) {
            st.skew_ms = Some(m);
        } else if st.skew_ms.is_none()
            && let Some(m) = median(&mut first)
            && m >= -MAX_CLOCK_SKEW_MS
        {
            st.skew_ms = Some(m);
        }
        st.seen = batch
            .tickers
            .iter()
            .map(|t| (t.coin.clone(), (t.observed_at, t.fetched_at)))
            .collect();
        batch.clock_skew_ms = st.skew_ms;
        let skew = st.skew_ms.filter(|s| s.abs() > MAX_CLOCK_SKEW_MS);
        drop(st);
        if let Some(skew) = skew {
            tracing::debug!(skew_ms = skew, "venue clock is off, correcting its times");
        }
        correct(batch, skew);
    }
}

fn median(v: &mut [i64]) -> Option<i64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// Takes `skew` (ms) off the batch's venue times, or clamps single future times.
fn correct(batch: &mut TickerBatch, skew: Option<i64>) {
    let bound = Duration::milliseconds(MAX_CLOCK_SKEW_MS);
    for t in &mut batch.tickers {
        if let Some(skew) = skew {
            let by = Duration::milliseconds(skew);
            t.observed_at = (t.observed_at - by).min(t.fetched_at);
            t.last_trade_at = t.last_trade_at.map(|at| at - by);
        } else if t.observed_at > t.fetched_at + bound {
            t.observed_at = t.fetched_at;
        }
        if let Some(at) = t.last_trade_at
            && at > t.fetched_at + bound
        {
            t.last_trade_at = Some(t.fetched_at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Price, Ticker, Venue};
    use rust_decimal_macros::dec;

    const T: i64 = 1_790_000_000_000;
    const KST: i64 = 32_400_000;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn ticker(coin: &str, fetched_ms: i64, observed_ms: i64, trade_ms: Option<i64>) -> Ticker {
        Ticker {
            venue: Venue::Bithumb,
            coin: Coin::parse(coin).unwrap(),
            price: Price::new(dec!(1)).unwrap(),
            observed_at: at(observed_ms),
            fetched_at: at(fetched_ms),
            last_trade_at: trade_ms.map(at),
            book: None,
            book_error: None,
            funding: None,
        }
    }

    fn settle(clock: &VenueClock, tickers: Vec<Ticker>) -> TickerBatch {
        let mut batch = TickerBatch {
            tickers,
            ..TickerBatch::default()
        };
        clock.settle(&mut batch);
        batch
    }

    #[test]
    fn a_small_skew_leaves_venue_times_and_single_future_times_are_clamped() {
        let clock = VenueClock::default();
        let b = settle(
            &clock,
            vec![
                ticker("BTC", T, T - 100, Some(T - 60_000)),
                ticker("ETH", T, T + 3_600_000, Some(T + 3_600_000)),
                ticker("XRP", T, T - 200, None),
            ],
        );
        assert_eq!(b.clock_skew_ms, Some(-100));
        assert_eq!(b.tickers[0].observed_at, at(T - 100));
        assert_eq!(b.tickers[0].last_trade_at, Some(at(T - 60_000)));
        assert_eq!(
            b.tickers[1].observed_at,
            at(T),
            "one future time is clamped"
        );
        assert_eq!(b.tickers[1].last_trade_at, Some(at(T)));
        assert_eq!(settle(&clock, vec![]).clock_skew_ms, Some(-100));
        assert_eq!(settle(&VenueClock::default(), vec![]).clock_skew_ms, None);
    }

    #[test]
    fn a_clock_running_ahead_is_measured_and_taken_off() {
        let clock = VenueClock::default();
        for i in 0..3 {
            let now = T + i * 1_000;
            let b = settle(
                &clock,
                vec![ticker("BTC", now, now + KST, Some(now + KST - 5_000))],
            );
            assert_eq!(b.clock_skew_ms, Some(KST));
            assert_eq!(b.tickers[0].observed_at, at(now));
            assert_eq!(b.tickers[0].last_trade_at, Some(at(now - 5_000)));
        }
    }

    #[test]
    fn a_frozen_venue_keeps_its_old_times_with_or_without_skew() {
        for skew in [0, KST, -30_000] {
            let clock = VenueClock::default();
            // Two live fetches measure the clock.
            settle(&clock, vec![ticker("BTC", T, T + skew - 50, None)]);
            let live = settle(
                &clock,
                vec![ticker("BTC", T + 1_000, T + 1_000 + skew - 50, None)],
            );
            assert_eq!(live.clock_skew_ms, Some(skew - 50), "skew {skew}");
            let event = live.tickers[0].observed_at;
            assert!(
                (T + 950..=T + 1_000).contains(&event.timestamp_millis()),
                "skew {skew}"
            );
            // Frozen from here: the venue repeats its last time while ours moves on.
            for later in [2_000, 9_000, 30_000] {
                let b = settle(
                    &clock,
                    vec![ticker("BTC", T + later, T + 1_000 + skew - 50, None)],
                );
                assert_eq!(b.tickers[0].observed_at, event, "skew {skew}, {later} ms");
                assert_eq!(b.clock_skew_ms, Some(skew - 50), "skew {skew}, {later} ms");
            }
            // Thawed: its times advance again, and are fresh.
            let b = settle(
                &clock,
                vec![ticker("BTC", T + 31_000, T + 31_000 + skew, None)],
            );
            assert_eq!(b.tickers[0].observed_at, at(T + 31_000), "skew {skew}");
        }
    }

    #[test]
    fn a_lag_seen_at_once_is_not_skew_until_the_times_advance() {
        let clock = VenueClock::default();
        let b = settle(&clock, vec![ticker("BTC", T, T - 30_000, None)]);
        assert_eq!(b.clock_skew_ms, None);
        assert_eq!(
            b.tickers[0].observed_at,
            at(T - 30_000),
            "may be stale: kept"
        );
        // A venue that froze between two fetches advanced less than our clock: not measured.
        let b = settle(&clock, vec![ticker("BTC", T + 5_000, T - 29_000, None)]);
        assert_eq!(b.clock_skew_ms, None);
        assert_eq!(b.tickers[0].observed_at, at(T - 29_000));
        // Advancing with our clock: a clock 30 s behind, measured and taken off.
        let b = settle(&clock, vec![ticker("BTC", T + 6_000, T - 24_000, None)]);
        assert_eq!(b.clock_skew_ms, Some(-30_000));
        assert_eq!(b.tickers[0].observed_at, at(T + 6_000));
    }
}
