//! logscale's log engine: log text → [`LogSummary`], streaming and pure.
//!
//! Bytes arrive in chunks of any size (an S3 body, a local file, stdin). [`SummaryWriter`] is a
//! [`std::io::Write`] sink that cuts them into lines, keeping at most one partial line between
//! chunks, and hands each line to the object's format. With `auto`, the format is detected from
//! the object's first lines ([`detect`]). [`ObjectSink`] takes an object's raw bytes, recognizes
//! gzip by its first two bytes (or is told the encoding) and decodes while it parses, so no
//! object is ever held in memory whole; a stream that breaks off is a [`DecodeError`], and what
//! was decoded before it still counts. [`ParseOptions::max_object_bytes`] caps the text decoded
//! from one object, so a gzip bomb stops at the cap rather than after its last byte.
//! [`ParseOptions::backfill_before`] recognises an object of old logs (a shipper replaying a
//! backlog, old files copied in) by the time written in its first lines: reading stops there,
//! and the object counts only in [`LogSummary::backfill_objects`].
//!
//! This crate has no AWS or async dependency: the main `logscale` crate depends on it and
//! re-exports it (as `logscale::parse`), and the fuzz targets and the benchmarks build against
//! it alone.
//!
//! - [`original`]: `[ts] LEVEL - METHOD PATH - status: N - response_time: Xms`.
//! - [`alb`]: Application Load Balancer access logs.
//! - [`combined`]: nginx / Apache combined, with an optional trailing request time.
//! - [`json`]: JSON lines with a configurable mapping.
//! - [`detect`]: picks an object's format from its first lines.
//! - [`timestamp`]: the time a line says it was written ([`line_time`]), for the backfill check.
//! - [`summary`]: the counts one window yields, mergeable exactly; percentiles from a mergeable
//!   sketch.
//! - [`stored`]: one object's summary as stored bytes (versioned JSON, read plain or gzip),
//!   decoded defensively, so that objects summarised apart merge later.
//! - [`loggen`]: sample logs in every format, for demos, tests and benchmarks.

pub mod alb;
pub mod combined;
pub mod detect;
pub mod json;
pub mod loggen;
pub mod original;
pub mod stored;
pub mod summary;
pub mod timestamp;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use stored::{SourceObject, StoredSummary, SummaryError};
pub use summary::LogSummary;
pub use timestamp::line_time;

/// Lines longer than this are counted as unparsed and skipped, so one runaway line cannot make
/// memory grow with the input.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How many leading lines (at most [`DETECT_BYTES`]) `auto` looks at to pick a format.
pub const DETECT_LINES: usize = 16;
pub const DETECT_BYTES: usize = 64 * 1024;

/// How many leading non-blank lines [`ParseOptions::backfill_before`] tries for a time. Every
/// format writes one on each line, so the first line normally decides; the rest allow for a
/// header or a stray line. An object with no readable time in them is not a backfill.
pub const BACKFILL_CHECK_LINES: usize = 16;

/// A log format logscale reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Also what `auto` falls back to when no format recognizes an object's first lines.
    #[default]
    Original,
    Alb,
    Combined,
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Original,
        Format::Alb,
        Format::Combined,
        Format::Json,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Original => "original",
            Format::Alb => "alb",
            Format::Combined => "combined",
            Format::Json => "json",
        }
    }

    /// Folds one line (without its newline) into `summary`.
    #[inline]
    pub fn parse_line(self, line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
        summary.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match self {
            Format::Original => original::parse_line(line, options, summary),
            Format::Alb => alb::parse_line(line, options, summary),
            Format::Combined => combined::parse_line(line, options, summary),
            Format::Json => json::parse_line(line, options, summary),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `auto` or one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    #[default]
    Auto,
    Fixed(Format),
}

impl FromStr for FormatChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(FormatChoice::Auto),
            other => Format::ALL
                .into_iter()
                .find(|f| f.name() == other)
                .map(FormatChoice::Fixed)
                .ok_or_else(|| "expected auto, original, alb, combined or json".to_string()),
        }
    }
}

/// Which requests count as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorRule {
    /// The format's own rule: the original's error words for the original format, status ≥ 500
    /// for ALB and combined logs, an error level or status ≥ 500 for JSON.
    #[default]
    Auto,
    /// Level words only (`ERROR`, `FATAL`, `Exception`, `Failed` in the line; the level field in
    /// JSON).
    Words,
    /// HTTP status ≥ 500 only (and, for ALB, a request that got no response).
    Status,
    /// Either of the two.
    Either,
}

impl FromStr for ErrorRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ErrorRule::Auto),
            "words" => Ok(ErrorRule::Words),
            "status" => Ok(ErrorRule::Status),
            "either" => Ok(ErrorRule::Either),
            _ => Err("expected auto, words, status or either".into()),
        }
    }
}

impl ErrorRule {
    /// (use words, use status) for a format whose own rule is `default`.
    #[inline]
    pub(crate) fn resolve(self, default: ErrorRule) -> (bool, bool) {
        match if self == ErrorRule::Auto {
            default
        } else {
            self
        } {
            ErrorRule::Words => (true, false),
            ErrorRule::Status => (false, true),
            _ => (true, true),
        }
    }
}

/// A unit for latencies written as bare numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

impl TimeUnit {
    #[inline]
    pub fn to_ms(self, v: f64) -> f64 {
        match self {
            TimeUnit::Seconds => v * 1000.0,
            TimeUnit::Millis => v,
            TimeUnit::Micros => v / 1000.0,
            TimeUnit::Nanos => v / 1_000_000.0,
        }
    }
}

impl FromStr for TimeUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "seconds" => Ok(TimeUnit::Seconds),
            "ms" | "millis" | "milliseconds" => Ok(TimeUnit::Millis),
            "us" | "micros" | "microseconds" => Ok(TimeUnit::Micros),
            "ns" | "nanos" | "nanoseconds" => Ok(TimeUnit::Nanos),
            _ => Err("expected s, ms, us or ns".into()),
        }
    }
}

/// Which JSON keys hold what (top-level keys).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonMapping {
    pub status: String,
    /// Candidate keys for the latency, the first present wins.
    pub latency: Vec<String>,
    pub latency_unit: TimeUnit,
    pub level: String,
}

impl Default for JsonMapping {
    fn default() -> Self {
        JsonMapping {
            status: "status".into(),
            latency: [
                "duration_ms",
                "latency_ms",
                "response_time_ms",
                "latency",
                "duration",
            ]
            .map(String::from)
            .to_vec(),
            latency_unit: TimeUnit::Millis,
            level: "level".into(),
        }
    }
}

