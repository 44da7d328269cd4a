//! Sample logs in every format logscale reads, as the original's `log_generator.py` made them
//! for its own format: a configurable share of errors and of slow responses, reproducible from
//! a seed. Used by the demo, the tests and the benchmarks. It reports exactly what it wrote
//! (and, on request, every latency) so tests can check the parser's counts and percentiles.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{Duration, NaiveDateTime};

use crate::Format;

/// What to generate.
#[derive(Debug, Clone)]
pub struct LogGenSpec {
    pub lines: u64,
    pub format: Format,
    /// Share of requests that are errors, 0–1.
    pub error_share: f64,
    /// Share of requests slower than `slow_ms`, 0–1.
    pub slow_share: f64,
    pub slow_ms: f64,
    /// Timestamp of the first line; later lines advance by a few milliseconds each.
    pub start: NaiveDateTime,
    pub seed: u64,
    /// Keep every written latency in [`LogGenStats::latencies_ms`] (for tests).
    pub keep_latencies: bool,
}

impl LogGenSpec {
    /// `lines` lines of `format` with the original tool's defaults.
    pub fn new(format: Format, lines: u64) -> Self {
        LogGenSpec {
            lines,
            format,
            error_share: 0.03,
            slow_share: 0.05,
            slow_ms: 1000.0,
            start: NaiveDateTime::parse_from_str("2024-12-08 12:00:00", "%Y-%m-%d %H:%M:%S")
                .expect("a valid constant"),
            seed: 42,
            keep_latencies: false,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogGenStats {
    pub lines: u64,
    pub errors: u64,
    pub slow: u64,
    /// Requests written with a latency (ALB entries without a response have none).
    pub timed: u64,
    pub bytes: u64,
    pub latencies_ms: Vec<f64>,
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

/// One generated request.
struct Request {
    time: NaiveDateTime,
    method: &'static str,
    path: &'static str,
    status: u16,
    level: &'static str,
    error: bool,
    /// `None`: the load balancer got no response (ALB only).
    latency_ms: Option<f64>,
    message: &'static str,
}

/// Writes `spec.lines` lines to `out`.
pub fn generate(spec: &LogGenSpec, out: &mut impl Write) -> io::Result<LogGenStats> {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let mut stats = LogGenStats::default();
    let mut time = spec.start;
    let mut line = String::with_capacity(512);
    // Latencies are quantized to what each format can write exactly.
    let step = match spec.format {
        Format::Original | Format::Json => 0.01,
        Format::Alb | Format::Combined => 1.0,
    };
    for _ in 0..spec.lines {
        time += Duration::milliseconds(rng.i64(1..=40));
        let (method, path) = ENDPOINTS[rng.usize(..ENDPOINTS.len())];
        let error = rng.f64() < spec.error_share;
        let slow = rng.f64() < spec.slow_share;
        let raw_ms = if slow {
            spec.slow_ms + step + rng.f64() * 3000.0
        } else {
            5.0 + rng.f64() * (spec.slow_ms * 0.6).min(600.0)
        };
        let ms = (raw_ms / step).round() * step;
        let (status, level) = if error {
            ([500, 502, 503][rng.usize(..3)], "ERROR")
        } else {
            OK_STATUSES[rng.usize(..OK_STATUSES.len())]
        };
        // A tenth of ALB errors are requests the target never answered.
        let no_response = spec.format == Format::Alb && error && rng.u8(..10) == 0;
        let request = Request {
            time,
            method,
            path,
            status,
            level,
            error,
            latency_ms: (!no_response).then_some(ms),
            message: ERROR_MESSAGES[rng.usize(..ERROR_MESSAGES.len())],
        };
        line.clear();
        write_line(spec.format, &request, &mut line, rng.u32(..));
        out.write_all(line.as_bytes())?;
        stats.lines += 1;
        stats.errors += u64::from(error);
        stats.bytes += line.len() as u64;
        if let Some(ms) = request.latency_ms {
            stats.timed += 1;
            stats.slow += u64::from(ms > spec.slow_ms);
            if spec.keep_latencies {
                stats.latencies_ms.push(ms);
            }
        }
    }
    Ok(stats)
}

fn write_line(format: Format, r: &Request, out: &mut String, noise: u32) {
    let Request {
        time,
        method,
        path,
        status,
        ..
    } = *r;
    // Writing to a String cannot fail.
    let _ = match format {
        Format::Original => {
            let stamp = time.format("%Y-%m-%d %H:%M:%S%.3f");
            let ms = r.latency_ms.unwrap_or(0.0);
            if r.error {
                writeln!(out, "[{stamp}] ERROR - {method} {path} - status: {status} - response_time: {ms:.2}ms - {}", r.message)
            } else {
                writeln!(
                    out,
                    "[{stamp}] {} - {method} {path} - status: {status} - response_time: {ms:.2}ms",
                    r.level
                )
            }
        }
        Format::Alb => {
            let stamp = time.format("%Y-%m-%dT%H:%M:%S%.6fZ");
            let (times, target, target_status) = match r.latency_ms {
                // 1 ms of request processing, the rest in the target, none in the response.
                Some(ms) => (
                    format!("0.001 {:.3} 0.000", (ms - 1.0) / 1000.0),
                    "10.0.2.7:8080",
                    status.to_string(),
                ),
                None => ("-1 -1 -1".to_string(), "-", "-".to_string()),
            };
            writeln!(
                out,
                "https {stamp} app/logscale-demo/50dc6c495c0c9188 10.0.1.{}:{} {target} {times} {status} {target_status} 120 {} \"{method} https://example.com:443{path} HTTP/1.1\" \"loadgen/1.0\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 \"Root=1-{noise:08x}-0123456789abcdef01234567\" \"example.com\" \"-\" 0 {stamp} \"forward\" \"-\" \"-\" \"{target}\" \"{target_status}\" \"-\" \"-\" TID_{noise:08x}",
                noise % 250,
                1024 + noise % 60000,
                200 + noise % 4000,
            )
        }
        Format::Combined => {
            let stamp = time.format("%d/%b/%Y:%H:%M:%S +0000");
            let secs = r.latency_ms.unwrap_or(0.0) / 1000.0;
            writeln!(
                out,
                "10.0.1.{} - - [{stamp}] \"{method} {path} HTTP/1.1\" {status} {} \"-\" \"loadgen/1.0\" {secs:.3}",
                noise % 250,
                200 + noise % 4000,
            )
        }
        Format::Json => {
            let stamp = time.format("%Y-%m-%dT%H:%M:%S%.3fZ");
            let level = if r.error { "error" } else { "info" };
            writeln!(
                out,
                "{{\"ts\":\"{stamp}\",\"level\":\"{level}\",\"method\":\"{method}\",\"path\":\"{path}\",\"status\":{status},\"duration_ms\":{:.2}}}",
                r.latency_ms.unwrap_or(0.0)
            )
        }
    };
}

/// [`generate`] into `sink`, gzip-compressed when asked, buffered and flushed.
pub fn generate_to(spec: &LogGenSpec, sink: impl Write, gzip: bool) -> io::Result<LogGenStats> {
    let mut sink = io::BufWriter::new(sink);
    let stats = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(&mut sink, flate2::Compression::default());
        let stats = generate(spec, &mut encoder)?;
        encoder.finish()?;
        stats
    } else {
        generate(spec, &mut sink)?
    };
    sink.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{summarize_bytes, ParseOptions};

    #[test]
    fn parser_counts_exactly_what_was_generated_in_every_format() {
        for format in Format::ALL {
            for seed in [1, 2] {
                let spec = LogGenSpec {
                    error_share: 0.07,
                    slow_share: 0.12,
                    seed,
                    ..LogGenSpec::new(format, 4000)
                };
                let mut buf = Vec::new();
                let stats = generate(&spec, &mut buf).unwrap();
                for options in [ParseOptions::default(), ParseOptions::with_format(format)] {
                    let s = summarize_bytes(&buf, &options);
                    let what = format!("{format} seed {seed} {:?}", options.format);
                    assert_eq!(s.requests, stats.lines, "{what}");
                    assert_eq!(s.errors, stats.errors, "{what}");
                    assert_eq!(s.slow, stats.slow, "{what}");
                    assert_eq!(s.timed, stats.timed, "{what}");
                    assert_eq!(s.unparsed, 0, "{what}");
                    assert_eq!(s.bytes, stats.bytes, "{what}");
                    let rate = s.error_rate().unwrap();
                    assert!((4.0..10.0).contains(&rate), "{what}: {rate}");
                }
            }
        }
    }

    #[test]
    fn same_seed_same_output() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let spec = LogGenSpec::new(Format::Alb, 100);
        generate(&spec, &mut a).unwrap();
        generate(&spec, &mut b).unwrap();
        assert_eq!(a, b);
    }
}
