//! The counts one window of logs yields. Summaries merge exactly (counts add, the latency sketch
//! merges bin by bin, the latency sum is kept in whole microseconds), so objects can be parsed
//! independently, on any number of threads or invocations, and combined afterwards.

use std::borrow::Cow;
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
    /// 2048 bins (16 KiB), whatever the number of requests, plus, while the summary is being
    /// written, a 1 MiB table of latencies waiting to go into it (see [`Latencies`]; freed when
    /// the summary is handed out, never cloned). Crate-visible for
    /// [`crate::stored`], which writes its bins and rebuilds it from them.
    pub(crate) latency: Latencies,
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
            latency: Latencies::default(),
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
            && same_sketch(&self.latency.sketch(), &o.latency.sketch())
            && self.backfill_objects == o.backfill_objects
            && self.backfill_oldest == o.backfill_oldest
    }
}

fn same_sketch(a: &DDSketch, b: &DDSketch) -> bool {
    a.count() == b.count() && a.min() == b.min() && a.max() == b.max() && same_distribution(a, b)
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
        self.count_status(status);
    }

    /// [`LogSummary::add_request`] for a latency of `centi_ms` hundredths of a millisecond
    /// (the value `centi_ms / 100` rounds to, as `str::parse` would read its decimal text):
    /// the same counts, reached without a logarithm or a rounding per request.
    #[inline]
    pub(crate) fn add_request_centi_ms(
        &mut self,
        status: Option<u16>,
        centi_ms: u32,
        error: bool,
        slow_ms: f64,
    ) {
        let ms = f64::from(centi_ms) / 100.0;
        self.requests += 1;
        self.errors += u64::from(error);
        self.timed += 1;
        self.slow += u64::from(ms > slow_ms);
        // `(ms * 1000.0).round()` is exactly ten times `centi_ms`: the error of `ms` is far
        // below half a microsecond at these sizes.
        self.latency_us_sum = self.latency_us_sum.saturating_add(10 * u64::from(centi_ms));
        self.latency.add_centi_ms(centi_ms, ms, self.timed);
        self.count_status(status);
    }

    #[inline]
    fn count_status(&mut self, status: Option<u16>) {
        if let Some(n) = status.and_then(|s| self.status.get_mut(usize::from(s))) {
            *n += 1;
        }
    }

    /// Puts the latencies that wait in [`Latencies`]' table into the sketch and frees the
    /// table, so that reading the sketch costs no copy and a summary kept (`logscale analyze`
    /// holds one per input, the cycle several at once) costs its 16 KiB, not 1 MiB more. Done
    /// by [`crate::SummaryWriter`] when it hands its summary out.
    pub(crate) fn settle_latencies(&mut self) {
        self.latency.settle();
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
        self.latency.merge(&other.latency);
    }

    /// Mean latency in ms over timed requests.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.timed > 0).then(|| self.latency_us_sum as f64 / self.timed as f64 / 1000.0)
    }

    /// The latency below which a share `q` (0–1) of timed requests fall, within 1 %.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.latency.sketch().quantile(q).ok().flatten()
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

/// Latencies below this many hundredths of a millisecond (2,621.44 ms) wait in
/// [`Latencies`]' table; larger ones go into the sketch at once.
const TABLE_CENTI_MS: usize = 1 << 18;

/// A summary takes this many latencies into the sketch one by one before it sets up the table
/// (1 MiB): a small object never pays for one.
const TABLE_AFTER: u64 = 4096;

/// While every latency in the sketch is 0 or between these (in ms), the sketch's bins can be
/// filled in any order to the same result: their keys span 1,728 bins, fewer than the 2,048 the
/// sketch keeps, so it never collapses its lowest bins, and each bin holds exactly the count of
/// its key. Outside them the order of insertion can matter, and latencies go in one by one.
const ORDER_FREE_MS: std::ops::RangeInclusive<f64> = 1e-3..=1e12;

/// The latency sketch, with the latencies that still wait to go into it.
///
/// A sketch insert costs a logarithm, a division and a rounding (about a fifth of the time
/// the original format takes to parse), yet request latencies repeat: written to the
/// hundredth of a millisecond, a few hundred thousand values stand for millions of requests.
/// So those latencies are counted per value in a table, and each value goes into the sketch
/// once, with its count, when the sketch is read: the same bins, minimum and maximum as
/// inserting them one by one (see [`ORDER_FREE_MS`]); only the sketch's own float sum, which
/// nothing reads, may round differently.
pub(crate) struct Latencies {
    sketch: DDSketch,
    /// Requests per latency in hundredths of a millisecond; empty until [`TABLE_AFTER`].
    waiting: Vec<u32>,
    /// The indexes of `waiting` that are not zero, in the order they were first counted.
    waiting_at: Vec<u32>,
}

