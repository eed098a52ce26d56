//! Retry policy: capped attempts, exponential backoff with full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;

/// How a client retries 429, 5xx, timeouts and connection errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry; it doubles after each attempt.
    pub base_delay: Duration,
    /// Largest backoff ceiling.
    pub max_delay: Duration,
    /// Largest `Retry-After` the client waits for; a longer one ends the call at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The "full jitter" backoff before attempt `attempt + 1` (with `attempt` counted from 1):
    /// uniform in `[0, min(max_delay, base_delay * 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let ceiling_micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rand::rng().random_range(0..=ceiling_micros))
    }
}

/// The wait a server asked for, from `retry-after-ms` (OpenAI) or `Retry-After` in seconds or as
/// an HTTP date. `None` when neither header is present or readable.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    parse_retry_after(value, now)
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (a past date means no wait).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_ms_header_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "9".parse().unwrap());
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(
            retry_after(&headers, SystemTime::now()),
            Some(Duration::from_millis(250))
        );
        headers.remove("retry-after-ms");
        assert_eq!(
            retry_after(&headers, SystemTime::now()),
            Some(Duration::from_secs(9))
        );
    }

    #[test]
    fn backoff_is_jittered_within_a_doubling_capped_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_retry_after: Duration::from_secs(1),
        };
        for attempt in 1..=6 {
            let ceiling = match attempt {
                1 => 100,
                2 => 200,
                _ => 350,
            };
            let samples: Vec<Duration> = (0..200).map(|_| policy.backoff(attempt)).collect();
            assert!(samples.iter().all(|d| *d <= Duration::from_millis(ceiling)));
            // Full jitter spreads over the whole range, not just near the ceiling.
            assert!(
                samples
                    .iter()
                    .any(|d| *d < Duration::from_millis(ceiling / 2))
            );
            assert!(
                samples
                    .iter()
                    .any(|d| *d > Duration::from_millis(ceiling / 2))
            );
        }
    }
}
