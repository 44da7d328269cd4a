//! The original tool's line format:
//!
//! ```text
//! [2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms
//! [2024-12-08 12:34:57.123] ERROR - POST /api/orders - status: 500 - response_time: 2341.56ms - Database connection timeout
//! ```
//!
//! Rules kept from the original so its users see the same numbers: a request is a line with
//! `status` and `response_time` (read as its `name[:\s]+` patterns read them); by default it is
//! an error when `ERROR`, `FATAL`, `Exception` or `Failed` appears anywhere in the line; it is
//! slow when its response time is above the slow threshold. A bracketed, levelled line without
//! those fields is a non-request log line; anything else is unparsed.
//!
//! This is the hot path: one SIMD search per field and one pass over the line for the error
//! words, no allocation.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use memchr::memmem::Finder;

use super::timestamp::{self, Zone};
use super::{count_request, three_digits, ErrorRule, LogSummary, ParseOptions};

static STATUS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"status"));
static RESPONSE_TIME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"response_time"));

/// Folds one non-blank line (without its newline) into `summary`.
#[inline]
pub fn parse_line(line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
    let status = field_after(line, &STATUS).and_then(three_digits);
    let response_ms = field_after(line, &RESPONSE_TIME).and_then(milliseconds);
    match (status, response_ms) {
        (Some(status), Some(ms)) => {
            let (by_words, by_status) = options.errors.resolve(ErrorRule::Words);
            let error = (by_status && status >= 500) || (by_words && has_error_word(line));
            count_request(summary, options, Some(status), Some(ms), error);
        }
        _ if has_header(line) => summary.non_request += 1,
        _ => summary.note_unparsed("not_original_format", line),
    }
}

/// `ERROR`, `FATAL`, `Exception` or `Failed` anywhere in the line: one pass over the line for
/// their first letters, then a prefix check at each hit.
#[inline]
pub fn has_error_word(line: &[u8]) -> bool {
    memchr::memchr2_iter(b'E', b'F', line).any(|at| {
        let rest = &line[at..];
        rest.starts_with(b"ERROR")
            || rest.starts_with(b"Exception")
            || rest.starts_with(b"FATAL")
            || rest.starts_with(b"Failed")
    })
}

/// The text after `name` and its separators (`:` and blanks). `None` when the name is absent
/// or never followed by a separator.
#[inline]
fn field_after<'a>(line: &'a [u8], name: &Finder<'_>) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = name.find(&line[from..]) {
        let end = from + at + name.needle().len();
        let rest = &line[end..];
        let skipped = rest
            .iter()
            .take_while(|b| **b == b':' || b.is_ascii_whitespace())
            .count();
        if skipped > 0 {
            return Some(&rest[skipped..]);
        }
        from = end;
    }
    None
}

/// `\d+\.?\d*ms`: digits, an optional fraction, then `ms`. Parsed by hand: the slice is plain
/// ASCII digits, and this runs once per line.
#[inline]
fn milliseconds(text: &[u8]) -> Option<f64> {
    let int_len = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 {
        return None;
    }
    let mut end = int_len;
    let mut frac_len = 0;
    if text.get(end) == Some(&b'.') {
        frac_len = text[end + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        end += 1 + frac_len;
    }
    if !text[end..].starts_with(b"ms") {
        return None;
    }
    if int_len + frac_len > 15 {
        // Too many digits for the exact integer path; let the standard parser round.
        return std::str::from_utf8(&text[..end]).ok()?.parse().ok();
    }
    // Numerator and power of ten are both exact, so one division rounds correctly: the same
    // value `str::parse` gives.
    let digits = |s: &[u8]| s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let whole = digits(&text[..int_len]);
    if frac_len == 0 {
        return Some(whole as f64);
    }
    let frac = digits(&text[int_len + 1..end]);
    let scale = 10u64.pow(frac_len as u32);
    Some((whole * scale + frac) as f64 / scale as f64)
}

/// `[timestamp] LEVEL` at the start of the line.
fn has_header(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"[") else {
        return false;
    };
    let Some(close) = memchr::memchr(b']', rest) else {
        return false;
    };
    let after = &rest[close + 1..];
    after.first() == Some(&b' ') && after.get(1).is_some_and(u8::is_ascii_uppercase)
}

/// Whether a line looks like this format, for detection.
pub fn looks_like(line: &[u8]) -> bool {
    has_header(line) && field_after(line, &STATUS).is_some()
}

