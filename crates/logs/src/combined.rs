//! nginx / Apache "combined" access logs, with an optional trailing request time:
//!
//! ```text
//! 127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08" 0.123
//! ```
//!
//! The request time, when the server was configured to log it, is the last field after the
//! user agent: nginx `$request_time` (seconds with a decimal point) or Apache `%D`
//! (microseconds). The unit is a setting; left unset, a value with a decimal point is read as
//! seconds and a whole number as microseconds. Lines without it count as requests without a
//! latency. By default an error is a status ≥ 500.

use chrono::{DateTime, NaiveDate, Utc};

use super::timestamp;
use super::{
    count_request, decimal, original, three_digits, ErrorRule, LogSummary, ParseOptions, TimeUnit,
};

/// Folds one non-blank line into `summary`.
pub fn parse_line(line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
    let Some((status, tail)) = status_and_tail(line) else {
        summary.note_unparsed("not_combined_format", line);
        return;
    };
    let latency = request_time(tail).map(|(value, has_point)| {
        let unit = options.request_time_unit.unwrap_or(if has_point {
            TimeUnit::Seconds
        } else {
            TimeUnit::Micros
        });
        unit.to_ms(value)
    });
    let (by_words, by_status) = options.errors.resolve(ErrorRule::Status);
    let error = (by_status && status >= 500) || (by_words && original::has_error_word(line));
    count_request(summary, options, Some(status), latency, error);
}

/// The status code and what follows the byte count.
fn status_and_tail(line: &[u8]) -> Option<(u16, &[u8])> {
    let open = memchr::memchr(b'[', line)?;
    let close = open + memchr::memchr(b']', &line[open..])?;
    let rest = line[close + 1..].strip_prefix(b" \"")?;
    let request_end = closing_quote(rest)?;
    let rest = rest[request_end + 1..].strip_prefix(b" ")?;
    let status = three_digits(rest)?;
    let rest = rest[3..].strip_prefix(b" ")?;
    let bytes_len = rest.iter().take_while(|b| **b != b' ').count();
    let bytes = &rest[..bytes_len];
    if bytes != b"-" && (bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    Some((status, &rest[bytes_len..]))
}

/// The index of the `"` that closes a quoted field whose opening quote was just before `text`;
/// `\"` does not close it.
fn closing_quote(text: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + memchr::memchr(b'"', &text[from..])?;
        let backslashes = text[..at].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 0 {
            return Some(at);
        }
        from = at + 1;
    }
}

/// After the byte count: `"referer" "user agent"` and then, optionally, the request time as
/// the last field. Returns the value and whether it had a decimal point.
fn request_time(tail: &[u8]) -> Option<(f64, bool)> {
    let mut rest = tail;
    for _ in 0..2 {
        let inner = rest.strip_prefix(b" \"")?;
        rest = &inner[closing_quote(inner)? + 1..];
    }
    let last = rest.trim_ascii().rsplit(|b| *b == b' ').next()?;
    let value = decimal(last).filter(|v| *v >= 0.0)?;
    Some((value, last.contains(&b'.')))
}

/// The time in the line's first brackets, `[10/Oct/2000:13:55:36 -0700]` (Apache `%t`, nginx
/// `$time_local`): local time with its offset from UTC.
pub fn line_time(line: &[u8]) -> Option<DateTime<Utc>> {
    let open = memchr::memchr(b'[', line)?;
    let inner = &line[open + 1..];
    let stamp = &inner[..memchr::memchr(b']', inner)?];
    // dd/Mon/yyyy:HH:MM:SS ±hhmm
    if stamp.get(2) != Some(&b'/') || stamp.get(6) != Some(&b'/') || stamp.get(11) != Some(&b':') {
        return None;
    }
    let month = MONTHS
        .iter()
        .position(|m| stamp.get(3..6) == Some(&m[..]))?;
    let date = NaiveDate::from_ymd_opt(
        timestamp::digits(stamp, 7, 4)? as i32,
        month as u32 + 1,
        timestamp::digits(stamp, 0, 2)?,
    )?;
    let (time, rest) = timestamp::time_of_day(&stamp[12..])?;
    let offset = timestamp::utc_offset(rest.strip_prefix(b" ")?)?;
    timestamp::to_utc(date.and_time(time), offset)
}

/// Month names as `%b` writes them in the C locale, which servers log in.
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Whether a line looks like a combined entry, for detection.
pub fn looks_like(line: &[u8]) -> bool {
    !line.starts_with(b"[") && status_and_tail(line).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    fn parse_with(lines: &[&str], options: &ParseOptions) -> LogSummary {
        let mut s = LogSummary::default();
        for l in lines {
            Format::Combined.parse_line(l.as_bytes(), options, &mut s);
        }
        s
    }

    #[test]
    fn table_of_lines() {
        let o = ParseOptions::default();
        // (line, requests, errors, timed latency µs or None, unparsed)
        let cases: &[(&str, u64, u64, Option<u64>, u64)] = &[
            (
                r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08""#,
                1,
                0,
                None,
                0,
            ),
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "POST /api HTTP/1.1" 502 0 "-" "curl/8" 1.250"#,
                1,
                1,
                Some(1_250_000),
                0,
            ),
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 15 "-" "curl/8" 5123"#,
                1,
                0,
                Some(5_123),
                0,
            ),
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /q?x=\"a b\" HTTP/1.1" 404 - "-" "Agent \"quoted\"" 0.004"#,
                1,
                0,
                Some(4_000),
                0,
            ),
            // common log format: no referer or agent, so no request time either
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 15"#,
                1,
                0,
                None,
                0,
            ),
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 15 "-" "ua" fast"#,
                1,
                0,
                None,
                0,
            ),
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" OK 15 "-" "ua""#,
                0,
                0,
                None,
                1,
            ),
            (
                r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1 200 15"#,
                0,
                0,
                None,
                1,
            ),
            ("just some text", 0, 0, None, 1),
        ];
        for (line, req, err, us, unp) in cases {
            let s = parse_with(&[line], &o);
            let timed = us.map(|_| 1).unwrap_or(0);
            assert_eq!(
                (s.requests, s.errors, s.timed, s.unparsed),
                (*req, *err, timed, *unp),
                "{line}"
            );
            assert_eq!(s.latency_us_sum, us.unwrap_or(0), "{line}");
        }
    }

    #[test]
    fn the_unit_setting_wins_over_the_guess() {
        let line =
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 250"#;
        let o = ParseOptions {
            request_time_unit: Some(TimeUnit::Millis),
            ..ParseOptions::default()
        };
        assert_eq!(parse_with(&[line], &o).latency_us_sum, 250_000);
    }

    #[test]
    fn detection() {
        assert!(looks_like(
            br#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#
        ));
        assert!(!looks_like(
            b"[2024-12-08 12:34:56.789] INFO - GET /x - status: 200 - response_time: 1ms"
        ));
    }
}
