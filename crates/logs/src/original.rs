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
//! This is the hot path. A line as the format writes it (`status`, then ` - response_time`)
//! costs one SIMD search for `status`, one pass over the text before it and a read of the rest
//! in place (`parse_lines` for a chunk of lines, `in_written_order` for one line); any
//! other line one search per field and one pass for the error words, with the same result
//! (the tests hold the two to it). No allocation per line (a summary's latency table is set up
//! once, see `summary::Latencies`).

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
    let read = read_line(line, options.errors.resolve(ErrorRule::Words));
    count(read, line, options, summary);
}

#[inline(always)]
fn count(read: Line, line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
    match read {
        Line::Request { status, ms, error } => match ms {
            Millis::Centi(centi) => {
                summary.add_request_centi_ms(Some(status), centi, error, options.slow_ms)
            }
            Millis::Other(ms) => count_request(summary, options, Some(status), Some(ms), error),
        },
        Line::NonRequest => summary.non_request += 1,
        Line::Unparsed => summary.note_unparsed("not_original_format", line),
    }
}

/// Folds the complete lines of `text`, which starts at the start of a line, into `summary`
/// as [`crate::Format::parse_line`] folds each one; returns how many bytes they took (up to
/// and including the last newline; what follows is the start of a line still to come).
///
/// Made for a chunk of many lines: for a line as the format writes it, the search for the next
/// `status` runs through the chunk, one pass over the text before it finds any newline,
/// `response_time` or error word there, and the rest is read in place up to its newline
/// ([`next_in_written_order`]); the line is not first cut out with a search of its own. Any
/// other line is cut out and read field by field, starting from the `status` already found (or
/// knowing there is none), so that it costs no more searches than a line read on its own.
pub(crate) fn parse_lines(text: &[u8], options: &ParseOptions, summary: &mut LogSummary) -> usize {
    let rule = options.errors.resolve(ErrorRule::Words);
    let mut start = 0;
    // The first `status` at or after `start` (`text.len()` when none): searched for again only
    // once `start` has passed it, so lines without one cost no search through the rest of
    // `text` each.
    let mut status_at = find_status(text, 0);
    loop {
        if status_at < start {
            status_at = find_status(text, start);
        }
        let in_written_order = if status_at < text.len() {
            next_in_written_order(text, start, status_at, rule)
        } else {
            Err(None)
        };
        // One place that counts a line, for either way of reading it: the counting is then
        // compiled in once, inline, as in a loop over single lines.
        let (read, line_end, next_start) = match in_written_order {
            Ok((read, newline)) => (Some(read), newline, newline + 1),
            Err(value_read) => {
                let Some(newline) = memchr::memchr(b'\n', &text[start..]) else {
                    return start;
                };
                // What `Format::parse_line` does around `parse_line`, with the line's first
                // `status` known: a `status` never holds the `\r` cut off here, nor is its
                // line blank.
                let line = &text[start..start + newline];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let first_status = (status_at < start + newline).then(|| status_at - start);
                let read = (first_status.is_some() || !line.iter().all(u8::is_ascii_whitespace))
                    .then(|| {
                        // The value read after `status` is this line's when the `status` is.
                        let status = first_status.map(|at| (at, value_read));
                        by_fields(line, status, rule)
                    });
                (read, start + line.len(), start + newline + 1)
            }
        };
        summary.lines += 1;
        if let Some(read) = read {
            count(read, &text[start..line_end], options, summary);
        }
        start = next_start;
    }
}

fn find_status(text: &[u8], from: usize) -> usize {
    STATUS
        .find(&text[from..])
        .map_or(text.len(), |at| from + at)
}

