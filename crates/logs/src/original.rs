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
//! words, no allocation per line (a summary's latency table is set up once, see
//! `summary::Latencies`).

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
    let response_ms = field_after(line, &RESPONSE_TIME).and_then(read_milliseconds);
    match (status, response_ms) {
        (Some(status), Some(ms)) => {
            let (by_words, by_status) = options.errors.resolve(ErrorRule::Words);
            let error = (by_status && status >= 500) || (by_words && has_error_word(line));
            match ms {
                Millis::Centi(centi) => {
                    summary.add_request_centi_ms(Some(status), centi, error, options.slow_ms)
                }
                Millis::Other(ms) => count_request(summary, options, Some(status), Some(ms), error),
            }
        }
        _ if has_header(line) => summary.non_request += 1,
        _ => summary.note_unparsed("not_original_format", line),
    }
}

/// `ERROR`, `FATAL`, `Exception` or `Failed` anywhere in the line.
///
/// Every one of the words opens with one of the pairs `ER`, `Ex`, `FA`, `Fa`, which are rare in
/// request lines, while an `E` alone is in every `GET`: so the line is read in blocks of
/// [`BLOCK`] positions, each tested for such a pair at once (plain comparisons the compiler
/// turns into vector instructions), and only a block that has one is looked at word by word.
#[inline]
pub fn has_error_word(line: &[u8]) -> bool {
    const SHORTEST: usize = 5;
    if line.len() < SHORTEST {
        return false;
    }
    // A pair may open at any position but the last.
    let last_start = line.len() - 1;
    let mut at = 0;
    while at < last_start {
        // The final block overlaps the one before it rather than reading past the line.
        let block_at = if line.len() > BLOCK {
            at.min(line.len() - BLOCK - 1)
        } else {
            0
        };
        let found = if line.len() > BLOCK {
            let window: &[u8; BLOCK + 1] = line[block_at..block_at + BLOCK + 1]
                .try_into()
                .expect("a window of BLOCK + 1 bytes");
            (0..BLOCK).fold(false, |any, k| {
                any | opens_error_word(window[k], window[k + 1])
            })
        } else {
            true
        };
        if found {
            let end = (block_at + BLOCK).min(last_start);
            if (block_at..end).any(|p| starts_error_word(&line[p..])) {
                return true;
            }
        }
        at = block_at + BLOCK;
    }
    false
}

/// Positions tested together by [`has_error_word`]: one 16-byte vector.
const BLOCK: usize = 16;

#[inline(always)]
fn opens_error_word(first: u8, second: u8) -> bool {
    (first == b'E') & ((second == b'R') | (second == b'x'))
        | (first == b'F') & ((second == b'A') | (second == b'a'))
}

#[inline]
fn starts_error_word(rest: &[u8]) -> bool {
    rest.starts_with(b"ERROR")
        || rest.starts_with(b"Exception")
        || rest.starts_with(b"FATAL")
        || rest.starts_with(b"Failed")
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

/// A latency as written: a whole number of hundredths of a millisecond when it has at most
/// two decimals and seven whole digits (what logs write), which the summary counts without a
/// logarithm per request; any other value in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Millis {
    Centi(u32),
    Other(f64),
}

impl Millis {
    #[cfg(test)]
    fn value(self) -> f64 {
        match self {
            // `centi / 100` rounds once, to the value the decimal text stands for.
            Millis::Centi(centi) => f64::from(centi) / 100.0,
            Millis::Other(ms) => ms,
        }
    }
}

/// `\d+\.?\d*ms`: digits, an optional fraction, then `ms`, in milliseconds.
#[cfg(test)]
fn milliseconds(text: &[u8]) -> Option<f64> {
    read_milliseconds(text).map(Millis::value)
}

/// `\d+\.?\d*ms`: digits, an optional fraction, then `ms`. Parsed by hand: the slice is plain
/// ASCII digits, and this runs once per line.
#[inline]
fn read_milliseconds(text: &[u8]) -> Option<Millis> {
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
        return Some(Millis::Other(
            std::str::from_utf8(&text[..end]).ok()?.parse().ok()?,
        ));
    }
    let digits = |s: &[u8]| s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let whole = digits(&text[..int_len]);
    let frac = digits(&text[int_len + 1..end.max(int_len + 1)]);
    if int_len <= 7 && frac_len <= 2 {
        // Below 10^9 hundredths: fits a u32.
        let centi = whole * 100 + frac * 10u64.pow(2 - frac_len as u32);
        return Some(Millis::Centi(centi as u32));
    }
    if frac_len == 0 {
        return Some(Millis::Other(whole as f64));
    }
    // Numerator and power of ten are both exact, so one division rounds correctly: the same
    // value `str::parse` gives.
    let scale = 10u64.pow(frac_len as u32);
    Some(Millis::Other((whole * scale + frac) as f64 / scale as f64))
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
    fn error_words_are_found_wherever_they_are_in_lines_of_any_length() {
        fn by_every_position(line: &[u8]) -> bool {
            (0..line.len()).any(|p| starts_error_word(&line[p..]))
        }
        let pieces: [&[u8]; 12] = [
            b"ERROR",
            b"ERRO",
            b"Exception",
            b"Ex",
            b"FATAL",
            b"FA",
            b"Failed",
            b"Fa",
            b"E",
            b"F",
            b"GET /x",
            b" - ",
        ];
        let mut rng = fastrand::Rng::with_seed(12);
        for _ in 0..20_000 {
            let mut line = Vec::new();
            while line.len() < rng.usize(0..120) {
                if rng.bool() {
                    line.extend_from_slice(pieces[rng.usize(..pieces.len())]);
                } else {
                    line.push(rng.u8(b'A'..=b'z'));
                }
            }
            assert_eq!(
                has_error_word(&line),
                by_every_position(&line),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    #[test]
    fn latencies_with_two_decimals_or_fewer_are_read_in_hundredths() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..100_000 {
            let digits = rng.u32(1..=9);
            let whole = rng.u64(..10u64.pow(digits));
            let decimals = rng.usize(0..=4);
            let mut text = whole.to_string();
            if decimals > 0 || rng.bool() {
                text.push('.');
            }
            for _ in 0..decimals {
                text.push(char::from(b'0' + rng.u8(0..10)));
            }
            let want: f64 = text.trim_end_matches('.').parse().unwrap();
            let read = read_milliseconds(format!("{text}ms").as_bytes()).unwrap();
            assert_eq!(read.value(), want, "{text}");
            let centi = decimals <= 2 && whole < 10_000_000;
            assert_eq!(matches!(read, Millis::Centi(_)), centi, "{text}");
        }
        assert_eq!(read_milliseconds(b"145.32ms"), Some(Millis::Centi(14532)));
        assert_eq!(read_milliseconds(b"7.ms"), Some(Millis::Centi(700)));
        assert_eq!(read_milliseconds(b"0.5ms"), Some(Millis::Centi(50)));
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
