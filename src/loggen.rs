//! Sample logs in the original format, as the original's `log_generator.py` made them: a
//! configurable share of errors and of slow responses, reproducible from a seed. Used by the
//! demo, the tests and the benchmarks; it reports exactly what it wrote so tests can check the
//! parser's counts against it.

use std::io::{self, Write};

use chrono::{Duration, NaiveDateTime};

/// What to generate.
#[derive(Debug, Clone)]
pub struct LogGenSpec {
    pub lines: u64,
    /// Share of requests that are errors, 0–1.
    pub error_share: f64,
    /// Share of requests slower than `slow_ms`, 0–1.
    pub slow_share: f64,
    pub slow_ms: f64,
    /// Timestamp of the first line; later lines advance by a few milliseconds each.
    pub start: NaiveDateTime,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogGenStats {
    pub lines: u64,
    pub errors: u64,
    pub slow: u64,
    pub bytes: u64,
}

const ENDPOINTS: [(&str, &str); 8] = [
    ("GET", "/api/users"),
    ("GET", "/api/products"),
    ("POST", "/api/orders"),
    ("GET", "/api/search"),
    ("PUT", "/api/cart"),
    ("GET", "/api/orders/recent"),
    ("DELETE", "/api/cart/item"),
    ("GET", "/health"),
];
const ERROR_MESSAGES: [&str; 4] = [
    "Database connection timeout",
    "Upstream service unavailable",
    "NullPointerException in OrderService",
    "Failed to acquire lock",
];
const OK_STATUSES: [(u16, &str); 5] = [
    (200, "INFO"),
    (200, "INFO"),
    (201, "INFO"),
    (204, "INFO"),
    (404, "WARN"),
];

/// Writes `spec.lines` lines to `out`.
pub fn generate(spec: &LogGenSpec, out: &mut impl Write) -> io::Result<LogGenStats> {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let mut stats = LogGenStats::default();
    let mut time = spec.start;
    let mut line = String::with_capacity(200);
    for _ in 0..spec.lines {
        time += Duration::milliseconds(rng.i64(1..=40));
        let (method, path) = ENDPOINTS[rng.usize(..ENDPOINTS.len())];
        let error = rng.f64() < spec.error_share;
        let slow = rng.f64() < spec.slow_share;
        let ms = if slow {
            spec.slow_ms + 1.0 + rng.f64() * 3000.0
        } else {
            5.0 + rng.f64() * (spec.slow_ms * 0.6).min(600.0)
        };
        line.clear();
        use std::fmt::Write as _;
        let stamp = time.format("%Y-%m-%d %H:%M:%S%.3f");
        if error {
            let status = [500, 502, 503][rng.usize(..3)];
            let msg = ERROR_MESSAGES[rng.usize(..ERROR_MESSAGES.len())];
            let _ = writeln!(
                line,
                "[{stamp}] ERROR - {method} {path} - status: {status} - response_time: {ms:.2}ms - {msg}"
            );
        } else {
            let (status, level) = OK_STATUSES[rng.usize(..OK_STATUSES.len())];
            let _ = writeln!(
                line,
                "[{stamp}] {level} - {method} {path} - status: {status} - response_time: {ms:.2}ms"
            );
        }
        out.write_all(line.as_bytes())?;
        stats.lines += 1;
        stats.errors += u64::from(error);
        stats.slow += u64::from(slow);
        stats.bytes += line.len() as u64;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{summarize_bytes, ParseOptions};

    fn spec(lines: u64, seed: u64) -> LogGenSpec {
        LogGenSpec {
            lines,
            error_share: 0.07,
            slow_share: 0.12,
            slow_ms: 1000.0,
            start: NaiveDateTime::parse_from_str("2024-12-08 12:00:00", "%Y-%m-%d %H:%M:%S")
                .unwrap(),
            seed,
        }
    }

    #[test]
    fn parser_counts_exactly_what_was_generated() {
        for seed in [1, 2, 3] {
            let mut buf = Vec::new();
            let stats = generate(&spec(5000, seed), &mut buf).unwrap();
            let s = summarize_bytes(&buf, ParseOptions::default());
            assert_eq!(s.requests, stats.lines);
            assert_eq!(s.errors, stats.errors);
            assert_eq!(s.slow, stats.slow);
            assert_eq!(s.unparsed, 0);
            assert_eq!(s.bytes, stats.bytes);
            // 5000 draws at 7 % land within a few points of it
            let rate = s.error_rate().unwrap();
            assert!((4.0..10.0).contains(&rate), "{rate}");
        }
    }

    #[test]
    fn same_seed_same_output() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(&spec(100, 9), &mut a).unwrap();
        generate(&spec(100, 9), &mut b).unwrap();
        assert_eq!(a, b);
    }
}