/// What the parsers need from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseOptions {
    /// A request is slow when its latency is above this many milliseconds.
    pub slow_ms: f64,
    pub format: FormatChoice,
    pub errors: ErrorRule,
    /// The unit of a combined log's trailing request time; `None` guesses per value: a number
    /// with a decimal point is seconds (nginx `$request_time`), a whole number microseconds
    /// (Apache `%D`).
    pub request_time_unit: Option<TimeUnit>,
    pub json: JsonMapping,
    /// At most this many bytes of decoded text are read from one object; past them it stops
    /// (no further decompression) with [`DecodeError::TooLarge`], and the lines in the first
    /// `max_object_bytes` bytes still count. A kilobyte of gzip can decode to a megabyte of
    /// text, so the compressed size says nothing about the cost. `None`: no cap.
    pub max_object_bytes: Option<u64>,
    /// An object whose first readable line time (within its first [`BACKFILL_CHECK_LINES`]
    /// non-blank lines, as [`line_time`] reads them) is before this is a backfill of old logs:
    /// it says nothing about demand now. Reading it stops at that line (no further
    /// decompression, and no error), and its summary is [`LogSummary::backfill`]: counted in
    /// `backfill_objects`, every other count zero. One object is judged as a whole, by its
    /// first time: later lines are not looked at, so the check costs a few lines per object.
    /// `None`: no check.
    pub backfill_before: Option<DateTime<Utc>>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            slow_ms: 1000.0,
            format: FormatChoice::Auto,
            errors: ErrorRule::Auto,
            request_time_unit: None,
            json: JsonMapping::default(),
            // Local files and tests are read whole; the Lambda sets its own cap.
            max_object_bytes: None,
            backfill_before: None,
        }
    }
}

impl ParseOptions {
    /// The defaults with one format pinned.
    pub fn with_format(format: Format) -> Self {
        ParseOptions {
            format: FormatChoice::Fixed(format),
            ..ParseOptions::default()
        }
    }
}

/// Where an object stands with [`ParseOptions::backfill_before`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackfillCheck {
    /// No check asked for, or the object was found current.
    Off,
    /// Waiting for the object's first line time (see [`SummaryWriter::first_time_lines_left`]).
    Looking { before: DateTime<Utc> },
    /// The first line time is older than the bound: nothing more is read.
    Backfill { first_time: DateTime<Utc> },
}

/// How many lines from the end of a chunk are tried for the [`LineSpan`]'s last time.
const LAST_TIME_TRIES: usize = 4;

/// A `Write` sink that splits bytes into lines and folds each into a [`LogSummary`].
pub struct SummaryWriter {
    options: ParseOptions,
    /// `None` while `auto` is still collecting the object's first lines.
    format: Option<Format>,
    /// The object's head, kept until the format is known (at most [`DETECT_BYTES`]).
    head: Vec<u8>,
    /// Newlines in `head`, counted as it grows.
    head_lines: usize,
    summary: LogSummary,
    /// The unfinished last line of the previous chunk.
    partial: Vec<u8>,
    /// Inside a line that exceeded [`MAX_LINE_BYTES`]: drop bytes until the next newline.
    skipping_long_line: bool,
    /// More text was offered than [`ParseOptions::max_object_bytes`] allows; what came after
    /// the cap was dropped.
    passed_cap: bool,
    backfill: BackfillCheck,
    /// Non-blank lines still to try for the object's first line time: [`BACKFILL_CHECK_LINES`]
    /// at the start, 0 once a time was found or none was in them. The backfill check and the
    /// [`LineSpan`] share this one read.
    first_time_lines_left: usize,
    span: LineSpan,
    /// The last line joined from a chunk's partial line and the next chunk's head, kept (with
    /// its allocation) so that it can be that chunk's sampled last line.
    joined: Vec<u8>,
}

/// The earliest and latest line times read from one object, where its format writes them.
///
/// Reading a time costs about as much as parsing the line, so not every line is read for one
/// (CPU is the bill): the sampled lines are the first line that has a time (within the first
/// [`BACKFILL_CHECK_LINES`] non-blank lines, the read the backfill check makes anyway), the
/// last complete line with a time of each chunk of text the object arrives in (one read per
/// chunk of tens of kilobytes; up to [`LAST_TIME_TRIES`] lines from its end are tried), and
/// the last line. For a log written in time order that is the object's first and last line
/// time, whatever the chunks; lines out of order between samples are not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineSpan {
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl LineSpan {
    /// Takes in one sampled line time.
    pub fn widen(&mut self, time: DateTime<Utc>) {
        self.first = Some(self.first.map_or(time, |first| first.min(time)));
        self.last = Some(self.last.map_or(time, |last| last.max(time)));
    }
}

impl SummaryWriter {
    pub fn new(options: ParseOptions) -> Self {
        let format = match options.format {
            FormatChoice::Fixed(f) => Some(f),
            FormatChoice::Auto => None,
        };
        SummaryWriter {
            format,
            head: Vec::new(),
            head_lines: 0,
            summary: LogSummary::default(),
            partial: Vec::new(),
            skipping_long_line: false,
            passed_cap: false,
            backfill: options
                .backfill_before
                .map_or(BackfillCheck::Off, |before| BackfillCheck::Looking {
                    before,
                }),
            first_time_lines_left: BACKFILL_CHECK_LINES,
            span: LineSpan::default(),
            joined: Vec::new(),
            options,
        }
    }

    /// True once more text was offered than [`ParseOptions::max_object_bytes`] allows: only the
    /// text up to the cap was read.
    pub fn passed_cap(&self) -> bool {
        self.passed_cap
    }

    /// True once the object was recognised as a backfill ([`ParseOptions::backfill_before`]):
    /// it takes no more text, and a caller can stop reading it.
    pub fn is_backfill(&self) -> bool {
        matches!(self.backfill, BackfillCheck::Backfill { .. })
    }

    /// [`DecodeError::TooLarge`] once the cap was passed, unless the object turned out to be a
    /// backfill, which counts for nothing whatever its size.
    fn cap_error(&self) -> Option<DecodeError> {
        match self.options.max_object_bytes {
            Some(cap) if self.passed_cap && !self.is_backfill() => {
                Some(DecodeError::TooLarge { cap })
            }
            _ => None,
        }
    }

