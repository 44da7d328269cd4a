//! The time a log line says it was written, read without allocating and without trusting the
//! line: anything malformed is `None`. Used to recognise a backfill of old logs from an object's
//! first lines ([`crate::ParseOptions::backfill_before`]), so it runs on a few lines per object,
//! never on every line.
//!
//! Each format's module knows where its time sits in a line (`original::line_time`,
//! `alb::line_time`, `combined::line_time`, `json::line_time`); this module reads the shapes they
//! share: `YYYY-MM-DD[T ]HH:MM:SS[.fraction]` with a zone, numeric UTC offsets, and epoch numbers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use crate::{alb, combined, json, original, Format};

/// The time `line` (without its newline) was written, in `format`'s own notation; `None` when
/// the line carries none that can be read.
pub fn line_time(format: Format, line: &[u8]) -> Option<DateTime<Utc>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match format {
        Format::Original => original::line_time(line),
        Format::Alb => alb::line_time(line),
        Format::Combined => combined::line_time(line),
        Format::Json => json::line_time(line),
    }
}

/// Whether a zone is required after the time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// `Z` or a numeric offset must follow (RFC 3339).
    Required,
    /// With neither, the time is taken as UTC.
    UtcIfAbsent,
}

/// All of `text` as `YYYY-MM-DD`, `T` (or `t`, or a space), `HH:MM:SS`, an optional fraction of
/// a second, then a zone: `Z` (or `z`), `±HH:MM` or `±HHMM`.
pub(crate) fn iso8601(text: &[u8], zone: Zone) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(
        digits(text, 0, 4)? as i32,
        digits(text, 5, 2)?,
        digits(text, 8, 2)?,
    )?;
    if text.get(4) != Some(&b'-')
        || text.get(7) != Some(&b'-')
        || !matches!(text.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (time, rest) = time_of_day(text.get(11..)?)?;
    let local = date.and_time(time);
    let offset_seconds = match rest {
        [] if zone == Zone::UtcIfAbsent => 0,
        [b'Z' | b'z'] => 0,
        _ => utc_offset(rest)?,
    };
    to_utc(local, offset_seconds)
}

/// `HH:MM:SS` and an optional `.fraction` at the start of `text`; the time and what follows.
/// Digits of the fraction past nanoseconds are read and ignored.
pub(crate) fn time_of_day(text: &[u8]) -> Option<(chrono::NaiveTime, &[u8])> {
    if text.get(2) != Some(&b':') || text.get(5) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (
        digits(text, 0, 2)?,
        digits(text, 3, 2)?,
        digits(text, 6, 2)?,
    );
    let mut rest = &text[8..];
    let mut nanos = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let kept = len.min(9);
        nanos = digits(fraction, 0, kept)? * 10u32.pow((9 - kept) as u32);
        rest = &fraction[len..];
    }
    Some((
        chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?,
        rest,
    ))
}

/// All of `text` as `+HH:MM`, `-HH:MM`, `+HHMM` or `-HHMM`: seconds east of UTC.
pub(crate) fn utc_offset(text: &[u8]) -> Option<i32> {
    let (sign, rest) = match text.split_first()? {
        (b'+', rest) => (1, rest),
        (b'-', rest) => (-1, rest),
        _ => return None,
    };
    let minutes_at = match rest.len() {
        5 if rest[2] == b':' => 3,
        4 => 2,
        _ => return None,
    };
    let (hours, minutes) = (digits(rest, 0, 2)?, digits(rest, minutes_at, 2)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60) as i32)
}

/// A local time at `offset_seconds` east of UTC, as UTC; `None` past chrono's range.
pub(crate) fn to_utc(local: NaiveDateTime, offset_seconds: i32) -> Option<DateTime<Utc>> {
    local
        .checked_sub_signed(TimeDelta::seconds(i64::from(offset_seconds)))
        .map(|utc| utc.and_utc())
}

