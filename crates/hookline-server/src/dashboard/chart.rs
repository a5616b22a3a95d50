//! The endpoint page's 24-hour chart of delivery successes and failures, and
//! the success-rate label of the endpoints table: pure arithmetic over the
//! store's hourly counts, so it is tested here.

use chrono::{Duration, DurationRound};
use hookline_core::Timestamp;
use hookline_store::HourlyStats;

/// Height of the chart's drawing area, in SVG units.
const CHART_HEIGHT: u32 = 120;

/// One hour's bar of the 24-hour chart.
pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) ok_y: u32,
    pub(crate) ok_h: u32,
    pub(crate) fail_y: u32,
    pub(crate) fail_h: u32,
    pub(crate) label: String,
}

/// The bars of the 24 hours up to `now`'s hour, and the tallest count.
pub(crate) fn chart(stats: &[HourlyStats], now: Timestamp) -> (Vec<Bar>, u64) {
    let hour_now = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let max = stats
        .iter()
        .map(|s| s.succeeded + s.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars = (0..24)
        .map(|i| {
            let hour = hour_now - Duration::hours(23 - i);
            let s = stats.iter().find(|s| s.hour == hour);
            let (ok, failed) = s.map_or((0, 0), |s| (s.succeeded, s.failed));
            let ok_h = (ok * u64::from(CHART_HEIGHT) / max) as u32;
            let fail_h = (failed * u64::from(CHART_HEIGHT) / max) as u32;
            Bar {
                x: i as u32 * 30,
                ok_y: CHART_HEIGHT - ok_h,
                ok_h,
                fail_y: CHART_HEIGHT - ok_h - fail_h,
                fail_h,
                label: format!("{}: {ok} succeeded, {failed} failed", hour.format("%H:00")),
            }
        })
        .collect();
    (bars, max)
}

/// "97% of 120", or "no attempts yet".
pub(crate) fn rate_label(stats: &[HourlyStats]) -> String {
    let ok: u64 = stats.iter().map(|s| s.succeeded).sum();
    let total: u64 = stats.iter().map(|s| s.succeeded + s.failed).sum();
    if total == 0 {
        "no attempts yet".into()
    } else {
        format!("{:.0}% of {total}", ok as f64 * 100.0 / total as f64)
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn at(hour: i64) -> Timestamp {
        DateTime::from_timestamp(1_700_000_000 - 1_700_000_000 % 3600 + hour * 3600, 0).unwrap()
    }

    #[test]
    fn bars_cover_the_last_24_hours_scaled_to_the_busiest() {
        let stats = [
            HourlyStats {
                hour: at(0),
                succeeded: 30,
                failed: 10,
            },
            HourlyStats {
                hour: at(-5),
                succeeded: 0,
                failed: 20,
            },
        ];
        let (bars, max) = chart(&stats, at(0) + Duration::minutes(17));
        assert_eq!((bars.len(), max), (24, 40));
        let last = &bars[23];
        assert_eq!((last.ok_h, last.fail_h), (90, 30));
        assert_eq!(last.fail_y + last.fail_h + last.ok_h, CHART_HEIGHT);
        assert_eq!((bars[18].ok_h, bars[18].fail_h), (0, 60));
        assert!(bars[0].label.ends_with("0 succeeded, 0 failed"));
    }

    #[test]
    fn the_rate_says_how_many_succeeded_of_how_many() {
        assert_eq!(rate_label(&[]), "no attempts yet");
        let stats = [HourlyStats {
            hour: at(0),
            succeeded: 3,
            failed: 1,
        }];
        assert_eq!(rate_label(&stats), "75% of 4");
    }
}
