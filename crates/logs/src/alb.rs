//! Application Load Balancer access logs (one `.log.gz` per node every 5 minutes):
//!
//! ```text
//! type time elb client:port target:port request_processing_time target_processing_time
//! response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//! "request" "user_agent" ... (more fields, new ones appended over time)
//! ```
//!
//! Only the first ten fields are read, so fields AWS appends later change nothing. Latency is
//! the sum of the three processing times (seconds). A `-1` time means the load balancer got no
//! response: the request is an error and stays out of the latency figures. By default an error
//! is also `elb_status_code` ≥ 500, which covers the load balancer's own 502/503/504 when the
//! target never answered (`target_status_code` is then `-`).

use chrono::{DateTime, Utc};

use super::timestamp::{self, Zone};
use super::{count_request, decimal, original, three_digits, ErrorRule, LogSummary, ParseOptions};

const TYPES: [&[u8]; 6] = [b"http", b"https", b"h2", b"grpcs", b"ws", b"wss"];

/// Folds one non-blank line into `summary`.
pub fn parse_line(line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
    let mut fields = [&b""[..]; 10];
    let mut n = 0;
    for field in line.splitn(11, |b| *b == b' ').take(10) {
        fields[n] = field;
        n += 1;
    }
    if n < 10 || !TYPES.contains(&fields[0]) {
        summary.note_unparsed("not_alb_format", line);
        return;
    }
    let times = [fields[5], fields[6], fields[7]].map(decimal);
    let status = match fields[8] {
        b"-" => None,
        code if code.len() == 3 => three_digits(code),
        _ => {
            summary.note_unparsed("alb_bad_status", line);
            return;
        }
    };
    let [Some(a), Some(b), Some(c)] = times else {
        summary.note_unparsed("alb_bad_time", line);
        return;
    };
    let no_response = a < 0.0 || b < 0.0 || c < 0.0;
    let latency = (!no_response).then_some((a + b + c) * 1000.0);
    let (by_words, by_status) = options.errors.resolve(ErrorRule::Status);
    let error = no_response
        || (by_status && status.is_some_and(|s| s >= 500))
        || (by_words && original::has_error_word(line));
    count_request(summary, options, status, latency, error);
}

/// Whether a line looks like an ALB entry, for detection.
pub fn looks_like(line: &[u8]) -> bool {
    let mut fields = line.splitn(3, |b| *b == b' ');
    let (Some(kind), Some(time)) = (fields.next(), fields.next()) else {
        return false;
    };
    TYPES.contains(&kind)
        && time.first().is_some_and(u8::is_ascii_digit)
        && time.contains(&b'T')
        && time.ends_with(b"Z")
}

/// The entry's `time` field, the second: when the load balancer generated its response to the
/// client, ISO 8601 in UTC with microseconds, `2024-12-08T12:34:56.123456Z`.
pub fn line_time(line: &[u8]) -> Option<DateTime<Utc>> {
    let time = line.splitn(3, |b| *b == b' ').nth(1)?;
    timestamp::iso8601(time, Zone::Required)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    const OK: &str = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90"#;
    const NO_TARGET: &str = r#"http 2018-11-30T22:22:48.364000Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - -1 -1 -1 503 - 0 306 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - - "Root=1-5c01b7b8-1f43aa4a6d4b4a5b0f4c5ea5" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "-" "-" "-" "-" "-""#;
    const TARGET_502: &str = r#"h2 2018-07-02T22:23:00.186641Z app/lb/50dc 1.2.3.4:2817 10.0.0.1:80 0.001 1.500 0.000 502 502 34 366 "POST https://x/api HTTP/2.0" "ua" - - - "Root=1" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "502" "-" "-" TID_x extra_future_field another"#;

    fn parse(lines: &[&str]) -> LogSummary {
        let mut s = LogSummary::default();
        for l in lines {
            Format::Alb.parse_line(l.as_bytes(), &ParseOptions::default(), &mut s);
        }
        s
    }

    #[test]
    fn documented_entries() {
        let s = parse(&[OK, NO_TARGET, TARGET_502]);
        assert_eq!(s.requests, 3);
        assert_eq!(s.errors, 2, "the ALB's own 503 and the target's 502");
        assert_eq!(s.timed, 2, "-1 times stay out of latency");
        assert_eq!(s.latency_us_sum, 171_000 + 1_501_000);
        assert_eq!(s.slow, 1);
        assert_eq!(
            s.status_counts(),
            [(200, 1), (502, 1), (503, 1)].into_iter().collect()
        );
        assert_eq!(s.unparsed, 0);
    }

    #[test]
    fn broken_entries_are_counted_by_kind() {
        let s = parse(&[
            "ftp 2018-07-02T22:23:00Z x y z 0.1 0.1 0.1 200 200 1 2",
            "http 2018-07-02T22:23:00Z app/lb 1.2.3.4:1 - abc 0.1 0.1 200 200 1 2",
            "http 2018-07-02T22:23:00Z app/lb 1.2.3.4:1 - 0.1 0.1 0.1 OK 200 1 2",
            "http too short",
        ]);
        assert_eq!(s.requests, 0);
        assert_eq!(s.unparsed, 4);
        assert_eq!(s.unparsed_kinds["not_alb_format"].count, 2);
        assert_eq!(s.unparsed_kinds["alb_bad_time"].count, 1);
        assert_eq!(s.unparsed_kinds["alb_bad_status"].count, 1);
    }

    #[test]
    fn detection() {
        assert!(looks_like(OK.as_bytes()));
        assert!(looks_like(NO_TARGET.as_bytes()));
        assert!(!looks_like(b"[2024-12-08 12:34:56.789] INFO - GET /"));
    }
}