    /// [`SummaryWriter::finish`], with the cap's error in place of any other once it was
    /// passed (reading stopped there, so nothing after it could be judged).
    fn finish_object(self, error: Option<DecodeError>, gzip: bool) -> FinishedObject {
        let error = self.cap_error().or(error);
        let (summary, format, span) = self.finish_with_span();
        FinishedObject {
            summary,
            format,
            error,
            gzip,
            span,
        }
    }

    /// The format in use (after detection, with `auto`).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Parses the last line if it had no newline, and returns the totals: for a backfill, only
    /// that it was one ([`LogSummary::backfill`]).
    pub fn finish(self) -> (LogSummary, Format) {
        let (summary, format, _) = self.finish_with_span();
        (summary, format)
    }

    /// [`SummaryWriter::finish`], with the span of the line times read.
    pub fn finish_with_span(mut self) -> (LogSummary, Format, LineSpan) {
        if self.format.is_none() {
            self.settle_format();
        }
        if self.passed_cap || self.is_backfill() {
            // The cap cut this line, not the object's end: half a line would count as a
            // request it is not, or as an unparsed line that is not broken. A backfill's
            // partial line comes from after the decision, and is not read.
            self.partial.clear();
        }
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
            if !self.is_backfill() {
                self.sample_time(&line);
            }
        }
        let format = self.format.unwrap_or(Format::Original);
        match self.backfill {
            // The lines read before the decision are as old as the one that made it.
            BackfillCheck::Backfill { first_time } => {
                (LogSummary::backfill(first_time), format, self.span)
            }
            _ => {
                self.summary.settle_latencies();
                (self.summary, format, self.span)
            }
        }
    }

    /// Picks the format from the head and parses the head.
    fn settle_format(&mut self) {
        let head = std::mem::take(&mut self.head);
        self.format = Some(detect::detect(&head));
        self.split(&head);
    }

    #[inline]
    fn line(&mut self, line: &[u8]) {
        let format = self.format.unwrap_or(Format::Original);
        if self.first_time_lines_left > 0 {
            self.look_for_first_time(format, line);
            if self.is_backfill() {
                return;
            }
        }
        format.parse_line(line, &self.options, &mut self.summary);
    }

    /// Reads `line`'s time, if it has one, as the object's first (blank lines are not tried),
    /// and with it judges a backfill.
    fn look_for_first_time(&mut self, format: Format, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let time = line_time(format, line);
        self.first_time_lines_left = match time {
            Some(time) => {
                self.span.widen(time);
                0
            }
            None => self.first_time_lines_left - 1,
        };
        if let BackfillCheck::Looking { before } = self.backfill {
            self.backfill = match time {
                Some(first_time) if first_time < before => BackfillCheck::Backfill { first_time },
                Some(_) => BackfillCheck::Off,
                None if self.first_time_lines_left == 0 => BackfillCheck::Off,
                None => BackfillCheck::Looking { before },
            };
        }
    }

    /// Widens the span by `line`'s time, if it has one; whether it had.
    fn sample_time(&mut self, line: &[u8]) -> bool {
        match line_time(self.format.unwrap_or(Format::Original), line) {
            Some(time) => {
                self.span.widen(time);
                true
            }
            None => false,
        }
    }

    /// Samples the last line of `lines` (a chunk's complete lines, without the last newline)
    /// that has a time, trying at most [`LAST_TIME_TRIES`] lines from the end: a trailing blank
    /// or stray line does not hide the time before it. The chunk's first line is in `lines`
    /// only in part when it was joined to the previous chunk's partial line (it is then the
    /// last one joined) or was the end of a line too long to read.
    fn sample_last_time(&mut self, mut lines: &[u8], first_joined: bool, first_skipped: bool) {
        for _ in 0..LAST_TIME_TRIES {
            let Some(nl) = memchr::memrchr(b'\n', lines) else {
                if first_joined && !first_skipped {
                    let line = std::mem::take(&mut self.joined);
                    self.sample_time(&line);
                    self.joined = line;
                } else if !first_skipped {
                    self.sample_time(lines);
                }
                return;
            };
            if self.sample_time(&lines[nl + 1..]) {
                return;
            }
            lines = &lines[..nl];
        }
    }

    fn too_long(&mut self) {
        self.summary.lines += 1;
        let note = format!("line longer than {MAX_LINE_BYTES} bytes");
        self.summary.note_unparsed("line_too_long", note.as_bytes());
    }

    /// Whether the next line starts where the chunk does (no partial line waits for it, none
    /// is being skipped) and [`SummaryWriter::line`] would only parse it, in the original
    /// format: then [`original::parse_lines`] may read the chunk's lines.
    #[inline]
    fn reads_whole_lines_at_once(&self) -> bool {
        self.format == Some(Format::Original)
            && self.partial.is_empty()
            && !self.skipping_long_line
            && self.first_time_lines_left == 0
            && !self.is_backfill()
    }

    /// Cuts `buf` into lines; the last, unfinished one is kept for the next call. The last
    /// complete line is sampled for the [`LineSpan`], once the loop is done, so that the loop
    /// itself does no more per line than parse it.
    fn split(&mut self, buf: &[u8]) {
        if self.is_backfill() {
            return;
        }
        // Whether the chunk's first line, if it ends here, is not all in `buf`.
        let first_joined = !self.partial.is_empty();
        let first_skipped = self.skipping_long_line;
        let mut rest = buf;
        loop {
            if self.reads_whole_lines_at_once() {
                // Past the object's first lines, nothing but parsing happens per line: the
                // original format reads all the complete lines left in one call.
                let read = original::parse_lines(rest, &self.options, &mut self.summary);
                rest = &rest[read..];
            }
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                break;
            };
            let (head, tail) = (&rest[..nl], &rest[nl + 1..]);
            if self.skipping_long_line {
                self.skipping_long_line = false;
            } else if self.partial.is_empty() {
                self.line(head);
            } else if self.partial.len() + head.len() > MAX_LINE_BYTES {
                self.partial.clear();
                self.joined.clear();
                self.too_long();
            } else {
                let mut line = std::mem::take(&mut self.joined);
                line.clear();
                line.extend_from_slice(&self.partial);
                line.extend_from_slice(head);
                self.partial.clear(); // its allocation stays for the next partial line
                self.line(&line);
                self.joined = line; // and this one's, for the sample below
            }
            rest = tail;
            if self.is_backfill() {
                // Decided by the line just read: none after it is.
                return;
            }
        }
        let complete = buf.len() - rest.len();
        if complete > 0 {
            // `buf[..complete - 1]` ends where the chunk's last complete line does.
            self.sample_last_time(&buf[..complete - 1], first_joined, first_skipped);
        }
        if !self.skipping_long_line && !rest.is_empty() {
            if self.partial.len() + rest.len() > MAX_LINE_BYTES {
                self.partial.clear();
                self.too_long();
                self.skipping_long_line = true;
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
    }

    /// Takes the next chunk of text; never fails (bad lines are counted, not errors). Text past
    /// [`ParseOptions::max_object_bytes`] is dropped, and [`SummaryWriter::passed_cap`] says so;
    /// so is all text once the object is a backfill ([`SummaryWriter::is_backfill`]).
    pub fn consume(&mut self, buf: &[u8]) {
        self.take(buf);
    }

    /// Consumes as much of `buf` as the cap leaves room for; returns how many bytes that was.
    fn take(&mut self, buf: &[u8]) -> usize {
        if self.is_backfill() {
            return 0;
        }
        let room = match self.options.max_object_bytes {
            Some(cap) => cap.saturating_sub(self.summary.bytes),
            None => u64::MAX,
        };
        let fits = usize::try_from(room).map_or(buf.len(), |room| room.min(buf.len()));
        self.consume_uncapped(&buf[..fits]);
        if fits < buf.len() {
            self.passed_cap = true;
            if self.format.is_none() {
                // No more text comes: judge the format, and a backfill, by the head there is,
                // now, so that a backfill is known before the cap is reported.
                self.settle_format();
            }
        }
        fits
    }

    fn consume_uncapped(&mut self, buf: &[u8]) {
        self.summary.bytes += buf.len() as u64;
        if self.format.is_some() {
            self.split(buf);
            return;
        }
        // Still detecting: keep the head until it holds enough lines to judge.
        let room = DETECT_BYTES.saturating_sub(self.head.len());
        let (into_head, after) = buf.split_at(room.min(buf.len()));
        self.head.extend_from_slice(into_head);
        self.head_lines += memchr::memchr_iter(b'\n', into_head).count();
        if self.head_lines >= DETECT_LINES || self.head.len() >= DETECT_BYTES {
            self.settle_format();
            self.split(after);
        }
    }
}