/// The line that starts at `text[start]` when its first `status` is the one at `status_at`
/// and it is a request as the format writes it ([`written_fields`]), with the index of its
/// newline. For any other line, and a line whose newline is not in `text`, the status value
/// after `status_at` when it was read on the way (`Err(None)`: not read).
#[inline]
fn next_in_written_order(
    text: &[u8],
    start: usize,
    status_at: usize,
    (by_words, by_status): (bool, bool),
) -> Result<(Line, usize), Option<u16>> {
    // The few bytes after `status` first: a line of another shape is turned away before the
    // pass over the text before `status`.
    let (status, after_value) = status_value(&text[status_at + b"status".len()..]).ok_or(None)?;
    let (ms, after_latency) = latency_after_status(after_value).ok_or(Some(status))?;
    let words_before = words_unless_newline_or_response_time(&text[start..status_at], by_words)
        .ok_or(Some(status))?;
    let tail = match after_latency.first() {
        Some(b'\n') => 0,
        _ => memchr::memchr(b'\n', after_latency).ok_or(Some(status))?,
    };
    let error = (by_status && status >= 500)
        || (by_words && (words_before || has_error_word(&after_latency[..tail])));
    let newline = text.len() - after_latency.len() + tail;
    Ok((Line::Request { status, ms, error }, newline))
}

/// After the first `status` of a line: separators, three digits, ` - response_time`,
/// separators and a latency, none of them running into a next line. The status, the latency
/// and the text after it; `None` for any other text.
///
/// The `response_time` read here is the line's first when none comes before `status`: one
/// that began earlier could not end inside this one (the name cannot overlap itself, its first
/// letter is not its last) nor inside `status` (no end of the name starts it). The error words
/// can be looked for only before `status` and after the latency: none has an `s` (so none runs
/// into `status`), and the text in between has no capital `E` or `F` (so none starts there).
#[inline(always)]
fn written_fields(after_status: &[u8]) -> Option<(u16, Millis, &[u8])> {
    let (status, after_value) = status_value(after_status)?;
    let (ms, after_latency) = latency_after_status(after_value)?;
    Some((status, ms, after_latency))
}

/// The first half of [`written_fields`]: separators and three digits, the status, and the text
/// after them. What [`field_after`] reads for the `status` these follow, when they are there.
#[inline(always)]
fn status_value(after_status: &[u8]) -> Option<(u16, &[u8])> {
    let value = separators_in_line(after_status)?;
    Some((three_digits(value)?, &value[3..]))
}

/// The second half of [`written_fields`]: ` - response_time`, separators and a latency.
#[inline(always)]
fn latency_after_status(after_value: &[u8]) -> Option<(Millis, &[u8])> {
    let name = after_value.strip_prefix(b" - ")?;
    let value = separators_in_line(name.strip_prefix(b"response_time")?)?;
    let (ms, len) = read_milliseconds(value)?;
    Some((ms, &value[len..]))
}

/// [`after_separators`] that stops at a newline: the separators of a field may not run into
/// the next line (a line read on its own ends there). `None` also when they reach it.
#[inline]
fn separators_in_line(text: &[u8]) -> Option<&[u8]> {
    // Separators up to a newline: when one ends them, they would have run into it. (A byte
    // loop: the separators are a byte or two, too few for a `memchr` call.)
    let skipped = text
        .iter()
        .take_while(|b| **b == b':' || (b.is_ascii_whitespace() && **b != b'\n'))
        .count();
    (skipped > 0 && text.get(skipped) != Some(&b'\n')).then(|| &text[skipped..])
}

/// `None` when `text` has a newline or a `response_time`; else whether it has an error word
/// (looked for only when `by_words`). The same blocks as [`has_error_word`], with a newline and
/// a `_t` pair added to what a block is tested for; only the flagged positions of a block that
/// has one are looked at further, so a `_` elsewhere (`/cart_items`) costs nothing.
#[inline]
fn words_unless_newline_or_response_time(text: &[u8], by_words: bool) -> Option<bool> {
    // Two loops, each with its tests fixed: the one block loop cost more per block when it
    // decided per block whether to look for error words.
    if by_words {
        block_scan::<true>(text)
    } else {
        block_scan::<false>(text).map(|_| false)
    }
}