/// A copy is settled: the sketch with the waiting latencies in it, and no table (a copy of a
/// summary being written would otherwise carry a second megabyte).
impl Clone for Latencies {
    fn clone(&self) -> Self {
        Latencies::from(self.sketch().into_owned())
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::from(DDSketch::new(SketchConfig::defaults()))
    }
}

impl From<DDSketch> for Latencies {
    fn from(sketch: DDSketch) -> Self {
        Latencies {
            sketch,
            waiting: Vec::new(),
            waiting_at: Vec::new(),
        }
    }
}

/// Whether `ms` keeps a sketch order-free ([`ORDER_FREE_MS`]); 0 and below-minimum values
/// go to the sketch's zero count, which is order-free too.
fn order_free(ms: f64) -> bool {
    ms <= ZERO_BUCKET_MS || ORDER_FREE_MS.contains(&ms)
}

/// The sketch counts latencies up to this (its default configuration's `min_possible`) as 0.
const ZERO_BUCKET_MS: f64 = 1e-9;

impl Latencies {
    /// One latency, into the sketch at once.
    pub(crate) fn add(&mut self, ms: f64) {
        if !order_free(ms) {
            // From here on, the order of insertion may matter: the waiting ones go first.
            self.flush();
        }
        self.sketch.add(ms);
    }

    /// One latency of `centi_ms` hundredths of a millisecond, `ms` being that value; `timed`
    /// latencies counted so far, this one included.
    #[inline]
    fn add_centi_ms(&mut self, centi_ms: u32, ms: f64, timed: u64) {
        let at = centi_ms as usize;
        if at >= TABLE_CENTI_MS || (self.waiting.is_empty() && timed <= TABLE_AFTER) {
            return self.add(ms);
        }
        if !self.sketch_is_order_free() {
            return self.add(ms);
        }
        if self.waiting.is_empty() {
            self.waiting = vec![0; TABLE_CENTI_MS];
        }
        let count = &mut self.waiting[at];
        if *count == 0 {
            self.waiting_at.push(centi_ms);
        } else if *count == u32::MAX {
            self.sketch.add_with_count(ms, u64::from(*count));
            *count = 0;
        }
        *count += 1;
    }

    #[inline]
    fn sketch_is_order_free(&self) -> bool {
        match (self.sketch.min(), self.sketch.max()) {
            (Some(min), Some(max)) => order_free(min) && order_free(max),
            _ => true,
        }
    }

    /// Puts every waiting latency into the sketch.
    pub(crate) fn flush(&mut self) {
        for at in self.waiting_at.drain(..) {
            let count = std::mem::take(&mut self.waiting[at as usize]);
            // The same value the parser read: both are the division `at / 100` rounded once.
            self.sketch
                .add_with_count(f64::from(at) / 100.0, u64::from(count));
        }
    }

    /// [`Latencies::flush`], and the table freed: for a summary that takes no more requests.
    pub(crate) fn settle(&mut self) {
        self.flush();
        self.waiting = Vec::new();
        self.waiting_at = Vec::new();
    }

