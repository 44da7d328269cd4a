//! The original tool's line format:
//!
//! ```text
//! [2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms
//! [2024-12-08 12:34:57.123] ERROR - POST /api/orders - status: 500 - response_time: 2341.56ms - Database connection timeout
//! ```
//!
//! Rules kept from the original so its users see the same numbers: a request is a line with
//! `status` and `response_time`; it is an error when `ERROR`, `FATAL`, `Exception` or `Failed`
//! appears anywhere in the line; it is slow when its response time is above the slow threshold.
//! A bracketed, levelled line without those fields is a non-request log line; anything else is
//! unparsed.

use memchr::memmem;

use super::{LogSummary, ParseOptions};

const ERROR_WORDS: [&[u8]; 4] = [b"ERROR", b"FATAL", b"Exception", b"Failed"];

/// Folds one line (without its newline) into `summary`.
pub fn parse_line(line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
    summary.lines += 1;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let status = field_after(line, b"status").and_then(status_code);
    let response_ms = field_after(line, b"response_time").and_then(milliseconds);
    match (status, response_ms) {
        (Some(status), Some(ms)) => {
            let error = ERROR_WORDS.iter().any(|w| memmem::find(line, w).is_some());
            summary.add_request(status, ms, error, ms > options.slow_ms);
        }
        _ if has_header(line) => summary.non_request += 1,
        _ => summary.note_unparsed(line),
    }
}

/// The text after `name` and its separators (`:` and blanks), as the original's
/// `name[:\s]+` pattern read it. `None` when the name is absent or has no separator.
fn field_after<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = memmem::find(&line[from..], name) {
        let rest = &line[from + at + name.len()..];
        let skipped = rest
            .iter()
            .take_while(|b| **b == b':' || b.is_ascii_whitespace())
            .count();
        if skipped > 0 {
            return Some(&rest[skipped..]);
        }
        from += at + name.len();
    }
    None
}

/// Exactly three digits, as `\d{3}`.
fn status_code(text: &[u8]) -> Option<u16> {
    match text {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// `\d+\.?\d*ms`: digits, an optional fraction, then `ms`.
fn milliseconds(text: &[u8]) -> Option<f64> {
    let int_len = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 {
        return None;
    }
    let mut end = int_len;
    if text.get(end) == Some(&b'.') {
        end += 1;
        end += text[end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    if !text[end..].starts_with(b"ms") {
        return None;
    }
    // The slice is ASCII digits and at most one dot, so both conversions succeed.
    std::str::from_utf8(&text[..end]).ok()?.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> LogSummary {
        let mut s = LogSummary::default();
        for l in lines {
            parse_line(l.as_bytes(), &ParseOptions::default(), &mut s);
        }
        s
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
    fn response_time_and_status_are_read_exactly() {
        let s = parse(&["[t] INFO - GET /x - status: 503 - response_time: 2341.56ms\r"]);
        assert_eq!(s.response_ms_sum, 2341.56);
        assert_eq!(s.status_counts().get(&503), Some(&1));
    }

    #[test]
    fn a_path_named_status_does_not_confuse_the_status_field() {
        let s = parse(&["[t] INFO - GET /status/health - status: 204 - response_time: 3ms"]);
        assert_eq!(s.status_counts().get(&204), Some(&1));
    }

    #[test]
    fn invalid_utf8_is_counted_not_fatal() {
        let mut s = LogSummary::default();
        parse_line(b"\xff\xfe\x00 garbage", &ParseOptions::default(), &mut s);
        parse_line(
            b"[t] INFO - GET /\xff - status: 200 - response_time: 1ms",
            &ParseOptions::default(),
            &mut s,
        );
        assert_eq!(s.unparsed, 1);
        assert_eq!(s.requests, 1);
    }
}
