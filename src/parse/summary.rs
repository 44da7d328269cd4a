//! The counts one window of logs yields. Summaries merge by addition, so objects can be parsed
//! independently (and concurrently) and combined afterwards.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

/// How much of an unparsed line is kept as an example in the record.
const EXAMPLE_CHARS: usize = 160;

#[derive(Debug, Clone, PartialEq)]
pub struct LogSummary {
    /// Lines seen, including blank and unparsed ones.
    pub lines: u64,
    /// Bytes of (decoded) log text read.
    pub bytes: u64,
    /// Lines that describe a request (they carry a status and a response time).
    pub requests: u64,
    /// Requests counted as errors by the format's rule.
    pub errors: u64,
    /// Requests slower than the slow threshold.
    pub slow: u64,
    /// Sum of response times, for the mean.
    pub response_ms_sum: f64,
    /// Well-formed log lines that are not requests (start-up messages, for example).
    pub non_request: u64,
    /// Lines in no format we know.
    pub unparsed: u64,
    /// The first unparsed line, shortened, so the record shows what went wrong.
    pub unparsed_example: Option<String>,
    /// Requests per HTTP status code; index = code.
    status: Box<[u64; 1000]>,
}

impl Default for LogSummary {
    fn default() -> Self {
        LogSummary {
            lines: 0,
            bytes: 0,
            requests: 0,
            errors: 0,
            slow: 0,
            response_ms_sum: 0.0,
            non_request: 0,
            unparsed: 0,
            unparsed_example: None,
            status: Box::new([0; 1000]),
        }
    }
}

impl LogSummary {
    /// Counts one request.
    pub fn add_request(&mut self, status: u16, response_ms: f64, error: bool, slow: bool) {
        self.requests += 1;
        self.response_ms_sum += response_ms;
        self.errors += u64::from(error);
        self.slow += u64::from(slow);
        if let Some(n) = self.status.get_mut(usize::from(status)) {
            *n += 1;
        }
    }

    /// Counts a line that did not parse, keeping the first as an example.
    pub fn note_unparsed(&mut self, line: &[u8]) {
        self.unparsed += 1;
        if self.unparsed_example.is_none() {
            let text = String::from_utf8_lossy(line);
            self.unparsed_example = Some(text.chars().take(EXAMPLE_CHARS).collect());
        }
    }

    /// Adds another summary's counts to this one.
    pub fn merge(&mut self, other: &LogSummary) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.requests += other.requests;
        self.errors += other.errors;
        self.slow += other.slow;
        self.response_ms_sum += other.response_ms_sum;
        self.non_request += other.non_request;
        self.unparsed += other.unparsed;
        if self.unparsed_example.is_none() {
            self.unparsed_example.clone_from(&other.unparsed_example);
        }
        for (mine, theirs) in self.status.iter_mut().zip(other.status.iter()) {
            *mine += theirs;
        }
    }

    /// Mean response time in ms; `None` without requests.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.response_ms_sum / self.requests as f64)
    }

    /// Errors as a percentage of requests; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        self.percent(self.errors)
    }

    /// Slow requests as a percentage of requests; `None` without requests.
    pub fn slow_rate(&self) -> Option<f64> {
        self.percent(self.slow)
    }

    fn percent(&self, n: u64) -> Option<f64> {
        (self.requests > 0).then(|| 100.0 * n as f64 / self.requests as f64)
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

/// The summary as the decision record shows it: counts, derived rates, and status codes.
#[derive(Debug, Serialize)]
pub struct LogMetrics {
    pub lines: u64,
    pub bytes: u64,
    pub requests: u64,
    pub errors: u64,
    pub slow: u64,
    #[serde(serialize_with = "round2")]
    pub mean_ms: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub error_rate: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub slow_rate: Option<f64>,
    pub status: BTreeMap<u16, u64>,
    pub non_request: u64,
    pub unparsed: u64,
    pub unparsed_example: Option<String>,
}

impl From<&LogSummary> for LogMetrics {
    fn from(s: &LogSummary) -> Self {
        LogMetrics {
            lines: s.lines,
            bytes: s.bytes,
            requests: s.requests,
            errors: s.errors,
            slow: s.slow,
            mean_ms: s.mean_ms(),
            error_rate: s.error_rate(),
            slow_rate: s.slow_rate(),
            status: s.status_counts(),
            non_request: s.non_request,
            unparsed: s.unparsed,
            unparsed_example: s.unparsed_example.clone(),
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
    }

    #[test]
    fn merge_adds_counts_and_keeps_first_example() {
        let mut a = LogSummary::default();
        a.add_request(200, 100.0, false, false);
        a.note_unparsed(b"first bad");
        let mut b = LogSummary::default();
        b.add_request(500, 300.0, true, false);
        b.add_request(200, 2000.0, false, true);
        b.note_unparsed(b"second bad");
        a.merge(&b);
        assert_eq!(a.requests, 3);
        assert_eq!(a.errors, 1);
        assert_eq!(a.slow, 1);
        assert_eq!(a.mean_ms(), Some(800.0));
        assert_eq!(a.unparsed, 2);
        assert_eq!(a.unparsed_example.as_deref(), Some("first bad"));
        assert_eq!(a.status_counts(), BTreeMap::from([(200, 2), (500, 1)]));
        let pct = a.error_rate().unwrap();
        assert!((pct - 100.0 / 3.0).abs() < 1e-9);
    }
}
