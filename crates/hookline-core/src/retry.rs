//! When a failed delivery is tried again, and when it gives up.
//!
//! The default schedule is exponential with jitter (5 s, 30 s, 2 min, 10 min,
//! 30 min, 1 h, 2 h, 4 h, 8 h, then a last attempt 24 h after the first);
//! `HOOKLINE_RETRY_SCHEDULE` replaces it with fixed delays. Pure functions of
//! their inputs so they can be tested without a clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// How long the default schedule keeps trying, counted from the first attempt.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How long an endpoint may fail every attempt before it is disabled.
pub const DISABLE_AFTER_FAILING_FOR: Duration = Duration::from_secs(5 * 24 * 3600);

const DEFAULT_DELAYS_S: [u64; 9] = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800];

/// A retry policy: the delay before attempt 2, 3, … and the window it spans.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrySchedule {
    /// Exponential backoff with ±10 % jitter, last attempt at the 24 h mark.
    Exponential,
    /// Exactly these delays; when they are used up the delivery fails.
    Fixed(Vec<Duration>),
}

/// The factor (within ±10 %) that spreads exponential delays so endpoints
/// that failed together are not retried together. Drawn by the caller, so
/// the schedule itself stays a pure function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter(f64);

impl Jitter {
    /// No spread: exactly the schedule's delays.
    pub const NONE: Jitter = Jitter(1.0);

    /// A random factor between 0.9 and 1.1.
    pub fn random() -> Jitter {
        Jitter(rand::thread_rng().gen_range(0.9..1.1))
    }

    /// This factor, clamped to 0.9 ..= 1.1.
    pub fn factor(factor: f64) -> Jitter {
        Jitter(factor.clamp(0.9, 1.1))
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    RetryAt(DateTime<Utc>),
    GiveUp,
}

impl RetrySchedule {
    /// Parses `5s,30s,2m,10m,1h` (units ms, s, m, h, d).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let delays = spec
            .split(',')
            .map(|part| parse_duration(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("the retry schedule is empty; give delays such as 5s,30s,2m".into());
        }
        Ok(RetrySchedule::Fixed(delays))
    }

    /// The sum of the delays: the longest a `Retry-After` may push one
    /// attempt back (for the default schedule, the span from the first
    /// attempt to the last).
    pub fn window(&self) -> Duration {
        match self {
            RetrySchedule::Exponential => DEFAULT_WINDOW,
            RetrySchedule::Fixed(delays) => delays.iter().sum(),
        }
    }