/// [`words_unless_newline_or_response_time`], looking for error words when `WORDS`.
#[inline(always)]
fn block_scan<const WORDS: bool>(text: &[u8]) -> Option<bool> {
    #[inline(always)]
    fn flagged<const WORDS: bool>(first: u8, second: u8) -> bool {
        (first == b'\n')
            | ((first == b'_') & (second == b't'))
            | (WORDS & opens_error_word(first, second))
    }
    // A flagged position that turns the line away: a newline, or the `_` of `response_time`.
    let stops_at = |p: usize| {
        text[p] == b'\n'
            || (text[p] == b'_'
                && text[..p].ends_with(b"response")
                && text[p + 1..].starts_with(b"time"))
    };
    let mut words = false;
    if text.len() <= BLOCK {
        for p in 0..text.len() {
            if stops_at(p) {
                return None;
            }
            words |= WORDS && !words && starts_error_word(&text[p..]);
        }
        return Some(words);
    }
    // The blocks test the first BLOCK bytes of their window: the text's last byte is only in
    // the last window's, past them.
    if text.last() == Some(&b'\n') {
        return None;
    }
    let mut block_at = 0;
    loop {
        // The final block overlaps the one before it rather than reading past the text.
        block_at = block_at.min(text.len() - BLOCK - 1);
        let window: &[u8; BLOCK + 1] = text[block_at..block_at + BLOCK + 1]
            .try_into()
            .expect("a window of BLOCK + 1 bytes");
        let mut found = false;
        for k in 0..BLOCK {
            found |= flagged::<WORDS>(window[k], window[k + 1]);
        }
        if found {
            let mut flagged_bytes = [0u8; BLOCK];
            for k in 0..BLOCK {
                flagged_bytes[k] = u8::from(flagged::<WORDS>(window[k], window[k + 1]));
            }
            let mut flags = bits_of_flag_bytes(flagged_bytes);
            while flags != 0 {
                let p = block_at + flags.trailing_zeros() as usize;
                flags &= flags - 1;
                if stops_at(p) {
                    return None;
                }
                words |= WORDS && !words && starts_error_word(&text[p..]);
            }
        }
        if block_at + BLOCK + 1 == text.len() {
            return Some(words);
        }
        block_at += BLOCK;
    }
}

/// Bit `k` set when byte `k` of `flags` (each 0 or 1) is 1. Portable: each half of eight bytes
/// is gathered into its top byte by one multiplication (bytes of 0 or 1 never carry).
#[inline(always)]
fn bits_of_flag_bytes(flags: [u8; BLOCK]) -> u32 {
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let half = |at: usize| {
        let bytes: [u8; 8] = flags[at..at + 8].try_into().expect("eight bytes");
        (u64::from_le_bytes(bytes).wrapping_mul(GATHER) >> 56) as u32
    };
    half(0) | half(8) << 8
}

/// What one non-blank line is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Line {
    Request {
        status: u16,
        ms: Millis,
        error: bool,
    },
    NonRequest,
    Unparsed,
}

/// Reads one line; `(by_words, by_status)` is the error rule ([`ErrorRule::resolve`]).
///
/// Lines as the format writes them (`status` first, then ` - response_time`) are read from one
/// search ([`written_fields`]); any other line by a search per field ([`by_fields`]), which
/// gives the same answer for every line.
#[inline]
fn read_line(line: &[u8], (by_words, by_status): (bool, bool)) -> Line {
    let first_status = STATUS.find(line);
    if let Some((status, ms, words_before, after_latency)) =
        first_status.and_then(|at| in_written_order(line, at, by_words))
    {
        let error = (by_status && status >= 500)
            || (by_words && (words_before || has_error_word(after_latency)));
        return Line::Request { status, ms, error };
    }
    by_fields(
        line,
        first_status.map(|at| (at, None)),
        (by_words, by_status),
    )
}

/// [`written_fields`] for a line whose first `status` is at `at`, with whether the text before
/// it has an error word (when `by_words`) and the text after the latency.
#[inline]
fn in_written_order(line: &[u8], at: usize, by_words: bool) -> Option<(u16, Millis, bool, &[u8])> {
    let (status, ms, after_latency) = written_fields(&line[at + b"status".len()..])?;
    let words_before = words_unless_newline_or_response_time(&line[..at], by_words)?;
    Some((status, ms, words_before, after_latency))
}

