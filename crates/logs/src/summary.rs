//! The counts one window of logs yields. Summaries merge exactly (counts add, the latency sketch
//! merges bin by bin, the latency sum is kept in whole microseconds), so objects can be parsed
//! independently, on any number of threads or invocations, and combined afterwards.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

/// How much of an unparsed line is kept as an example in the record.
pub const EXAMPLE_CHARS: usize = 160;

/// Status codes counted: three digits, 0–999.
pub const STATUS_CODES: usize = 1000;

/// The percentiles the record and the summaries show.
pub const PERCENTILES: [(f64, &str); 4] =
    [(0.5, "p50"), (0.9, "p90"), (0.95, "p95"), (0.99, "p99")];

/// Every kind of unparsed line the parsers note ([`LogSummary::note_unparsed`]), plus
/// [`OTHER_UNPARSED_KIND`]. A stored summary's kinds are read back into these names only, so a
/// name from elsewhere never becomes one of them.
pub const UNPARSED_KINDS: [&str; 9] = [
    "alb_bad_status",
    "alb_bad_time",
    "invalid_json",
    "json_not_object",
    "line_too_long",
    "not_alb_format",
    "not_combined_format",
    "not_original_format",
    OTHER_UNPARSED_KIND,
];

/// The kind a stored summary's unparsed lines take when their name is none of
/// [`UNPARSED_KINDS`] (written by another build).
pub const OTHER_UNPARSED_KIND: &str = "other";

/// Lines of one kind that did not parse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnparsedKind {
    pub count: u64,
    /// The first such line, shortened.
    pub example: String,
}

#[derive(Clone)]
pub struct LogSummary {
    /// Lines seen, including blank and unparsed ones.
    pub lines: u64,
    /// Bytes of (decoded) log text read.
    pub bytes: u64,
    /// Lines that describe a request.
    pub requests: u64,
    /// Requests counted as errors by the format's rule.
    pub errors: u64,
    /// Timed requests slower than the slow threshold.
    pub slow: u64,
    /// Requests that carry a latency (the denominator of the slow rate and the mean).
    pub timed: u64,
    /// Sum of latencies in whole microseconds, so merging is exact.
    pub latency_us_sum: u64,
    /// Well-formed log lines that are not requests (start-up messages, for example).
    pub non_request: u64,
    /// Lines in no format we know, in total.
    pub unparsed: u64,
    /// Unparsed lines by kind, with the first example of each.
    pub unparsed_kinds: BTreeMap<&'static str, UnparsedKind>,
    /// Latency distribution in milliseconds: a DDSketch with 1 % relative accuracy and at most
    /// 2048 bins (16 KiB), whatever the number of requests. Crate-visible for
    /// [`crate::stored`], which writes its bins and rebuilds it from them.
    pub(crate) latency: DDSketch,
    /// Requests per HTTP status code; index = code.
    pub(crate) status: Box<[u64; STATUS_CODES]>,
    /// Objects recognised as a backfill of old logs ([`crate::ParseOptions::backfill_before`]):
    /// each counts here and nowhere else (all the other counts of such an object are zero).
    pub backfill_objects: u64,
    /// The earliest first-line time among those objects.
    pub backfill_oldest: Option<DateTime<Utc>>,
}

impl Default for LogSummary {
    fn default() -> Self {
        LogSummary {
            lines: 0,
            bytes: 0,
            requests: 0,
            errors: 0,
            slow: 0,
            timed: 0,
            latency_us_sum: 0,
            non_request: 0,
            unparsed: 0,
            unparsed_kinds: BTreeMap::new(),
            latency: DDSketch::new(SketchConfig::defaults()),
            status: Box::new([0; STATUS_CODES]),
            backfill_objects: 0,
            backfill_oldest: None,
        }
    }
}

impl std::fmt::Debug for LogSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSummary")
            .field("lines", &self.lines)
            .field("bytes", &self.bytes)
            .field("requests", &self.requests)
            .field("errors", &self.errors)
            .field("slow", &self.slow)
            .field("timed", &self.timed)
            .field("latency_us_sum", &self.latency_us_sum)
            .field("non_request", &self.non_request)
            .field("unparsed_kinds", &self.unparsed_kinds)
            .field("p50_ms", &self.quantile_ms(0.5))
            .field("p99_ms", &self.quantile_ms(0.99))
            .field("status", &self.status_counts())
            .field("backfill_objects", &self.backfill_objects)
            .field("backfill_oldest", &self.backfill_oldest)
            .finish()
    }
}