    /// Decides the next attempt after `attempts_made` attempts of which the
    /// first started at `first_attempt_at`, the last failing at `now`;
    /// `retry_after` is the receiver's `Retry-After`, honoured within the
    /// window; `jitter` spreads the exponential delays.
    pub fn next(
        &self,
        attempts_made: u32,
        first_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        jitter: Jitter,
    ) -> RetryDecision {
        let index = attempts_made.saturating_sub(1) as usize;
        let window_end = first_attempt_at + to_chrono(self.window());
        let delay = match self {
            // Every listed delay is waited and its attempt made, however long
            // the attempts themselves took; a `Retry-After` may stretch a
            // delay up to the schedule's whole span.
            RetrySchedule::Fixed(delays) => match delays.get(index) {
                Some(d) => {
                    let stretched = retry_after.map_or(*d, |ra| ra.min(self.window()).max(*d));
                    return RetryDecision::RetryAt(now + to_chrono(stretched));
                }
                None => return RetryDecision::GiveUp,
            },
            RetrySchedule::Exponential => match DEFAULT_DELAYS_S.get(index) {
                Some(secs) => Duration::from_secs_f64(*secs as f64 * jitter.0),
                // One final attempt at the end of the window.
                None if index == DEFAULT_DELAYS_S.len() && now < window_end => {
                    return RetryDecision::RetryAt(window_end);
                }
                None => return RetryDecision::GiveUp,
            },
        };
        let delay = retry_after.map_or(delay, |ra| ra.max(delay));
        let at = now + to_chrono(delay);
        if at <= window_end {
            RetryDecision::RetryAt(at)
        } else if now < window_end {
            RetryDecision::RetryAt(window_end)
        } else {
            RetryDecision::GiveUp
        }
    }
}

/// Whether an endpoint whose failures began at `failing_since` should now be
/// disabled.
pub fn should_disable_endpoint(failing_since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - failing_since >= to_chrono(DISABLE_AFTER_FAILING_FOR)
}

/// Parses `250ms`, `5s`, `2m`, `1h`, `1d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; use forms like 500ms, 5s, 2m, 1h"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit; use ms, s, m, h or d"
            ))
        }
    };
    Ok(Duration::from_secs_f64(secs))
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn fixed_schedule_is_used_then_gives_up() {
        let s = RetrySchedule::parse("1s, 2s").unwrap();
        let now = t0();
        assert_eq!(
            s.next(1, now, now, None, Jitter::NONE),
            RetryDecision::RetryAt(now + chrono::Duration::seconds(1))
        );
        assert_eq!(
            s.next(2, now, now, None, Jitter::NONE),
            RetryDecision::RetryAt(now + chrono::Duration::seconds(2))
        );
        assert_eq!(
            s.next(3, now, now, None, Jitter::NONE),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn every_listed_attempt_happens_however_long_attempts_take() {
        // Attempts that each time out after 15 s still get all three retries.
        let s = RetrySchedule::parse("1s,1s,1s").unwrap();
        let first = t0();
        let mut now = first + chrono::Duration::seconds(15);
        let mut attempts = 1;
        while let RetryDecision::RetryAt(at) = s.next(attempts, first, now, None, Jitter::random())
        {
            assert_eq!(at, now + chrono::Duration::seconds(1));
            now = at + chrono::Duration::seconds(15);
            attempts += 1;
            assert!(attempts < 10);
        }
        assert_eq!(attempts, 4, "the first attempt and one per listed delay");
    }

    #[test]
    fn exponential_schedule_grows_and_ends_within_24_hours() {
        let s = RetrySchedule::Exponential;
        let first = t0();
        let mut now = first;
        let mut attempts = 1;
        let mut previous_gap = chrono::Duration::zero();
        while let RetryDecision::RetryAt(at) = s.next(attempts, first, now, None, Jitter::random())
        {
            let gap = at - now;
            assert!(at <= first + chrono::Duration::hours(24));
            if attempts <= 9 {
                assert!(gap > previous_gap, "delays grow");
            }
            previous_gap = gap;
            now = at;
            attempts += 1;
            assert!(attempts < 20);
        }
        assert_eq!(attempts, 11, "nine backoffs then one last attempt at 24 h");
        assert_eq!(now, first + chrono::Duration::hours(24));
    }

    #[test]
    fn retry_after_is_honoured_within_the_window() {
        let s = RetrySchedule::parse("1s,1s").unwrap();
        let now = t0();
        let long = Some(Duration::from_secs(3600));
        // Window is 2 s: a one-hour Retry-After is capped at its end.
        assert_eq!(
            s.next(1, now, now, long, Jitter::NONE),
            RetryDecision::RetryAt(now + chrono::Duration::seconds(2))
        );
        let short = Some(Duration::from_millis(1500));
        assert_eq!(
            s.next(1, now, now, short, Jitter::NONE),
            RetryDecision::RetryAt(now + chrono::Duration::milliseconds(1500))
        );
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("15").unwrap(), Duration::from_secs(15));
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn endpoints_are_disabled_after_five_days_of_failure() {
        assert!(!should_disable_endpoint(
            t0(),
            t0() + chrono::Duration::days(4)
        ));
        assert!(should_disable_endpoint(
            t0(),
            t0() + chrono::Duration::days(5)
        ));
    }
}