/// Reads one line a field at a time, as the rules say; `first_status` is where the line's
/// first `status` is (`None`: it has none, and so is no request), with the value after it
/// when that was already read ([`status_value`]).
#[inline(always)]
fn by_fields(
    line: &[u8],
    first_status: Option<(usize, Option<u16>)>,
    (by_words, by_status): (bool, bool),
) -> Line {
    let status = first_status.and_then(|(at, value)| {
        value.or_else(|| field_after_from(line, at, &STATUS).and_then(three_digits))
    });
    // A line without a status is no request whatever its response time: not searched for.
    let response_ms = status.and_then(|_| {
        field_after(line, &RESPONSE_TIME)
            .and_then(read_milliseconds)
            .map(|(ms, _)| ms)
    });
    match (status, response_ms) {
        (Some(status), Some(ms)) => {
            let error = (by_status && status >= 500) || (by_words && has_error_word(line));
            Line::Request { status, ms, error }
        }
        _ if has_header(line) => Line::NonRequest,
        _ => Line::Unparsed,
    }
}

/// `text` after its leading separators (`:` and blanks); `None` when it has none.
#[inline]
fn after_separators(text: &[u8]) -> Option<&[u8]> {
    let skipped = text
        .iter()
        .take_while(|b| **b == b':' || b.is_ascii_whitespace())
        .count();
    (skipped > 0).then(|| &text[skipped..])
}

/// `ERROR`, `FATAL`, `Exception` or `Failed` anywhere in the line.
///
/// Every one of the words opens with one of the pairs `ER`, `Ex`, `FA`, `Fa`, which are rare in
/// request lines, while an `E` alone is in every `GET`: so the line is read in blocks of
/// [`BLOCK`] positions, each tested for such a pair at once (plain comparisons the compiler
/// turns into vector instructions), and only a block that has one is looked at word by word.
/// Always inlined: as a call from the chunk reader it cost a tenth of a line's time.
#[inline(always)]
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
            block_opens_error_word(window)
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

/// Whether one of the first [`BLOCK`] positions of `window` opens an error word's pair. A plain
/// loop, always inlined: written as a `fold`, it was at times left a call of its own.
#[inline(always)]
fn block_opens_error_word(window: &[u8; BLOCK + 1]) -> bool {
    let mut any = false;
    for k in 0..BLOCK {
        any |= opens_error_word(window[k], window[k + 1]);
    }
    any
}

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
    field_after_from(line, name.find(line)?, name)
}

/// [`field_after`] for a line whose first `name` is at `first`.
#[inline]
fn field_after_from<'a>(line: &'a [u8], first: usize, name: &Finder<'_>) -> Option<&'a [u8]> {
    let mut at = first;
    loop {
        // An occurrence without separators is skipped whole: the search goes on from its end.
        let end = at + name.needle().len();
        if let Some(value) = after_separators(&line[end..]) {
            return Some(value);
        }
        at = end + name.find(&line[end..])?;
    }
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
    read_milliseconds(text).map(|(ms, _)| ms.value())
}

/// `\d+\.?\d*ms`: digits, an optional fraction, then `ms`, and how many bytes that took.
/// Parsed by hand: the slice is plain ASCII digits, and this runs once per line. Always
/// inlined: as a call, its answer came back through memory and stalled the caller.
#[inline(always)]
fn read_milliseconds(text: &[u8]) -> Option<(Millis, usize)> {
    let (whole, int_len) = leading_digits(text);
    if int_len == 0 {
        return None;
    }
    let (frac, frac_len, end) = match text.get(int_len) {
        Some(b'.') => {
            let (frac, frac_len) = leading_digits(&text[int_len + 1..]);
            (frac, frac_len, int_len + 1 + frac_len)
        }
        _ => (0, 0, int_len),
    };
    if text.get(end..end + 2) != Some(b"ms") {
        return None;
    }
    let len = end + b"ms".len();
    if int_len + frac_len > 15 {
        // Too many digits for the exact integer path; let the standard parser round.
        let ms = std::str::from_utf8(&text[..end]).ok()?.parse().ok()?;
        return Some((Millis::Other(ms), len));
    }
    if int_len <= 7 && frac_len <= 2 {
        // Below 10^9 hundredths: fits a u32.
        let centi = whole * 100 + frac * [100, 10, 1][frac_len];
        return Some((Millis::Centi(centi as u32), len));
    }
    if frac_len == 0 {
        return Some((Millis::Other(whole as f64), len));
    }
    // Numerator and power of ten are both exact, so one division rounds correctly: the same
    // value `str::parse` gives.
    let scale = 10u64.pow(frac_len as u32);
    Some((
        Millis::Other((whole * scale + frac) as f64 / scale as f64),
        len,
    ))
}