/// Above this an epoch number is taken as milliseconds: 1e11 seconds is the year 5138, while
/// 1e11 milliseconds is 1973, before any log this reads.
const EPOCH_MILLIS_ABOVE: f64 = 1e11;

/// Below this a number is not taken as a time at all (1e9 seconds is September 2001): a small
/// number under a time-like key is more likely a duration than a date in 1970, and taking it
/// for one would drop the whole object as a backfill.
const EPOCH_SECONDS_FROM: f64 = 1e9;

/// A Unix time in seconds, or in milliseconds when above [`EPOCH_MILLIS_ABOVE`]. Negative,
/// small (before [`EPOCH_SECONDS_FROM`]), infinite or out-of-range numbers are no time.
pub(crate) fn epoch(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() || value < EPOCH_SECONDS_FROM {
        return None;
    }
    if value > EPOCH_MILLIS_ABOVE {
        // `as` saturates, and chrono refuses what it cannot represent.
        return DateTime::from_timestamp_millis(value.trunc() as i64);
    }
    let whole = value.trunc();
    let nanos = (((value - whole) * 1e9) as u32).min(999_999_999);
    DateTime::from_timestamp(whole as i64, nanos)
}

/// Exactly `len` ASCII digits at `text[at..]`, as a number (`len` ≤ 9, so it cannot overflow).
#[inline]
pub(crate) fn digits(text: &[u8], at: usize, len: usize) -> Option<u32> {
    let field = text.get(at..at.checked_add(len)?)?;
    field.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn iso8601_reads_zones_and_fractions() {
        let base = utc(2024, 12, 8, 12, 34, 56);
        let cases: [(&str, Zone, DateTime<Utc>); 7] = [
            ("2024-12-08T12:34:56Z", Zone::Required, base),
            (
                "2024-12-08T12:34:56.123456Z",
                Zone::Required,
                base + TimeDelta::microseconds(123_456),
            ),
            (
                "2024-12-08t12:34:56.1234567891234z",
                Zone::Required,
                base + TimeDelta::nanoseconds(123_456_789),
            ),
            ("2024-12-08T14:34:56+02:00", Zone::Required, base),
            ("2024-12-08T07:04:56-0530", Zone::Required, base),
            ("2024-12-08 12:34:56", Zone::UtcIfAbsent, base),
            (
                "2024-12-08 12:34:56.789",
                Zone::UtcIfAbsent,
                base + TimeDelta::milliseconds(789),
            ),
        ];
        for (text, zone, want) in cases {
            assert_eq!(iso8601(text.as_bytes(), zone), Some(want), "{text}");
        }
    }

    #[test]
    fn iso8601_rejects_what_is_not_a_time() {
        for (text, zone) in [
            ("2024-12-08 12:34:56", Zone::Required),
            ("2024-12-08T12:34:56.Z", Zone::Required),
            ("2024-12-08T12:34:56Zjunk", Zone::Required),
            ("2024-12-08T12:34:56+24:00", Zone::Required),
            ("2024-12-08T12:34:56+02:0", Zone::Required),
            ("2024-02-30T12:34:56Z", Zone::Required),
            ("2024-12-08T25:00:00Z", Zone::Required),
            ("2024-12-08T12:60:00Z", Zone::Required),
            ("2024-12-08T12:34:60Z", Zone::Required),
            ("2024-12-08X12:34:56Z", Zone::Required),
            ("2024/12/08T12:34:56Z", Zone::Required),
            ("2024-12-08T12:34", Zone::UtcIfAbsent),
            ("2024-1a-08T12:34:56Z", Zone::Required),
            ("+024-12-08T12:34:56Z", Zone::Required),
            ("2024-12-08T12:34:56 ", Zone::UtcIfAbsent),
            ("", Zone::UtcIfAbsent),
            ("2", Zone::UtcIfAbsent),
        ] {
            assert_eq!(iso8601(text.as_bytes(), zone), None, "{text:?}");
        }
    }

    #[test]
    fn epoch_numbers_are_seconds_or_milliseconds() {
        let base = utc(2024, 12, 8, 12, 34, 56);
        let secs = base.timestamp() as f64;
        assert_eq!(epoch(secs), Some(base));
        assert_eq!(epoch(secs + 0.5), Some(base + TimeDelta::milliseconds(500)));
        assert_eq!(
            epoch(secs * 1000.0 + 250.0),
            Some(base + TimeDelta::milliseconds(250))
        );
        // A small number (a duration under a key named `ts`) is no time, not 1970.
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -1.0,
            0.0,
            0.25,
            42.0,
            999_999_999.0,
            1e300,
            f64::MAX,
        ] {
            assert_eq!(epoch(bad), None, "{bad}");
        }
    }

    const ORIGINAL: &str =
        "[2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms";
    const ALB: &str = r#"https 2024-12-08T12:34:56.123456Z app/lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "-" 1 2024-12-08T12:34:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1"#;
    const COMBINED: &str = r#"127.0.0.1 - frank [08/Dec/2024:05:34:56 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08" 0.123"#;
    const JSON: &str =
        r#"{"ts":"2024-12-08T12:34:56.789Z","level":"info","status":200,"duration_ms":3.5}"#;

    fn at(ms: i64) -> DateTime<Utc> {
        utc(2024, 12, 8, 12, 34, 56) + TimeDelta::milliseconds(ms)
    }

    #[test]
    fn each_format_reads_its_own_line_time() {
        let cases = [
            (Format::Original, ORIGINAL, at(789)),
            (Format::Alb, ALB, at(0) + TimeDelta::microseconds(123_456)),
            (Format::Combined, COMBINED, at(0)),
            (Format::Json, JSON, at(789)),
        ];
        for (format, line, want) in cases {
            assert_eq!(line_time(format, line.as_bytes()), Some(want), "{format}");
            let crlf = format!("{line}\r");
            assert_eq!(
                line_time(format, crlf.as_bytes()),
                Some(want),
                "{format} CRLF"
            );
        }
    }

    #[test]
    fn original_time_has_no_zone_and_is_taken_as_utc() {
        let line = b"[2024-12-08 12:34:56] ERROR - something broke";
        assert_eq!(line_time(Format::Original, line), Some(at(0)));
        let with_zone = b"[2024-12-08T13:34:56+01:00] INFO - GET / - status: 200";
        assert_eq!(line_time(Format::Original, with_zone), Some(at(0)));
    }

    #[test]
    fn combined_time_applies_its_offset_in_every_month() {
        for (n, month) in [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .iter()
        .enumerate()
        {
            let line = format!(
                r#"1.2.3.4 - - [01/{month}/2024:00:30:00 +0100] "GET / HTTP/1.1" 200 1 "-" "ua""#
            );
            let want = utc(2024, n as u32 + 1, 1, 0, 30, 0) - TimeDelta::hours(1);
            assert_eq!(
                line_time(Format::Combined, line.as_bytes()),
                Some(want),
                "{month}"
            );
        }
    }

    #[test]
    fn json_time_comes_from_the_preferred_key_as_text_or_epoch() {
        let secs = at(0).timestamp();
        let cases = [
            (
                r#"{"time":"2024-12-08T12:34:56Z","ts":1}"#.to_string(),
                Some(at(0)),
            ),
            (
                r#"{"ts":1,"timestamp":"2024-12-08T13:34:56+01:00"}"#.to_string(),
                Some(at(0)),
            ),
            (
                r#"{"@timestamp":"2024-12-08T12:34:56.250Z"}"#.to_string(),
                Some(at(250)),
            ),
            (format!(r#"{{"ts":{secs}.5,"msg":"x"}}"#), Some(at(500))),
            (format!(r#"{{"time":{}}}"#, secs * 1000 + 42), Some(at(42))),
            // A key that holds no time leaves the choice to the next one.
            (format!(r#"{{"time":"soon","ts":{secs}}}"#), Some(at(0))),
            (
                format!(r#"{{"time":null,"ts":[1],"nested":{{"time":{secs}}}}}"#),
                None,
            ),
            // No zone: any zone's time, so none.
            (r#"{"time":"2024-12-08T12:34:56"}"#.to_string(), None),
            (format!(r#"{{"Time":{secs}}}"#), None),
            (format!(r#"{{"ts":-{secs}}}"#), None),
            (r#"{"status":200}"#.to_string(), None),
        ];
        for (line, want) in cases {
            assert_eq!(line_time(Format::Json, line.as_bytes()), want, "{line}");
        }
    }

    #[test]
    fn a_line_cut_anywhere_before_its_time_ends_has_no_time() {
        // Where each sample's time ends: a cut before there leaves no time; after it the time
        // is whole and still read (JSON needs the whole object).
        let cases = [
            (Format::Original, ORIGINAL, ORIGINAL.find(']').unwrap() + 1),
            (Format::Alb, ALB, ALB.find("Z ").unwrap() + 1),
            (Format::Combined, COMBINED, COMBINED.find(']').unwrap() + 1),
            (Format::Json, JSON, JSON.len()),
        ];
        for (format, line, time_end) in cases {
            let whole = line_time(format, line.as_bytes());
            for cut in 0..line.len() {
                let got = line_time(format, &line.as_bytes()[..cut]);
                let want = if cut >= time_end { whole } else { None };
                assert_eq!(got, want, "{format} cut at {cut}");
            }
        }
    }

    #[test]
    fn garbage_has_no_time_and_never_panics() {
        let garbage: [&[u8]; 14] = [
            b"",
            b"[",
            b"[]",
            b"[2024-12-08 12:34:56.",
            b"[9999-99-99 99:99:99] INFO",
            b"https  2024-12-08T12:34:56Z",
            b"https 2024-12-08T12:34:56.123456",
            b"x [32/Dec/2024:00:00:00 +0000]",
            b"x [01/Dez/2024:00:00:00 +0000]",
            b"x [01/Dec/2024:00:00:00 0000]",
            b"x [01/Dec/2024:00:00:00]",
            b"{\"ts\":1e999}",
            b"{\"time\":\"2024-12-08T12:34:56Z\"",
            b"\xff\xfe[\x00\x01]{\"ts\":\"\xff\"}",
        ];
        for line in garbage {
            for format in Format::ALL {
                assert_eq!(line_time(format, line), None, "{format} {line:?}");
            }
        }
        // Random bytes, and valid lines with one byte changed: whatever comes back, no panic.
        let mut rng = fastrand::Rng::with_seed(8);
        for _ in 0..2000 {
            let len = rng.usize(..120);
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            for format in Format::ALL {
                let _ = line_time(format, &bytes);
            }
        }
        for (format, line) in [
            (Format::Original, ORIGINAL),
            (Format::Alb, ALB),
            (Format::Combined, COMBINED),
            (Format::Json, JSON),
        ] {
            for at in 0..line.len().min(60) {
                for byte in [b'0', b'9', b' ', b']', b'[', b'+', b'-', b':', b'"', 0xff] {
                    let mut mutated = line.as_bytes().to_vec();
                    mutated[at] = byte;
                    let _ = line_time(format, &mutated);
                }
            }
        }
    }

    #[test]
    fn offsets_carry_across_the_year_and_absurd_epochs_are_none() {
        assert_eq!(
            iso8601(b"2024-12-31T23:30:00-01:00", Zone::Required),
            Some(utc(2025, 1, 1, 0, 30, 0))
        );
        assert_eq!(epoch(9.2e18), None);
    }

    #[test]
    fn digits_never_reads_past_the_text() {
        assert_eq!(digits(b"2024", 0, 4), Some(2024));
        assert_eq!(digits(b"2024", 1, 4), None);
        assert_eq!(digits(b"20x4", 0, 4), None);
        assert_eq!(digits(b"1", usize::MAX, 2), None);
    }
}