    /// The sketch with every latency in it: borrowed when none waits (the summary a
    /// [`crate::SummaryWriter`] hands out), else a copy of the sketch (not of the table) with
    /// the waiting ones added.
    pub(crate) fn sketch(&self) -> Cow<'_, DDSketch> {
        if self.waiting_at.is_empty() {
            return Cow::Borrowed(&self.sketch);
        }
        let mut settled = self.sketch.clone();
        for &at in &self.waiting_at {
            let count = self.waiting[at as usize];
            settled.add_with_count(f64::from(at) / 100.0, u64::from(count));
        }
        Cow::Owned(settled)
    }

    fn merge(&mut self, other: &Latencies) {
        self.flush();
        // Both sketches share one configuration, the only case in which merge can fail.
        self.sketch
            .merge(&other.sketch())
            .expect("sketches with the same configuration merge");
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

    /// The sketch's zero count and its bins by key, as its serde form holds them.
    fn bins_by_key(sketch: &DDSketch) -> (u64, Vec<(i64, u64)>) {
        let v = serde_json::to_value(sketch).unwrap();
        let offset = v["store"]["offset"].as_i64().unwrap();
        let bins = v["store"]["bins"].as_array().unwrap().iter();
        let counts = bins
            .enumerate()
            .map(|(i, n)| (offset + i as i64, n.as_u64().unwrap()))
            .filter(|(_, n)| *n > 0)
            .collect();
        (v["zero_count"].as_u64().unwrap(), counts)
    }

    #[test]
    fn latencies_counted_in_the_table_give_the_sketch_one_by_one_inserts_give() {
        // Extremes (outside ORDER_FREE_MS) make the sketch collapse its lowest bins, where
        // the order of insertion can matter: they must reach it in their place.
        let extremes = [1e-7, 1e15, 1e-4, 5e12, 0.0];
        let mut rng = fastrand::Rng::with_seed(3);
        for round in 0..40 {
            let mut table = LogSummary::default();
            let mut one_by_one = LogSummary::default();
            for n in 0..rng.u64(1..30_000) {
                if round % 2 == 1 && rng.u32(..2000) == 0 {
                    let ms = extremes[rng.usize(..extremes.len())];
                    table.add_request(Some(200), Some(ms), false, 1000.0);
                    one_by_one.add_request(Some(200), Some(ms), false, 1000.0);
                    continue;
                }
                // Mostly repeated values, some past the table's end.
                let centi = match n % 4 {
                    0 => rng.u32(..400_000),
                    _ => rng.u32(..3000),
                };
                let ms = f64::from(centi) / 100.0;
                table.add_request_centi_ms(Some(200), centi, false, 1000.0);
                one_by_one.add_request(Some(200), Some(ms), false, 1000.0);
            }
            let (settled, want) = (table.latency.sketch(), one_by_one.latency.sketch());
            assert_eq!(bins_by_key(&settled), bins_by_key(&want), "round {round}");
            assert_eq!(
                (settled.count(), settled.min(), settled.max()),
                (want.count(), want.min(), want.max())
            );
            drop(settled);
            assert_eq!(table, one_by_one, "round {round}");
            assert_eq!(table.latency_us_sum, one_by_one.latency_us_sum);
            assert_eq!(LogMetrics::from(&table), LogMetrics::from(&one_by_one));
            table.settle_latencies();
            assert!(table.latency.waiting_at.is_empty());
            assert_eq!(table, one_by_one, "round {round}, settled");
        }
    }

    #[test]
    fn repeated_latencies_wait_in_the_table_after_the_first_few_thousand() {
        let mut s = LogSummary::default();
        for n in 0..TABLE_AFTER {
            s.add_request_centi_ms(Some(200), (n % 50) as u32, false, 1000.0);
        }
        assert!(s.latency.waiting.is_empty(), "a small summary has no table");
        for n in 0..100_000 {
            s.add_request_centi_ms(Some(200), n % 50, false, 1000.0);
        }
        assert_eq!(s.latency.waiting_at.len(), 50);
        assert_eq!(
            s.latency.waiting.iter().map(|n| u64::from(*n)).sum::<u64>(),
            100_000
        );
        assert_eq!(s.latency.sketch().count(), 100_000 + TABLE_AFTER as usize);
        s.merge(&LogSummary::default());
        assert!(s.latency.waiting_at.is_empty(), "a merge settles them");
    }

    /// Review of the table (issue 12): a summary handed out kept its 1 MiB table, and a clone
    /// copied it, so `logscale analyze` of 3,000 files held 3 GiB.
    #[test]
    fn a_summary_handed_out_or_cloned_keeps_no_table() {
        let spec = crate::loggen::LogGenSpec::new(crate::Format::Original, 20_000);
        let mut text = Vec::new();
        crate::loggen::generate(&spec, &mut text).unwrap();
        let options = crate::ParseOptions::default();
        let handed_out = crate::summarize_bytes(&text, &options);
        assert_eq!(handed_out.requests, 20_000);
        assert_eq!(handed_out.latency.waiting.capacity(), 0);
        assert_eq!(handed_out.latency.waiting_at.capacity(), 0);

        // One still being written has its table; its clone has the same latencies, no table.
        let mut writing = LogSummary::default();
        for n in 0..20_000u32 {
            writing.add_request_centi_ms(Some(200), n % 700, false, 1000.0);
        }
        assert!(!writing.latency.waiting_at.is_empty());
        let copy = writing.clone();
        assert_eq!(copy.latency.waiting.capacity(), 0);
        assert_eq!(copy, writing);
        assert_eq!(
            bins_by_key(&copy.latency.sketch),
            bins_by_key(&writing.latency.sketch())
        );
    }

    #[test]
    fn the_zero_bucket_bound_is_the_sketch_configuration_s() {
        assert_eq!(ZERO_BUCKET_MS, SketchConfig::defaults().min_possible());
    }

    #[test]
    fn negative_or_nan_latency_counts_the_request_but_not_the_time() {
        let mut s = LogSummary::default();
        s.add_request(Some(200), Some(-1.0), false, 10.0);
        s.add_request(Some(200), Some(f64::NAN), false, 10.0);
        assert_eq!((s.requests, s.timed), (2, 0));
    }
}