/// The value of the ASCII digits `text` starts with (exact up to 19 of them; a longer run's
/// value is not used), and how many there are.
#[inline(always)]
fn leading_digits(text: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (len, b) in text.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return (value, len);
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
    }
    (value, text.len())
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

    /// The rules read the plain way, with no search shortcut: each field after the first
    /// occurrence of its name that separators follow (an occurrence without them is skipped
    /// whole, as before), error words tried at every position of the whole line.
    fn reference(line: &[u8], (by_words, by_status): (bool, bool)) -> Line {
        fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
            let mut from = 0;
            while let Some(at) = line[from..].windows(name.len()).position(|w| w == name) {
                let end = from + at + name.len();
                let skipped = line[end..]
                    .iter()
                    .take_while(|b| **b == b':' || b.is_ascii_whitespace())
                    .count();
                if skipped > 0 {
                    return Some(&line[end + skipped..]);
                }
                from = end;
            }
            None
        }
        let words = (0..line.len()).any(|p| starts_error_word(&line[p..]));
        let status = field(line, b"status").and_then(three_digits);
        let ms = field(line, b"response_time").and_then(read_milliseconds);
        match (status, ms) {
            (Some(status), Some((ms, _))) => Line::Request {
                status,
                ms,
                error: (by_status && status >= 500) || (by_words && words),
            },
            _ if has_header(line) => Line::NonRequest,
            _ => Line::Unparsed,
        }
    }

    /// Lines built from the pieces of the format, fields in any order, repeated, missing, cut
    /// short, at the line's end, with `_`, error words and non-ASCII anywhere.
    fn random_line(rng: &mut fastrand::Rng) -> Vec<u8> {
        const PIECES: [&[u8]; 34] = [
            b"[2024-12-08 12:34:56.789] INFO - ",
            b"[t] ERROR - ",
            b"GET /api/users",
            b"/api/cart_item",
            b" - ",
            b" - status: 200",
            b" - status: 503",
            b"status: ",
            b"status",
            b"statu",
            b"stat",
            b"status:\t",
            b" - response_time: 145.32ms",
            b"response_time: ",
            b"response_time",
            b"response_tim",
            b"response_time 7.ms",
            b"12345678901234567.5ms",
            b"2341.567ms",
            b"20",
            b"404",
            b"ms",
            b":",
            b" ",
            b"_",
            b"ERROR",
            b"Exception",
            b"FATAL",
            b"Failed",
            b"Fa",
            b"E",
            "\u{e9}t\u{e9}".as_bytes(),
            b"\xff\xfe",
            b"\r",
        ];
        let mut line = Vec::new();
        if rng.u8(..4) > 0 {
            // Mostly lines as written, then changed in a few places.
            line.extend_from_slice(PIECES[rng.usize(..2)]);
            line.extend_from_slice(PIECES[rng.usize(2..4)]);
            line.extend_from_slice(PIECES[rng.usize(5..7)]);
            line.extend_from_slice(PIECES[12]);
        }
        for _ in 0..rng.usize(0..6) {
            let piece = PIECES[rng.usize(..PIECES.len())];
            let at = rng.usize(..=line.len());
            match rng.u8(..3) {
                0 => line.splice(at..at, piece.iter().copied()).for_each(drop),
                1 => line.extend_from_slice(piece),
                _ => {
                    let end = rng.usize(at..=line.len());
                    line.drain(at..end);
                }
            }
        }
        line
    }

    #[test]
    fn lines_are_read_as_the_plain_search_reads_them_whatever_the_order_of_their_fields() {
        let mut rng = fastrand::Rng::with_seed(1212);
        let mut in_order = 0;
        for _ in 0..200_000 {
            let line = random_line(&mut rng);
            in_order += usize::from(
                STATUS
                    .find(&line)
                    .and_then(|at| in_written_order(&line, at, true))
                    .is_some(),
            );
            for rule in [(true, false), (false, true), (true, true)] {
                assert_eq!(
                    read_line(&line, rule),
                    reference(&line, rule),
                    "{:?} {rule:?}",
                    String::from_utf8_lossy(&line)
                );
            }
        }
        // Both ways of reading were tried often.
        assert!((20_000..180_000).contains(&in_order), "{in_order}");
    }

    /// What a summary counted, for comparing two ways of reading the same text.
    fn counted(s: &LogSummary) -> impl PartialEq + std::fmt::Debug {
        let sketch = s.latency.sketch();
        (
            [
                s.lines,
                s.requests,
                s.errors,
                s.slow,
                s.timed,
                s.latency_us_sum,
                s.non_request,
                s.unparsed,
                sketch.count() as u64,
            ],
            s.status_counts(),
            s.unparsed_kinds.clone(),
            (sketch.min(), sketch.max(), sketch.sum()),
        )
    }

    #[test]
    fn a_chunk_of_lines_is_read_as_its_lines_are_one_by_one() {
        let mut rng = fastrand::Rng::with_seed(4012);
        let options = [
            ParseOptions::default(),
            ParseOptions {
                errors: ErrorRule::Either,
                ..ParseOptions::default()
            },
        ];
        for _ in 0..30_000 {
            let mut text = Vec::new();
            for _ in 0..rng.usize(1..6) {
                text.extend(random_line(&mut rng));
                // Newlines also where a field's separators or value would be.
                for _ in 0..rng.usize(0..2) {
                    let at = rng.usize(..=text.len());
                    text.insert(at, b'\n');
                }
                text.extend_from_slice(if rng.bool() { b"\n" } else { b"\r\n" });
            }
            if rng.bool() {
                // A line still to come.
                text.extend(random_line(&mut rng));
            }
            for options in &options {
                let mut at_once = LogSummary::default();
                let read = parse_lines(&text, options, &mut at_once);
                let complete = memchr::memrchr(b'\n', &text).map_or(0, |nl| nl + 1);
                let mut one_by_one = LogSummary::default();
                for line in text[..complete]
                    .split(|b| *b == b'\n')
                    .take(text[..complete].iter().filter(|b| **b == b'\n').count())
                {
                    Format::Original.parse_line(line, options, &mut one_by_one);
                }
                let shown = String::from_utf8_lossy(&text);
                assert_eq!(read, complete, "{shown:?}");
                assert_eq!(counted(&at_once), counted(&one_by_one), "{shown:?}");
            }
        }
    }

    #[test]
    fn a_writer_fed_in_chunks_of_any_size_counts_as_its_lines_one_by_one() {
        let mut rng = fastrand::Rng::with_seed(5012);
        let options = ParseOptions::with_format(Format::Original);
        for _ in 0..300 {
            let mut text = Vec::new();
            for _ in 0..rng.usize(1..80) {
                text.extend(random_line(&mut rng));
                text.extend_from_slice(if rng.u8(..8) > 0 { b"\n" } else { b"\r\n" });
            }
            if rng.bool() {
                text.extend(random_line(&mut rng));
            }
            let mut one_by_one = LogSummary::default();
            let lines = text.strip_suffix(b"\n").unwrap_or(&text);
            for line in lines.split(|b| *b == b'\n') {
                Format::Original.parse_line(line, &options, &mut one_by_one);
            }
            let mut writer = crate::SummaryWriter::new(options.clone());
            let mut rest = &text[..];
            while !rest.is_empty() {
                let (chunk, after) = rest.split_at(rng.usize(1..=rest.len().min(600)));
                writer.consume(chunk);
                rest = after;
            }
            let (in_chunks, _) = writer.finish();
            assert_eq!(
                counted(&in_chunks),
                counted(&one_by_one),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    /// The pass before `status` turns a line away only for a newline or a `response_time`
    /// (a `_` elsewhere, as in `/cart_items`, keeps it on the fast path), at every position
    /// and across the edges of its blocks, and finds the error words the plain search finds.
    #[test]
    fn the_text_before_status_is_turned_away_only_for_a_newline_or_a_response_time() {
        let plain = |text: &[u8], by_words: bool| {
            let has = |name: &[u8]| text.windows(name.len()).any(|w| w == name);
            (!has(b"\n") && !has(b"response_time"))
                .then(|| by_words && (0..text.len()).any(|p| starts_error_word(&text[p..])))
        };
        let pieces: [&[u8]; 12] = [
            b"response_time",
            b"response_tim",
            b"esponse_time",
            b"_time",
            b"cart_items",
            b"_t",
            b"\n",
            b"ERROR",
            b"Failed",
            b"FA",
            b"_",
            b"response_time: 9ms - ",
        ];
        let mut fast = 0;
        for len in 0..50 {
            for piece in pieces {
                for at in 0..=len {
                    let mut text: Vec<u8> = (0..len).map(|i| b"GET /api/x-"[i % 11]).collect();
                    text.splice(at..at, piece.iter().copied());
                    for by_words in [false, true] {
                        let read = words_unless_newline_or_response_time(&text, by_words);
                        assert_eq!(
                            read,
                            plain(&text, by_words),
                            "{:?}",
                            String::from_utf8_lossy(&text)
                        );
                        fast += usize::from(read.is_some());
                    }
                }
            }
        }
        // `_` alone, `cart_items`, `_time` and the rest were all read on the fast path.
        assert!(fast > 12_000, "{fast}");
        assert_eq!(
            words_unless_newline_or_response_time(b"[t] INFO - GET /api/cart_items - ", true),
            Some(false)
        );
    }

    #[test]
    fn written_order_lines_are_checked_for_what_would_change_their_reading() {
        let by_words = (true, false);
        let request = |status, centi, error| Line::Request {
            status,
            ms: Millis::Centi(centi),
            error,
        };
        for (line, want) in [
            // an earlier `response_time` is the one the rules read
            (
                "[t] INFO - GET /response_time: 9ms - status: 200 - response_time: 5ms",
                request(200, 900, false),
            ),
            // so is an earlier `status`, even with no separator after it
            (
                "[t] INFO - GET /statustatus: 201 - response_time: 5ms",
                Line::NonRequest,
            ),
            (
                "[t] INFO - GET /x - status: 200 - response_time: 5ms - Failed",
                request(200, 500, true),
            ),
            (
                "[t] FATAL - GET /x - status: 200 - response_time: 5ms",
                request(200, 500, true),
            ),
            (
                "[t] INFO - GET /x - status: 200 - response_time: 5msERROR",
                request(200, 500, true),
            ),
            (
                "[t] INFO - GET /x_y - status: 200 - response_time: 5ms",
                request(200, 500, false),
            ),
        ] {
            assert_eq!(read_line(line.as_bytes(), by_words), want, "{line}");
            assert_eq!(
                reference(line.as_bytes(), by_words),
                want,
                "{line} (reference)"
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
            let (read, len) = read_milliseconds(format!("{text}ms").as_bytes()).unwrap();
            assert_eq!(len, text.len() + 2, "{text}");
            assert_eq!(read.value(), want, "{text}");
            let centi = decimals <= 2 && whole < 10_000_000;
            assert_eq!(matches!(read, Millis::Centi(_)), centi, "{text}");
        }
        assert_eq!(
            read_milliseconds(b"145.32ms - x"),
            Some((Millis::Centi(14532), 8))
        );
        assert_eq!(read_milliseconds(b"7.ms"), Some((Millis::Centi(700), 4)));
        assert_eq!(read_milliseconds(b"0.5ms"), Some((Millis::Centi(50), 5)));
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