impl Write for SummaryWriter {
    /// Fails only at the cap or once the object is a backfill, so that a decoder writing into
    /// it stops decompressing there.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let taken = self.take(buf);
        if taken == 0 && !buf.is_empty() {
            return Err(io::Error::other(
                "no more text is read: past the cap, or a backfill",
            ));
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The two bytes every gzip member starts with (RFC 1952).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How an object's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Decided by the object's first two bytes: gzip when they are [`GZIP_MAGIC`], plain text
    /// otherwise. Log text never starts with them, and neither a file's name nor an S3
    /// object's `Content-Encoding` can be trusted to say what the bytes are, so every caller
    /// uses this.
    #[default]
    Auto,
    Plain,
    Gzip,
}

/// Why an object could not be read to its end. The caller names the object; what was decoded
/// before the error still counts. One wording for S3 objects and local files alike.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The compressed data is not valid gzip (a bad header, a bad block, a wrong checksum).
    #[error("corrupt gzip data: {0}")]
    Corrupt(io::Error),
    /// The object ended in the middle of a gzip member.
    #[error("gzip stream ends early: {0}")]
    EndsEarly(io::Error),
    /// The object's text, plain or decompressed, is longer than
    /// [`ParseOptions::max_object_bytes`]; reading stopped there. The wording names the
    /// setting, as the record and `analyze` show it to the person who can change it.
    #[error("decoded size passes the cap of {cap} bytes (LOGSCALE_MAX_OBJECT_BYTES); the first {cap} bytes counted")]
    TooLarge { cap: u64 },
}

/// A sink for one object's raw bytes: recognizes or is told the encoding, decodes if needed
/// and summarizes.
pub struct ObjectSink {
    stage: Stage,
    /// Raw (possibly compressed) bytes fed so far.
    raw_bytes: u64,
}

enum Stage {
    /// [`Encoding::Auto`] before the object's first two bytes have arrived: those seen so far.
    Sniffing {
        options: ParseOptions,
        head: Vec<u8>,
    },
    Decoding(Decoder),
}

enum Decoder {
    Plain(Box<SummaryWriter>),
    Gzip(Box<flate2::write::MultiGzDecoder<SummaryWriter>>),
}

impl Decoder {
    fn new(gzip: bool, options: ParseOptions) -> Decoder {
        let writer = SummaryWriter::new(options);
        if gzip {
            Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(writer)))
        } else {
            Decoder::Plain(Box::new(writer))
        }
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        match self {
            Decoder::Plain(w) => {
                w.consume(chunk);
                w.cap_error().map_or(Ok(()), Err)
            }
            // A backfill is decided: the rest of the stream is neither decoded nor judged.
            Decoder::Gzip(d) if d.get_ref().is_backfill() => Ok(()),
            // At the cap, or on deciding a backfill, the writer refuses more text, which stops
            // the decoder mid-stream; that refusal is not corrupt data.
            Decoder::Gzip(d) => match d.write_all(chunk) {
                Ok(()) => Ok(()),
                Err(_) if d.get_ref().is_backfill() => Ok(()),
                Err(e) => Err(d.get_ref().cap_error().unwrap_or(DecodeError::Corrupt(e))),
            },
        }
    }
}

impl ObjectSink {
    pub fn new(encoding: Encoding, options: ParseOptions) -> ObjectSink {
        let stage = match encoding {
            Encoding::Auto => Stage::Sniffing {
                options,
                head: Vec::with_capacity(GZIP_MAGIC.len()),
            },
            Encoding::Plain => Stage::Decoding(Decoder::new(false, options)),
            Encoding::Gzip => Stage::Decoding(Decoder::new(true, options)),
        };
        ObjectSink {
            stage,
            raw_bytes: 0,
        }
    }

    /// The encoding in use: [`Encoding::Auto`] only while fewer than two bytes have arrived.
    pub fn encoding(&self) -> Encoding {
        match self.stage {
            Stage::Sniffing { .. } => Encoding::Auto,
            Stage::Decoding(Decoder::Plain(_)) => Encoding::Plain,
            Stage::Decoding(Decoder::Gzip(_)) => Encoding::Gzip,
        }
    }