/// The time in the line's leading brackets, `[2024-12-08 12:34:56.789]`. The format writes no
/// zone, so a time without one is taken as UTC (what the original tool's hosts log in); a
/// `Z` or numeric offset, when present, is honoured.
pub fn line_time(line: &[u8]) -> Option<DateTime<Utc>> {
    let rest = line.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', rest)?;
    timestamp::iso8601(&rest[..close], Zone::UtcIfAbsent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    fn parse_with(lines: &[&str], options: &ParseOptions) -> LogSummary {
        let mut s = LogSummary::default();
        for l in lines {
            Format::Original.parse_line(l.as_bytes(), options, &mut s);
        }
        s
    }

    fn parse(lines: &[&str]) -> LogSummary {
        parse_with(lines, &ParseOptions::default())
    }

    #[test]
    fn table_of_lines() {
        // (line, requests, errors, slow, non_request, unparsed)
        let cases: &[(&str, u64, u64, u64, u64, u64)] = &[
            ("[2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms", 1, 0, 0, 0, 0),
            ("[2024-12-08 12:34:57.123] ERROR - POST /api/orders - status: 500 - response_time: 2341.56ms - Database connection timeout", 1, 1, 1, 0, 0),
            ("[2024-12-08 12:34:58.456] WARN - GET /api/search - status: 404 - response_time: 89.12ms", 1, 0, 0, 0, 0),
            // error words anywhere, case-sensitive, as the original's regex
            ("[t] INFO - GET /x - status: 200 - response_time: 5ms - Failed cache fill", 1, 1, 0, 0, 0),
            ("[t] INFO - GET /x - status: 200 - response_time: 5ms - NullPointerException", 1, 1, 0, 0, 0),
            ("[t] INFO - GET /x - status: 200 - response_time: 5ms - error in lower case", 1, 0, 0, 0, 0),
            ("[t] INFO - DELETE /FAQ - status: 200 - response_time: 5ms - EXPORT Fail", 1, 0, 0, 0, 0),
            // a 5xx without an error word is not an error under the original's rule
            ("[t] INFO - GET /x - status: 503 - response_time: 5ms", 1, 0, 0, 0, 0),
            // slow is strictly above 1000 ms
            ("[t] INFO - GET /x - status: 200 - response_time: 1000ms", 1, 0, 0, 0, 0),
            ("[t] INFO - GET /x - status: 200 - response_time: 1000.01ms", 1, 0, 1, 0, 0),
            ("[t] INFO - GET /x - status: 200 - response_time: 1001ms", 1, 0, 1, 0, 0),
            // separators as `[:\s]+`
            ("[t] INFO - GET /x - status 201 - response_time 7.ms", 1, 0, 0, 0, 0),
            // a levelled line without request fields
            ("[2024-12-08 12:00:00.000] INFO - Application started", 0, 0, 0, 1, 0),
            ("[2024-12-08 12:00:00.000] FATAL - out of memory", 0, 0, 0, 1, 0),
            // not our format
            ("GET /x 200", 0, 0, 0, 0, 1),
            ("\u{fffd}\u{0}binary", 0, 0, 0, 0, 1),
            ("[t] INFO - status: 20 - response_time: 5ms", 0, 0, 0, 1, 0),
            ("[t] INFO - status: 200 - response_time: fast", 0, 0, 0, 1, 0),
            ("", 0, 0, 0, 0, 0),
            ("   \r", 0, 0, 0, 0, 0),
        ];
        for (line, req, err, slow, nonreq, unp) in cases {
            let s = parse(&[line]);
            assert_eq!(
                (s.requests, s.errors, s.slow, s.non_request, s.unparsed),
                (*req, *err, *slow, *nonreq, *unp),
                "{line:?}"
            );
            assert_eq!(s.lines, 1);
        }
    }

    #[test]
    fn error_rule_can_count_5xx() {
        let lines = [
            "[t] INFO - GET /x - status: 503 - response_time: 5ms",
            "[t] INFO - GET /x - status: 200 - response_time: 5ms - Failed",
        ];
        let with = |errors| ParseOptions {
            errors,
            ..ParseOptions::default()
        };
        assert_eq!(parse_with(&lines, &with(ErrorRule::Status)).errors, 1);
        assert_eq!(parse_with(&lines, &with(ErrorRule::Either)).errors, 2);
        assert_eq!(parse_with(&lines, &with(ErrorRule::Words)).errors, 1);
    }

    #[test]
    fn response_time_and_status_are_read_exactly() {
        let s = parse(&["[t] INFO - GET /x - status: 503 - response_time: 2341.56ms\r"]);
        assert_eq!(s.latency_us_sum, 2_341_560);
        assert_eq!(s.status_counts().get(&503), Some(&1));
        for (text, want) in [
            ("0.5ms", 0.5),
            ("12ms", 12.0),
            ("7.ms", 7.0),
            ("145.32ms", 145.32),
        ] {
            assert_eq!(milliseconds(text.as_bytes()), Some(want), "{text}");
        }
        assert_eq!(
            milliseconds(b"12345678901234567.5ms"),
            Some(12345678901234567.5)
        );
    }

    #[test]
    fn a_path_named_status_does_not_confuse_the_status_field() {
        let s = parse(&["[t] INFO - GET /status/health - status: 204 - response_time: 3ms"]);
        assert_eq!(s.status_counts().get(&204), Some(&1));
    }

    #[test]
    fn invalid_utf8_is_counted_not_fatal() {
        let mut s = LogSummary::default();
        let o = ParseOptions::default();
        Format::Original.parse_line(b"\xff\xfe\x00 garbage", &o, &mut s);
        Format::Original.parse_line(
            b"[t] INFO - GET /\xff - status: 200 - response_time: 1ms",
            &o,
            &mut s,
        );
        assert_eq!(s.unparsed, 1);
        assert_eq!(s.requests, 1);
    }
}