impl PartialEq for LogSummary {
    fn eq(&self, o: &Self) -> bool {
        self.lines == o.lines
            && self.bytes == o.bytes
            && self.requests == o.requests
            && self.errors == o.errors
            && self.slow == o.slow
            && self.timed == o.timed
            && self.latency_us_sum == o.latency_us_sum
            && self.non_request == o.non_request
            && self.unparsed == o.unparsed
            && self.unparsed_kinds == o.unparsed_kinds
            && self.status[..] == o.status[..]
            && self.latency.count() == o.latency.count()
            && self.latency.min() == o.latency.min()
            && self.latency.max() == o.latency.max()
            && same_distribution(&self.latency, &o.latency)
            && self.backfill_objects == o.backfill_objects
            && self.backfill_oldest == o.backfill_oldest
    }
}

/// Two sketches answer every quantile alike (at a 0.1 % step): what "equal" means for a
/// distribution summary. Equal bins answer alike; their in-memory layout may differ after a
/// merge, so the layout is not compared.
fn same_distribution(a: &DDSketch, b: &DDSketch) -> bool {
    (0..=1000).all(|n| {
        let q = f64::from(n) / 1000.0;
        a.quantile(q).ok() == b.quantile(q).ok()
    })
}

impl LogSummary {
    /// The summary of one object recognised as a backfill whose first timed line says
    /// `first_time`: that object counted as such, nothing else.
    pub fn backfill(first_time: DateTime<Utc>) -> LogSummary {
        LogSummary {
            backfill_objects: 1,
            backfill_oldest: Some(first_time),
            ..LogSummary::default()
        }
    }

    /// Counts one request. `latency_ms` is `None` when the line carries no usable latency.
    #[inline]
    pub fn add_request(
        &mut self,
        status: Option<u16>,
        latency_ms: Option<f64>,
        error: bool,
        slow_ms: f64,
    ) {
        self.requests += 1;
        self.errors += u64::from(error);
        if let Some(ms) = latency_ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
            self.timed += 1;
            self.slow += u64::from(ms > slow_ms);
            self.latency_us_sum = self
                .latency_us_sum
                .saturating_add((ms * 1000.0).round() as u64);
            self.latency.add(ms);
        }
        if let Some(n) = status.and_then(|s| self.status.get_mut(usize::from(s))) {
            *n += 1;
        }
    }

    /// Counts a line that did not parse, keeping the first example of its kind.
    pub fn note_unparsed(&mut self, kind: &'static str, line: &[u8]) {
        self.unparsed += 1;
        let entry = self
            .unparsed_kinds
            .entry(kind)
            .or_insert_with(|| UnparsedKind {
                count: 0,
                example: String::from_utf8_lossy(&line[..line.len().min(EXAMPLE_CHARS * 4)])
                    .chars()
                    .take(EXAMPLE_CHARS)
                    .collect(),
            });
        entry.count += 1;
    }

    /// Adds another summary's counts to this one.
    pub fn merge(&mut self, other: &LogSummary) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.requests += other.requests;
        self.errors += other.errors;
        self.slow += other.slow;
        self.timed += other.timed;
        self.latency_us_sum = self.latency_us_sum.saturating_add(other.latency_us_sum);
        self.non_request += other.non_request;
        self.unparsed += other.unparsed;
        for (kind, theirs) in &other.unparsed_kinds {
            self.unparsed_kinds
                .entry(kind)
                .and_modify(|mine| mine.count += theirs.count)
                .or_insert_with(|| theirs.clone());
        }
        for (mine, theirs) in self.status.iter_mut().zip(other.status.iter()) {
            *mine += theirs;
        }
        self.backfill_objects += other.backfill_objects;
        self.backfill_oldest = match (self.backfill_oldest, other.backfill_oldest) {
            (Some(mine), Some(theirs)) => Some(mine.min(theirs)),
            (mine, theirs) => mine.or(theirs),
        };
        // Both sketches share one configuration, the only case in which merge can fail.
        self.latency
            .merge(&other.latency)
            .expect("sketches with the same configuration merge");
    }

    /// Mean latency in ms over timed requests.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.timed > 0).then(|| self.latency_us_sum as f64 / self.timed as f64 / 1000.0)
    }

    /// The latency below which a share `q` (0–1) of timed requests fall, within 1 %.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q).ok().flatten()
    }

    /// Errors as a percentage of requests; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| 100.0 * self.errors as f64 / self.requests as f64)
    }

    /// Slow requests as a percentage of timed requests; `None` without timed requests.
    pub fn slow_rate(&self) -> Option<f64> {
        (self.timed > 0).then(|| 100.0 * self.slow as f64 / self.timed as f64)
    }

    /// Requests per status code, only the codes seen.
    pub fn status_counts(&self) -> BTreeMap<u16, u64> {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code as u16, *n))
            .collect()
    }
}

/// The summary as the decision record and `logscale analyze --json` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogMetrics {
    pub lines: u64,
    pub bytes: u64,
    pub requests: u64,
    pub errors: u64,
    pub slow: u64,
    pub timed: u64,
    #[serde(serialize_with = "round2")]
    pub error_rate: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub slow_rate: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub mean_ms: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub p50_ms: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub p90_ms: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub p95_ms: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub p99_ms: Option<f64>,
    pub status: BTreeMap<u16, u64>,
    pub non_request: u64,
    pub unparsed: u64,
    pub unparsed_kinds: BTreeMap<&'static str, UnparsedKind>,
}