    /// Feeds the next chunk. An error means the compressed stream is corrupt or the object's
    /// text passed the cap; what was decoded before it is kept, and the caller stops feeding.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        self.raw_bytes += chunk.len() as u64;
        match &mut self.stage {
            Stage::Decoding(decoder) => decoder.write(chunk),
            Stage::Sniffing { options, head } => {
                // Chunks can be as short as one byte, so the two magic bytes may span two.
                let taken = (GZIP_MAGIC.len() - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..taken]);
                if head.len() < GZIP_MAGIC.len() {
                    return Ok(());
                }
                let mut decoder = Decoder::new(*head == GZIP_MAGIC, std::mem::take(options));
                let written = decoder
                    .write(head)
                    .and_then(|()| decoder.write(&chunk[taken..]));
                self.stage = Stage::Decoding(decoder);
                written
            }
        }
    }

    /// True once the object was recognised as a backfill ([`ParseOptions::backfill_before`]):
    /// further chunks are ignored without being decoded, so the caller can stop reading it;
    /// [`ObjectSink::finish`] then reports no error whatever followed.
    pub fn is_backfill(&self) -> bool {
        match &self.stage {
            Stage::Sniffing { .. } => false,
            Stage::Decoding(Decoder::Plain(w)) => w.is_backfill(),
            Stage::Decoding(Decoder::Gzip(d)) => d.get_ref().is_backfill(),
        }
    }

    /// Ends the object. For gzip, a stream that stops early is an error (an object of zero
    /// bytes is simply empty); so is text past the cap. The summary of what was decoded comes
    /// back either way.
    pub fn finish(self) -> (LogSummary, Format, Option<DecodeError>) {
        let finished = self.finish_object();
        (finished.summary, finished.format, finished.error)
    }

    /// [`ObjectSink::finish`] with all there is to know about the object read: what
    /// [`StoredSummary::from_object`] keeps.
    pub fn finish_object(self) -> FinishedObject {
        match self.stage {
            // Fewer than two bytes: too short to be gzip.
            Stage::Sniffing { options, head } => {
                let mut writer = SummaryWriter::new(options);
                writer.consume(&head);
                writer.finish_object(None, false)
            }
            Stage::Decoding(Decoder::Plain(w)) => w.finish_object(None, false),
            Stage::Decoding(Decoder::Gzip(mut d)) => {
                // Past the cap or for a backfill, finishing the stream would decode more of it:
                // skip that.
                let stopped = d.get_ref().passed_cap() || d.get_ref().is_backfill();
                let err = if self.raw_bytes == 0 || stopped {
                    None
                } else {
                    d.try_finish().err().map(DecodeError::EndsEarly)
                };
                // Everything decoded so far has reached the inner writer; take it out whole
                // even when the stream was cut short.
                let options = d.get_ref().options.clone();
                let inner = std::mem::replace(d.get_mut(), SummaryWriter::new(options));
                inner.finish_object(err, true)
            }
        }
    }
}

/// One object read to its end (or as far as it could be): [`ObjectSink::finish_object`].
#[derive(Debug)]
pub struct FinishedObject {
    pub summary: LogSummary,
    /// The format used (detected with `auto`).
    pub format: Format,
    /// Why the object could not be read to its end, found at the finish (a gzip stream that
    /// ends early, text past the cap); a caller that stopped feeding at an error has that one.
    pub error: Option<DecodeError>,
    /// The bytes were gzip.
    pub gzip: bool,
    pub span: LineSpan,
}

/// Summarizes a whole in-memory buffer; for tests and small inputs.
pub fn summarize_bytes(bytes: &[u8], options: &ParseOptions) -> LogSummary {
    let mut w = SummaryWriter::new(options.clone());
    w.consume(bytes);
    w.finish().0
}

/// Counts one request for a line-level parser, applying the slow threshold.
#[inline]
pub(crate) fn count_request(
    summary: &mut LogSummary,
    options: &ParseOptions,
    status: Option<u16>,
    latency_ms: Option<f64>,
    error: bool,
) {
    summary.add_request(status, latency_ms, error, options.slow_ms);
}