impl From<&LogSummary> for LogMetrics {
    fn from(s: &LogSummary) -> Self {
        LogMetrics {
            lines: s.lines,
            bytes: s.bytes,
            requests: s.requests,
            errors: s.errors,
            slow: s.slow,
            timed: s.timed,
            error_rate: s.error_rate(),
            slow_rate: s.slow_rate(),
            mean_ms: s.mean_ms(),
            p50_ms: s.quantile_ms(0.5),
            p90_ms: s.quantile_ms(0.9),
            p95_ms: s.quantile_ms(0.95),
            p99_ms: s.quantile_ms(0.99),
            status: s.status_counts(),
            non_request: s.non_request,
            unparsed: s.unparsed,
            unparsed_kinds: s.unparsed_kinds.clone(),
        }
    }
}

/// Serializes an optional float rounded to two decimals, which is all a reader needs.
pub fn round2<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_f64((x * 100.0).round() / 100.0),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_none_without_requests() {
        let s = LogSummary::default();
        assert_eq!(s.mean_ms(), None);
        assert_eq!(s.error_rate(), None);
        assert_eq!(s.slow_rate(), None);
        assert_eq!(s.quantile_ms(0.5), None);
    }

    #[test]
    fn merge_adds_counts_and_keeps_first_example_of_each_kind() {
        let mut a = LogSummary::default();
        a.add_request(Some(200), Some(100.0), false, 1000.0);
        a.note_unparsed("garbage", b"first bad");
        let mut b = LogSummary::default();
        b.add_request(Some(500), Some(300.0), true, 1000.0);
        b.add_request(Some(200), Some(2000.0), false, 1000.0);
        b.add_request(Some(404), None, false, 1000.0);
        b.note_unparsed("garbage", b"second bad");
        b.note_unparsed("json_not_object", b"[1]");
        a.merge(&b);
        assert_eq!(a.requests, 4);
        assert_eq!(a.timed, 3);
        assert_eq!(a.errors, 1);
        assert_eq!(a.slow, 1);
        assert_eq!(a.mean_ms(), Some(800.0));
        assert_eq!(a.unparsed, 3);
        assert_eq!(a.unparsed_kinds["garbage"].count, 2);
        assert_eq!(a.unparsed_kinds["garbage"].example, "first bad");
        assert_eq!(a.unparsed_kinds["json_not_object"].count, 1);
        assert_eq!(
            a.status_counts(),
            BTreeMap::from([(200, 2), (404, 1), (500, 1)])
        );
        assert!((a.error_rate().unwrap() - 25.0).abs() < 1e-9);
        assert!((a.slow_rate().unwrap() - 100.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn merge_adds_backfill_objects_and_keeps_the_oldest_first_time() {
        use chrono::TimeZone;
        let day = |d| Utc.with_ymd_and_hms(2024, 12, d, 0, 0, 0).unwrap();
        let mut total = LogSummary::default();
        total.add_request(Some(200), Some(5.0), false, 1000.0);
        for d in [7, 3, 5] {
            total.merge(&LogSummary::backfill(day(d)));
        }
        total.merge(&LogSummary::default());
        assert_eq!(total.backfill_objects, 3);
        assert_eq!(total.backfill_oldest, Some(day(3)));
        assert_eq!((total.requests, total.lines, total.bytes), (1, 0, 0));

        let mut other = LogSummary::default();
        other.merge(&total);
        assert_eq!(other.backfill_oldest, Some(day(3)));
        assert_ne!(other, LogSummary::backfill(day(3)));
        assert_ne!(LogSummary::backfill(day(3)), LogSummary::backfill(day(4)));
        assert_ne!(LogSummary::backfill(day(3)), LogSummary::default());
    }

    #[test]
    fn percentiles_are_within_one_percent() {
        let mut s = LogSummary::default();
        let values: Vec<f64> = (1..=10_000).map(|n| n as f64 * 0.37).collect();
        for v in &values {
            s.add_request(Some(200), Some(*v), false, 1e9);
        }
        for (q, _) in PERCENTILES {
            let exact = values[(q * (values.len() - 1) as f64) as usize];
            let got = s.quantile_ms(q).unwrap();
            assert!(
                (got - exact).abs() <= exact * 0.01,
                "q{q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn negative_or_nan_latency_counts_the_request_but_not_the_time() {
        let mut s = LogSummary::default();
        s.add_request(Some(200), Some(-1.0), false, 10.0);
        s.add_request(Some(200), Some(f64::NAN), false, 10.0);
        assert_eq!((s.requests, s.timed), (2, 0));
    }
}