/// Exactly three ASCII digits at the start of `text`.
#[inline]
pub(crate) fn three_digits(text: &[u8]) -> Option<u16> {
    match text {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// A decimal number (`-`? digits, optional fraction) filling all of `text`.
#[inline]
pub(crate) fn decimal(text: &[u8]) -> Option<f64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let ok = !digits.is_empty()
        && digits.iter().filter(|b| **b == b'.').count() <= 1
        && digits.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && digits.iter().any(u8::is_ascii_digit);
    if !ok {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, TimeZone};
    use std::io::Write;

    const SAMPLE: &str = "\
[2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms
[2024-12-08 12:34:57.123] ERROR - POST /api/orders - status: 500 - response_time: 2341.56ms - Database connection timeout
[2024-12-08 12:34:58.456] WARN - GET /api/search - status: 404 - response_time: 89.12ms
";

    fn opts() -> ParseOptions {
        ParseOptions::default()
    }

    #[test]
    fn chunk_boundaries_do_not_change_the_result() {
        let whole = summarize_bytes(SAMPLE.as_bytes(), &opts());
        for size in [1, 2, 7, 64] {
            let mut w = SummaryWriter::new(opts());
            for chunk in SAMPLE.as_bytes().chunks(size) {
                w.write_all(chunk).unwrap();
            }
            let (s, f) = w.finish();
            assert_eq!(s, whole, "chunk size {size}");
            assert_eq!(f, Format::Original);
        }
        assert_eq!(whole.requests, 3);
        assert_eq!(whole.errors, 1);
        assert_eq!(whole.slow, 1);
        assert_eq!(whole.bytes, SAMPLE.len() as u64);
    }

    #[test]
    fn last_line_without_newline_is_parsed() {
        let s = summarize_bytes(SAMPLE.trim_end().as_bytes(), &opts());
        assert_eq!(s.requests, 3);
    }

    #[test]
    fn overlong_line_is_counted_and_skipped_in_bounded_memory() {
        let mut w = SummaryWriter::new(ParseOptions::with_format(Format::Original));
        w.write_all(SAMPLE.as_bytes()).unwrap();
        let junk = vec![b'x'; 64 * 1024];
        for _ in 0..(MAX_LINE_BYTES / junk.len() + 3) {
            w.write_all(&junk).unwrap();
            assert!(w.partial.len() <= MAX_LINE_BYTES);
        }
        w.write_all(b"\n").unwrap();
        w.write_all(SAMPLE.as_bytes()).unwrap();
        let (s, _) = w.finish();
        assert_eq!(s.requests, 6);
        assert_eq!(s.unparsed, 1);
        assert!(s.unparsed_kinds["line_too_long"]
            .example
            .contains("longer than"));
    }

    #[test]
    fn a_ten_megabyte_line_under_auto_detection_is_bounded_too() {
        let mut w = SummaryWriter::new(opts());
        let junk = vec![b'y'; 10 << 20];
        w.write_all(&junk).unwrap();
        assert!(w.head.len() <= DETECT_BYTES && w.partial.len() <= MAX_LINE_BYTES);
        w.write_all(b"\n").unwrap();
        w.write_all(SAMPLE.as_bytes()).unwrap();
        let (s, _) = w.finish();
        assert_eq!(s.requests, 3);
        assert_eq!(s.unparsed_kinds["line_too_long"].count, 1);
    }

    #[test]
    fn gzip_sink_decodes_concatenated_members() {
        let mut gz = Vec::new();
        for _ in 0..2 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(SAMPLE.as_bytes()).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let mut sink = ObjectSink::new(Encoding::Gzip, opts());
        for chunk in gz.chunks(100) {
            sink.feed(chunk).unwrap();
        }
        let (s, _, err) = sink.finish();
        assert!(err.is_none());
        assert_eq!(s.requests, 6);
    }

    #[test]
    fn truncated_gzip_keeps_what_was_decoded_and_reports_the_error() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for _ in 0..200 {
            e.write_all(SAMPLE.as_bytes()).unwrap();
        }
        let gz = e.finish().unwrap();
        let mut sink = ObjectSink::new(Encoding::Gzip, opts());
        let fed = sink.feed(&gz[..gz.len() / 2]);
        let (s, _, err) = sink.finish();
        assert!(fed.is_err() || err.is_some(), "truncation must be reported");
        assert!(s.requests > 0 && s.requests < 600, "{}", s.requests);
    }

    #[test]
    fn garbage_gzip_is_an_error_not_a_panic() {
        let mut sink = ObjectSink::new(Encoding::Gzip, opts());
        let fed = sink.feed(b"\x1f\x8b\x08\x00garbage garbage garbage");
        let (_, _, err) = sink.finish();
        assert!(fed.is_err() || err.is_some());
    }

    #[test]
    fn empty_input_is_an_empty_summary() {
        let (s, _) = SummaryWriter::new(opts()).finish();
        assert_eq!(s, LogSummary::default());
        let (s, _, err) = ObjectSink::new(Encoding::Gzip, opts()).finish();
        assert!(err.is_none(), "an empty object is not a corrupt one");
        assert_eq!(s.lines, 0);
    }

    fn gzipped_best(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn gzipped(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn auto_recognizes_gzip_by_its_first_two_bytes_in_chunks_of_any_size() {
        let plain = SAMPLE.as_bytes();
        let gz = gzipped(plain);
        let whole = summarize_bytes(plain, &opts());
        for (input, want) in [(&gz, Encoding::Gzip), (&plain.to_vec(), Encoding::Plain)] {
            for size in [1, 2, 3, 4096] {
                let mut sink = ObjectSink::new(Encoding::Auto, opts());
                for chunk in input.chunks(size) {
                    sink.feed(chunk).unwrap();
                }
                assert_eq!(sink.encoding(), want, "chunk size {size}");
                let (mut s, _, err) = sink.finish();
                assert!(err.is_none(), "{want:?} in chunks of {size}: {err:?}");
                // `bytes` counts decoded text in both cases.
                s.bytes = whole.bytes;
                assert_eq!(s, whole, "{want:?} in chunks of {size}");
            }
        }
    }

    #[test]
    fn auto_reads_inputs_too_short_to_be_gzip_as_text() {
        for input in [&b""[..], b"\x1f", b"x"] {
            let mut sink = ObjectSink::new(Encoding::Auto, opts());
            sink.feed(input).unwrap();
            assert_eq!(sink.encoding(), Encoding::Auto);
            let (s, _, err) = sink.finish();
            assert!(err.is_none(), "{input:?}");
            assert_eq!(s.bytes, input.len() as u64);
        }
    }

    #[test]
    fn broken_gzip_is_reported_in_one_wording_whoever_reads_it() {
        let mut sink = ObjectSink::new(Encoding::Auto, opts());
        let err = sink
            .feed(b"\x1f\x8b\x08\x00this is not deflate data at all")
            .unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt(_)));
        assert!(err.to_string().starts_with("corrupt gzip data: "), "{err}");

        let gz = gzipped(&SAMPLE.repeat(50).into_bytes());
        let mut sink = ObjectSink::new(Encoding::Auto, opts());
        sink.feed(&gz[..gz.len() - 4]).unwrap();
        let (s, _, err) = sink.finish();
        let err = err.expect("a cut stream is an error");
        assert!(matches!(err, DecodeError::EndsEarly(_)));
        assert!(
            err.to_string().starts_with("gzip stream ends early: "),
            "{err}"
        );
        assert_eq!(s.requests, 150, "everything before the cut still counts");
    }

    fn capped(cap: u64) -> ParseOptions {
        ParseOptions {
            max_object_bytes: Some(cap),
            ..opts()
        }
    }

    /// Feeds `input` in `chunk`-byte pieces until the sink refuses one, as `fetch` and
    /// `analyze` do; returns the raw bytes fed (the refused chunk included) and the result.
    fn read_capped(
        input: &[u8],
        chunk: usize,
        cap: u64,
    ) -> (u64, (LogSummary, Format, Option<DecodeError>)) {
        let mut sink = ObjectSink::new(Encoding::Auto, capped(cap));
        let mut fed = 0;
        for piece in input.chunks(chunk) {
            fed += piece.len() as u64;
            if let Err(e) = sink.feed(piece) {
                assert!(
                    matches!(e, DecodeError::TooLarge { cap: c } if c == cap),
                    "{e}"
                );
                break;
            }
        }
        (fed, sink.finish())
    }

    #[test]
    fn plain_text_over_the_cap_stops_there_and_names_the_cap() {
        let line = SAMPLE.lines().next().unwrap().len() as u64 + 1;
        let text = SAMPLE.lines().next().unwrap().to_string() + "\n";
        let text = text.repeat(1000);
        // Two and a half lines: the half line is cut by the cap and not counted.
        let cap = 2 * line + line / 2;
        for chunk in [1, 7, 4096, text.len()] {
            let (fed, (s, format, err)) = read_capped(text.as_bytes(), chunk, cap);
            let err = err.expect("the cap is reported by finish too");
            assert_eq!(
                err.to_string(),
                format!(
                    "decoded size passes the cap of {cap} bytes (LOGSCALE_MAX_OBJECT_BYTES); \
                     the first {cap} bytes counted"
                )
            );
            assert!(
                fed < text.len() as u64 || chunk == text.len(),
                "chunk {chunk}"
            );
            assert_eq!(
                (s.bytes, s.requests, s.lines, s.unparsed),
                (cap, 2, 2, 0),
                "chunk {chunk}"
            );
            assert_eq!(format, Format::Original);
        }
    }

    #[test]
    fn an_object_exactly_at_the_cap_is_read_whole() {
        let text = SAMPLE.repeat(10).into_bytes();
        let whole = summarize_bytes(&text, &opts());
        let cap = text.len() as u64;
        for input in [text.clone(), gzipped(&text)] {
            for chunk in [1, 100, input.len()] {
                let (_, (mut s, _, err)) = read_capped(&input, chunk, cap);
                assert!(err.is_none(), "chunk {chunk}: {err:?}");
                s.bytes = whole.bytes;
                assert_eq!(s, whole, "chunk {chunk}");
            }
        }
        // Without a trailing newline the last line is still the object's own, and counts.
        let trimmed = SAMPLE.trim_end().as_bytes();
        let (_, (s, _, err)) = read_capped(trimmed, 10, trimmed.len() as u64);
        assert!(err.is_none());
        assert_eq!(s.requests, 3);
        // One byte more is over the cap, plain or gzip.
        for input in [text.clone(), gzipped(&text)] {
            let (_, (s, _, err)) = read_capped(&input, 100, cap - 1);
            assert!(matches!(err, Some(DecodeError::TooLarge { .. })), "{err:?}");
            assert_eq!(
                s.requests,
                whole.requests - 1,
                "the cut last line does not count"
            );
        }
    }

    #[test]
    fn a_gzip_bomb_stops_decoding_at_the_cap() {
        // 200 MiB of one line in 200 gzip members of 1 MiB each, as `gzip -d` reads them:
        // gzip shrinks it about a thousandfold. Compressing one member and repeating it keeps
        // the test quick (an unoptimized flate2 takes ~0.2 s a MiB).
        let line = SAMPLE.lines().next().unwrap().to_string() + "\n";
        let block = line.repeat((1 << 20) / line.len());
        let bomb = gzipped_best(block.as_bytes()).repeat(200);
        assert!(bomb.len() < 1 << 20, "{} compressed bytes", bomb.len());

        let cap = 1 << 20;
        let (fed, (s, format, err)) = read_capped(&bomb, 64 * 1024, cap);
        assert!(
            matches!(err, Some(DecodeError::TooLarge { cap: c }) if c == cap),
            "{err:?}"
        );
        // Decoding stopped in the first chunks, not after the last one.
        assert!(fed <= 2 * 64 * 1024, "{fed} of {} bytes fed", bomb.len());
        assert!(s.bytes <= cap);
        let whole_lines = cap / line.len() as u64;
        assert_eq!((s.requests, s.lines), (whole_lines, whole_lines));
        assert_eq!(format, Format::Original);
    }

    #[test]
    fn settings_parse_and_reject() {
        assert_eq!(
            "ALB".parse::<FormatChoice>(),
            Ok(FormatChoice::Fixed(Format::Alb))
        );
        assert_eq!("auto".parse::<FormatChoice>(), Ok(FormatChoice::Auto));
        assert!("csv".parse::<FormatChoice>().is_err());
        assert_eq!("us".parse::<TimeUnit>(), Ok(TimeUnit::Micros));
        assert_eq!(TimeUnit::Seconds.to_ms(0.25), 250.0);
        assert_eq!("either".parse::<ErrorRule>(), Ok(ErrorRule::Either));
    }

    #[test]
    fn decimal_accepts_numbers_only() {
        assert_eq!(decimal(b"0.123"), Some(0.123));
        assert_eq!(decimal(b"-1"), Some(-1.0));
        assert_eq!(decimal(b"12"), Some(12.0));
        for bad in [&b""[..], b"-", b".", b"1.2.3", b"1e5", b"12a", b"inf"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }

    /// Logs written on 8 December 2024 from noon (what [`loggen`] writes by default)...
    fn old_start() -> NaiveDateTime {
        loggen::LogGenSpec::new(Format::Original, 0).start
    }

    /// ...are old to a window that starts on the 9th...
    fn window_start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 9, 0, 0, 0).unwrap()
    }

    /// ...in which logs from 6 a.m. are current.
    fn recent_start() -> NaiveDateTime {
        old_start() + chrono::Duration::hours(18)
    }

    fn generated(format: Format, lines: u64, start: NaiveDateTime) -> Vec<u8> {
        let spec = loggen::LogGenSpec {
            start,
            ..loggen::LogGenSpec::new(format, lines)
        };
        let mut out = Vec::new();
        loggen::generate(&spec, &mut out).unwrap();
        out
    }

    fn first_line_time(format: Format, text: &[u8]) -> DateTime<Utc> {
        let first = text.split(|b| *b == b'\n').next().unwrap();
        line_time(format, first).expect("generated lines carry a time")
    }

    fn checking(format: FormatChoice) -> ParseOptions {
        ParseOptions {
            format,
            backfill_before: Some(window_start()),
            ..opts()
        }
    }

    /// Feeds `input` whole through an auto-encoding sink in `chunk`-byte pieces; any error
    /// from a feed or the finish fails the test.
    fn through_sink(input: &[u8], chunk: usize, options: &ParseOptions) -> LogSummary {
        let mut sink = ObjectSink::new(Encoding::Auto, options.clone());
        for piece in input.chunks(chunk) {
            sink.feed(piece).unwrap();
        }
        let (s, _, err) = sink.finish();
        assert!(err.is_none(), "{err:?}");
        s
    }

    /// Decoded text the sink's writer has taken so far.
    fn decoded_so_far(sink: &ObjectSink) -> u64 {
        match &sink.stage {
            Stage::Sniffing { .. } => 0,
            Stage::Decoding(Decoder::Plain(w)) => w.summary.bytes,
            Stage::Decoding(Decoder::Gzip(d)) => d.get_ref().summary.bytes,
        }
    }

    #[test]
    fn an_object_whose_first_line_is_old_is_a_backfill_in_every_format_plain_or_gzip() {
        for format in Format::ALL {
            let text = generated(format, 300, old_start());
            let want = LogSummary::backfill(first_line_time(format, &text));
            for choice in [FormatChoice::Auto, FormatChoice::Fixed(format)] {
                for (encoding, input) in [("plain", text.clone()), ("gzip", gzipped(&text))] {
                    for chunk in [1, 100, input.len()] {
                        let s = through_sink(&input, chunk, &checking(choice));
                        let what = format!("{format} {choice:?} {encoding} in chunks of {chunk}");
                        assert_eq!(s, want, "{what}");
                        assert_eq!(
                            (s.backfill_objects, s.requests, s.lines, s.bytes, s.unparsed),
                            (1, 0, 0, 0, 0),
                            "{what}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_recent_first_line_counts_the_whole_object_even_when_later_lines_are_old() {
        for format in Format::ALL {
            let mut text = generated(format, 50, recent_start());
            text.extend(generated(format, 250, old_start()));
            let unchecked = summarize_bytes(&text, &ParseOptions::with_format(format));
            assert_eq!(unchecked.requests, 300, "{format}");
            for input in [text.clone(), gzipped(&text)] {
                for choice in [FormatChoice::Auto, FormatChoice::Fixed(format)] {
                    let mut s = through_sink(&input, 64, &checking(choice));
                    s.bytes = unchecked.bytes;
                    assert_eq!(s, unchecked, "{format} {choice:?}");
                    assert_eq!((s.backfill_objects, s.backfill_oldest), (0, None));
                }
            }
        }
    }

    #[test]
    fn the_first_sixteen_non_blank_lines_are_tried_for_a_time_and_no_more() {
        for format in Format::ALL {
            let old = generated(format, 100, old_start());
            let options = checking(FormatChoice::Fixed(format));
            // Lines with no time in any format; blank lines are not tried at all.
            let timeless = |n: usize| "no time here\n\n  \r\n".repeat(n).into_bytes();

            let mut decided_late = timeless(BACKFILL_CHECK_LINES - 1);
            decided_late.extend_from_slice(&old);
            let s = summarize_bytes(&decided_late, &options);
            assert_eq!(
                s,
                LogSummary::backfill(first_line_time(format, &old)),
                "{format}"
            );

            let mut never_decided = timeless(BACKFILL_CHECK_LINES);
            never_decided.extend_from_slice(&old);
            let s = summarize_bytes(&never_decided, &options);
            let unchecked = summarize_bytes(&never_decided, &ParseOptions::with_format(format));
            assert_eq!(s, unchecked, "{format}");
            assert_eq!(
                (s.backfill_objects, s.requests, s.unparsed),
                (0, 100, BACKFILL_CHECK_LINES as u64),
                "{format}"
            );
        }
    }

    #[test]
    fn without_backfill_before_old_objects_count_as_before() {
        for format in Format::ALL {
            let text = generated(format, 300, old_start());
            for options in [opts(), ParseOptions::with_format(format)] {
                assert_eq!(options.backfill_before, None);
                let s = summarize_bytes(&text, &options);
                assert_eq!(s.requests, 300, "{format}");
                assert_eq!((s.backfill_objects, s.backfill_oldest), (0, None));
                let mut through_gzip = through_sink(&gzipped(&text), 100, &options);
                through_gzip.bytes = s.bytes;
                assert_eq!(through_gzip, s, "{format}");
            }
        }
    }

    #[test]
    fn a_one_line_object_without_its_newline_is_judged_at_the_finish() {
        for format in Format::ALL {
            let text = generated(format, 1, old_start());
            let line = text.trim_ascii_end();
            let s = summarize_bytes(line, &checking(FormatChoice::Auto));
            assert_eq!(
                s,
                LogSummary::backfill(first_line_time(format, line)),
                "{format}"
            );
        }
    }

    #[test]
    fn a_backfill_stops_decoding_and_ignores_whatever_follows() {
        // 200 MiB of old lines in 200 gzip members (as in the gzip-bomb test), fed as an S3
        // body is: if the sink kept decoding, it would decode all of them.
        let text = generated(Format::Alb, 1, old_start());
        let block = text.repeat((1 << 20) / text.len());
        let bomb = gzipped_best(&block).repeat(200);
        let mut sink = ObjectSink::new(Encoding::Auto, checking(FormatChoice::Auto));
        for (n, piece) in bomb.chunks(64 * 1024).enumerate() {
            sink.feed(piece).unwrap();
            assert!(
                sink.is_backfill(),
                "decided in the first chunk, not chunk {n}"
            );
        }
        let decoded = decoded_so_far(&sink);
        assert!(decoded <= 256 * 1024, "{decoded} bytes decoded");
        let (s, format, err) = sink.finish();
        assert!(err.is_none(), "{err:?}");
        assert_eq!(s, LogSummary::backfill(first_line_time(Format::Alb, &text)));
        assert_eq!(format, Format::Alb);

        // The same bytes without the check decode on, here to a 4 MiB cap.
        let mut sink = ObjectSink::new(
            Encoding::Auto,
            ParseOptions {
                max_object_bytes: Some(4 << 20),
                ..opts()
            },
        );
        for piece in bomb.chunks(64 * 1024) {
            if sink.feed(piece).is_err() {
                break;
            }
        }
        assert_eq!(decoded_so_far(&sink), 4 << 20);

        // A corrupt member after the old lines: reported without the check, never read with it.
        let mut broken = gzipped(&generated(Format::Combined, 2000, old_start()));
        broken.extend_from_slice(b"\x1f\x8b\x08\x00this is not deflate data at all");
        let mut sink = ObjectSink::new(Encoding::Auto, opts());
        let fed = sink.feed(&broken);
        let (_, _, err) = sink.finish();
        assert!(
            fed.is_err() || err.is_some(),
            "the control must see the damage"
        );
        for chunk in [64, 4096, broken.len()] {
            let s = through_sink(&broken, chunk, &checking(FormatChoice::Auto));
            assert_eq!(s.backfill_objects, 1, "chunks of {chunk}");
        }

        // Plain text: nothing past the chunk that decided is taken.
        let plain = generated(Format::Original, 20_000, old_start());
        let mut sink = ObjectSink::new(Encoding::Auto, checking(FormatChoice::Auto));
        for piece in plain.chunks(4096) {
            sink.feed(piece).unwrap();
        }
        assert_eq!(decoded_so_far(&sink), 4096);
    }

    #[test]
    fn a_backfill_past_the_cap_is_not_reported_as_too_large() {
        // 1000 bytes hold a few JSON lines, fewer than `auto` waits for to pick the format:
        // the cap settles the format and the backfill before it would be reported.
        let text = generated(Format::Json, 1000, old_start());
        let options = ParseOptions {
            max_object_bytes: Some(1000),
            ..checking(FormatChoice::Auto)
        };
        for input in [text.clone(), gzipped(&text)] {
            let s = through_sink(&input, 100, &options);
            assert_eq!(
                s,
                LogSummary::backfill(first_line_time(Format::Json, &text))
            );
        }
    }
}
