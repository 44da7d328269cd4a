//! One object's summary as stored bytes, so that objects summarised apart (by parallel
//! summarizers as they land, or by `logscale summarize` on a laptop) merge later into exactly
//! the [`LogSummary`] a direct read of all of them gives.
//!
//! The bytes are one JSON object whose first member is `"logscale_summary": 1`
//! ([`SUMMARY_VERSION`]), on one line; gzip-compressed, they read the same. The README's
//! "Summaries" section gives the schema member by member. [`StoredSummary::recognise`] knows a
//! summary by that first member (plain or gzip), not by its name, and
//! [`StoredSummary::decode`] refuses, with an error that says what is wrong, anything it
//! cannot take whole: another version, more than
//! [`MAX_SUMMARY_BYTES`], broken JSON or gzip, unknown members, and counts that no parse could
//! have produced (more errors than requests, a sketch whose bins do not add up to the timed
//! requests, …). It never panics, whatever the bytes.
//!
//! The latency sketch is stored as its bins (the count in each logarithmic bucket of the
//! DDSketch mapping), its zero bucket and its exact minimum and maximum, and rebuilt from them:
//! the rebuilt sketch answers every quantile exactly as the one that was stored, and merges as
//! it did. The bins are the mapping's own, not the sketch crate's in-memory layout, so a
//! change of that crate's internals does not change the format.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

use crate::summary::{
    UnparsedKind, EXAMPLE_CHARS, OTHER_UNPARSED_KIND, STATUS_CODES, UNPARSED_KINDS,
};
use crate::{FinishedObject, Format, LogSummary, GZIP_MAGIC};

/// The format version written, and the only one read. Any change to the members or their
/// meaning comes with a new number: a reader never guesses at a member it does not know.
pub const SUMMARY_VERSION: u32 = 1;

/// The most bytes a summary may take, stored or decompressed. A summary of any object is a
/// few kilobytes (the sketch has at most [`SKETCH_MAX_BINS`] bins); the bound keeps a corrupt
/// or hostile file from costing more than that.
pub const MAX_SUMMARY_BYTES: usize = 4 * 1024 * 1024;

/// The member that makes a JSON object a summary, first in every summary written.
const VERSION_MEMBER: &[u8] = b"\"logscale_summary\"";

/// Decompressed bytes [`StoredSummary::recognise`] looks at: enough for the version member
/// after some whitespace.
const RECOGNISE_BYTES: usize = 256;

/// The latency sketch's bins, at most: the DDSketch default (1 % relative accuracy).
pub const SKETCH_MAX_BINS: usize = 2048;

/// The largest count a summary may hold (2^44, about 1.8e13): more lines or bytes than the
/// largest S3 object (5 TB) has. Any count above it is refused, so that merging a million
/// summaries cannot overflow a 64-bit count.
pub const MAX_COUNT: u64 = 1 << 44;

/// Where the summarized bytes came from (an S3 object, or a local file with bucket None).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceObject {
    pub bucket: Option<String>,
    pub key: String,
    pub etag: Option<String>,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredSummary {
    pub source: SourceObject,
    /// The format the object was parsed as (None when nothing was recognised).
    pub format: Option<Format>,
    /// The source's bytes were gzip.
    pub gzip: bool,
    /// Why the source could not be read to its end (corrupt gzip, the decoded-bytes cap, a
    /// broken download), worded as the direct read reports it; what was read before it counts.
    pub problem: Option<String>,
    /// The earliest and latest line times seen, where the format has timestamps.
    pub first_line_at: Option<DateTime<Utc>>,
    pub last_line_at: Option<DateTime<Utc>>,
    pub summary: LogSummary,
}

/// Why bytes are not a summary this build can use.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SummaryError {
    #[error("not a logscale summary: it does not start with the \"logscale_summary\" member")]
    NotASummary,
    #[error(
        "summary format version {found} is not one this build reads (it reads version \
         {supported}); a newer logscale wrote it?"
    )]
    UnknownVersion { found: u64, supported: u32 },
    #[error("corrupt summary: {0}")]
    Corrupt(String),
    #[error("summary is {bytes} bytes, more than the {max} a summary may take")]
    TooLarge { bytes: u64, max: usize },
    #[error("summary decompresses to more than the {max} bytes a summary may take")]
    DecompressesTooLarge { max: usize },
}

fn corrupt(what: impl Into<String>) -> SummaryError {
    SummaryError::Corrupt(what.into())
}

impl StoredSummary {
    /// The summary of one object read through an [`crate::ObjectSink`]: `problem` is the one
    /// met while feeding it (a [`crate::DecodeError`] from `feed`, a broken download), else
    /// the one its finish found.
    pub fn from_object(
        source: SourceObject,
        object: FinishedObject,
        problem: Option<String>,
    ) -> StoredSummary {
        StoredSummary {
            source,
            format: Some(object.format),
            gzip: object.gzip,
            problem: problem.or_else(|| object.error.map(|e| e.to_string())),
            first_line_at: object.span.first,
            last_line_at: object.span.last,
            summary: object.summary,
        }
    }

    /// The stored bytes: one line of JSON (1.5–2.5 KB for any object; gzip would halve that
    /// but cost a quarter more CPU to read, and bytes this few cost nothing to store).
    pub fn encode(&self) -> Vec<u8> {
        let mut json =
            serde_json::to_vec(&Wire::from(self)).expect("the wire form has only string map keys");
        json.push(b'\n');
        json
    }

    pub fn decode(bytes: &[u8]) -> Result<StoredSummary, SummaryError> {
        if bytes.len() > MAX_SUMMARY_BYTES {
            return Err(SummaryError::TooLarge {
                bytes: bytes.len() as u64,
                max: MAX_SUMMARY_BYTES,
            });
        }
        let inflated;
        let text = if bytes.starts_with(&GZIP_MAGIC) {
            inflated = inflate(bytes)?;
            &inflated[..]
        } else {
            bytes
        };
        let version = version_at_head(text)?;
        if version != u64::from(SUMMARY_VERSION) {
            return Err(SummaryError::UnknownVersion {
                found: version,
                supported: SUMMARY_VERSION,
            });
        }
        let wire: Wire = serde_json::from_slice(text).map_err(|e| corrupt(e.to_string()))?;
        wire.into_stored()
    }

    /// True when the bytes are a summary (by content, not by name): what `analyze` uses to
    /// tell a summary file from a log file.
    ///
    /// They are when, plain or after gzip, they start with a JSON object whose first member is
    /// `"logscale_summary"`, whatever its version: a summary of another version is still one,
    /// and [`StoredSummary::decode`] says which. Only the first bytes are looked at, so this
    /// takes the head of a file as well as the whole.
    pub fn recognise(bytes: &[u8]) -> bool {
        if bytes.starts_with(&GZIP_MAGIC) {
            let mut head = [0u8; RECOGNISE_BYTES];
            let mut filled = 0;
            let mut gz = flate2::read::GzDecoder::new(bytes);
            while filled < head.len() {
                match gz.read(&mut head[filled..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
            }
            version_member_at(&head[..filled]).is_some()
        } else {
            version_member_at(bytes).is_some()
        }
    }
}

/// Decompresses a gzip summary, refusing it past [`MAX_SUMMARY_BYTES`].
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, SummaryError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(MAX_SUMMARY_BYTES));
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_SUMMARY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(format!("gzip: {e}")))?;
    if out.len() > MAX_SUMMARY_BYTES {
        return Err(SummaryError::DecompressesTooLarge {
            max: MAX_SUMMARY_BYTES,
        });
    }
    Ok(out)
}

fn skip_json_space(text: &[u8]) -> &[u8] {
    let blanks = text
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &text[blanks..]
}

/// What follows `{ "logscale_summary" :` at the start of `text`, if it starts so.
fn version_member_at(text: &[u8]) -> Option<&[u8]> {
    let text = skip_json_space(text).strip_prefix(b"{")?;
    let text = skip_json_space(text).strip_prefix(VERSION_MEMBER)?;
    let text = skip_json_space(text).strip_prefix(b":")?;
    Some(skip_json_space(text))
}

/// The version number at the head of a summary, read before the rest, so that a summary of
/// another version is named as such even when its members would not parse as this one's.
fn version_at_head(text: &[u8]) -> Result<u64, SummaryError> {
    let value = version_member_at(text).ok_or(SummaryError::NotASummary)?;
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let ends_well = matches!(
        value.get(digits),
        Some(b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
    );
    if digits == 0 || digits > 19 || !ends_well {
        return Err(corrupt("\"logscale_summary\" is not a version number"));
    }
    std::str::from_utf8(&value[..digits])
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| corrupt("\"logscale_summary\" is not a version number"))
}

/// The document, member by member as the README documents it. Written with every member
/// present; a member missing where `null` is allowed reads as `null`, and any member not here
/// is refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    logscale_summary: u32,
    source: SourceObject,
    format: Option<Format>,
    gzip: bool,
    problem: Option<String>,
    first_line_at: Option<DateTime<Utc>>,
    last_line_at: Option<DateTime<Utc>>,
    summary: WireCounts,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCounts {
    lines: u64,
    bytes: u64,
    requests: u64,
    errors: u64,
    slow: u64,
    timed: u64,
    latency_us_sum: u64,
    non_request: u64,
    unparsed: u64,
    unparsed_kinds: BTreeMap<String, WireKind>,
    /// Requests per status code, only the codes seen (JSON keys are the codes as text).
    status: BTreeMap<u16, u64>,
    latency_ms: WireSketch,
    backfill_objects: u64,
    backfill_oldest: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireKind {
    count: u64,
    example: String,
}

/// The latency sketch. Bin `k` holds the latencies `v` (ms) with
/// `floor(ln v / ln γ) = k`, γ = 1.01 / 0.99 (1 % relative accuracy); latencies of at most
/// 1e-9 ms are in `zero`. `counts[i]` is bin `first_key + i`'s count; the first and last are
/// non-zero. `min` and `max` are decimal text, which every reader turns back into the same
/// double (JSON numbers may lose the last bit in some readers).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSketch {
    zero: u64,
    min: Option<String>,
    max: Option<String>,
    first_key: Option<i32>,
    counts: Vec<u64>,
}

impl From<&StoredSummary> for Wire {
    fn from(stored: &StoredSummary) -> Wire {
        let s = &stored.summary;
        Wire {
            logscale_summary: SUMMARY_VERSION,
            source: stored.source.clone(),
            format: stored.format,
            gzip: stored.gzip,
            problem: stored.problem.clone(),
            first_line_at: stored.first_line_at,
            last_line_at: stored.last_line_at,
            summary: WireCounts {
                lines: s.lines,
                bytes: s.bytes,
                requests: s.requests,
                errors: s.errors,
                slow: s.slow,
                timed: s.timed,
                latency_us_sum: s.latency_us_sum,
                non_request: s.non_request,
                unparsed: s.unparsed,
                unparsed_kinds: s
                    .unparsed_kinds
                    .iter()
                    .map(|(kind, k)| {
                        let wire = WireKind {
                            count: k.count,
                            example: k.example.clone(),
                        };
                        (kind.to_string(), wire)
                    })
                    .collect(),
                status: s.status_counts(),
                latency_ms: WireSketch::of(&s.latency.sketch()),
                backfill_objects: s.backfill_objects,
                backfill_oldest: s.backfill_oldest,
            },
        }
    }
}

/// What a [`DDSketch`] holds that its quantiles depend on: its positive bins (by key) and its
/// zero bucket. Read through the crate's serde form, the one way it exposes its bins.
#[derive(Debug, PartialEq)]
struct SketchBins {
    zero: u64,
    first_key: Option<i32>,
    counts: Vec<u64>,
}

impl SketchBins {
    fn of(sketch: &DDSketch) -> SketchBins {
        #[derive(Deserialize)]
        struct View {
            store: StoreView,
            zero_count: u64,
        }
        #[derive(Deserialize)]
        struct StoreView {
            bins: Vec<u64>,
            offset: i32,
        }
        let view: View = serde_json::to_value(sketch)
            .and_then(serde_json::from_value)
            .expect("a DDSketch serializes with its store's bins, offset and zero count");
        let bins = &view.store.bins;
        match (
            bins.iter().position(|n| *n > 0),
            bins.iter().rposition(|n| *n > 0),
        ) {
            (Some(first), Some(last)) => SketchBins {
                zero: view.zero_count,
                first_key: Some(view.store.offset + first as i32),
                counts: bins[first..=last].to_vec(),
            },
            _ => SketchBins {
                zero: view.zero_count,
                first_key: None,
                counts: Vec::new(),
            },
        }
    }
}

impl WireSketch {
    fn of(sketch: &DDSketch) -> WireSketch {
        let bins = SketchBins::of(sketch);
        WireSketch {
            zero: bins.zero,
            // `Display` for f64 writes the shortest text that parses back to the same value.
            min: sketch.min().map(|v| v.to_string()),
            max: sketch.max().map(|v| v.to_string()),
            first_key: bins.first_key,
            counts: bins.counts,
        }
    }

    /// The sketch these bins came from, answering every quantile as it did; `timed` requests
    /// must be exactly what the bins hold.
    fn rebuild(&self, timed: u64) -> Result<DDSketch, SummaryError> {
        let config = SketchConfig::defaults();
        let mut sketch = DDSketch::new(config);
        let held = self
            .counts
            .iter()
            .try_fold(self.zero, |sum, n| sum.checked_add(*n))
            .ok_or_else(|| corrupt("latency sketch counts overflow"))?;
        if held != timed {
            return Err(corrupt(format!(
                "the latency sketch holds {held} latencies but {timed} requests are timed"
            )));
        }
        if timed == 0 {
            if self.min.is_some() || self.max.is_some() || self.first_key.is_some() {
                return Err(corrupt(
                    "an empty latency sketch has a minimum, maximum or key",
                ));
            }
            return Ok(sketch);
        }
        let min = latency_text(self.min.as_deref(), "min")?;
        let max = latency_text(self.max.as_deref(), "max")?;
        if min > max {
            return Err(corrupt(format!("latency min {min} is above max {max}")));
        }
        if self.counts.len() > SKETCH_MAX_BINS {
            return Err(corrupt(format!(
                "the latency sketch has {} bins, more than {SKETCH_MAX_BINS}",
                self.counts.len()
            )));
        }
        let zero_bound = config.min_possible();
        if (self.zero > 0) != (min <= zero_bound) {
            return Err(corrupt(format!(
                "latency min {min} disagrees with the zero bucket's {} latencies",
                self.zero
            )));
        }
        // Every latency added below is within [min, max] and lands in the bin it stands for;
        // min and max are added themselves, so the sketch's own min and max come out exact.
        let mut placements: Vec<(f64, u64)> = Vec::with_capacity(self.counts.len() + 3);
        let mut min_placed = false;
        if self.zero > 0 {
            placements.push((min, self.zero));
            min_placed = true;
        }
        match self.first_key {
            None if !self.counts.is_empty() => {
                return Err(corrupt("latency bins without a first_key"));
            }
            None => {
                if max > zero_bound {
                    return Err(corrupt(format!(
                        "latency max {max} is above the zero bucket but no bin holds it"
                    )));
                }
                // All in the zero bucket: max must be one of them.
                let Some((_, zero)) = placements.pop() else {
                    return Err(corrupt("timed latencies in no bin and no zero bucket"));
                };
                if zero < 2 && min != max {
                    return Err(corrupt("one zero-bucket latency with two values"));
                }
                placements.push((min, zero - 1));
                placements.push((max, 1));
            }
            Some(first_key) => {
                let (Some(first), Some(last)) = (self.counts.first(), self.counts.last()) else {
                    return Err(corrupt("a first_key without latency bins"));
                };
                if *first == 0 || *last == 0 {
                    return Err(corrupt("the first and last latency bins must not be empty"));
                }
                let last_key = i64::from(first_key) + self.counts.len() as i64 - 1;
                if max <= zero_bound || i64::from(config.key(max)) != last_key {
                    return Err(corrupt(format!(
                        "latency max {max} is not in the last bin ({last_key})"
                    )));
                }
                // Where the minimum goes when the zero bucket does not hold it: its own bin is
                // the first, or (when the sketch ran out of bins and folded its lowest ones into
                // the first, so that it spans all of them) below the first.
                let mut min_in_first = false;
                let mut min_folded = false;
                if !min_placed {
                    let min_key = config.key(min);
                    if min_key == first_key {
                        min_in_first = true;
                    } else if min_key < first_key && self.counts.len() == SKETCH_MAX_BINS {
                        min_folded = true;
                    } else {
                        return Err(corrupt(format!(
                            "latency min {min} is not in the first bin ({first_key})"
                        )));
                    }
                }
                let bins = self.counts.len();
                for (i, count) in self.counts.iter().enumerate() {
                    let (key, mut count) = (first_key + i as i32, *count);
                    let last = i + 1 == bins;
                    if i == 0 && min_in_first {
                        if !last {
                            placements.push((min, count));
                            continue;
                        }
                        // The only bin holds both the minimum and the maximum.
                        if count < 2 && min != max {
                            return Err(corrupt("one latency in the only bin with two values"));
                        }
                        placements.push((min, count - 1));
                        count = 1;
                    } else if i == 0 && min_folded {
                        count -= 1;
                    }
                    if last {
                        placements.push((max, count));
                    } else if count > 0 {
                        let value = representative(&config, key).ok_or_else(|| {
                            corrupt(format!("latency bin {key} is outside the sketch's range"))
                        })?;
                        placements.push((value, count));
                    }
                }
                if min_folded {
                    // Last: below a sketch spanning all its bins, it folds into the first.
                    placements.push((min, 1));
                }
            }
        }
        for (value, count) in placements {
            sketch.add_with_count(value, count);
        }
        let rebuilt = SketchBins::of(&sketch);
        let stored = SketchBins {
            zero: self.zero,
            first_key: self.first_key,
            counts: self.counts.clone(),
        };
        if rebuilt != stored || sketch.min() != Some(min) || sketch.max() != Some(max) {
            return Err(corrupt(
                "the latency bins do not rebuild into the same sketch",
            ));
        }
        Ok(sketch)
    }
}

/// A latency in bin `key`, strictly inside it and above the zero bucket.
fn representative(config: &SketchConfig, key: i32) -> Option<f64> {
    let fits = |v: f64| v.is_finite() && v > config.min_possible() && config.key(v) == key;
    let middle = config.value(key);
    if fits(middle) {
        return Some(middle);
    }
    // The bin straddles the zero bucket's bound: search between the bound and the bin's top.
    let (mut low, mut high) = (config.min_possible(), config.pow_gamma(key + 1));
    for _ in 0..200 {
        let mid = low + (high - low) / 2.0;
        if fits(mid) {
            return Some(mid);
        }
        if mid <= config.min_possible() || config.key(mid) < key {
            low = mid;
        } else {
            high = mid;
        }
    }
    None
}

fn latency_text(text: Option<&str>, name: &str) -> Result<f64, SummaryError> {
    let text = text.ok_or_else(|| corrupt(format!("timed requests without a latency {name}")))?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(corrupt(format!(
            "latency {name} {text:?} is not a finite number of milliseconds ≥ 0"
        ))),
    }
}

/// The name this build uses for a stored unparsed kind: its own, or [`OTHER_UNPARSED_KIND`].
fn known_kind(name: &str) -> &'static str {
    UNPARSED_KINDS
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or(OTHER_UNPARSED_KIND)
}

impl Wire {
    fn into_stored(self) -> Result<StoredSummary, SummaryError> {
        let c = &self.summary;
        for (count, name) in [
            (c.lines, "lines"),
            (c.bytes, "bytes"),
            (c.requests, "requests"),
            (c.non_request, "non_request"),
            (c.unparsed, "unparsed"),
            (c.backfill_objects, "backfill_objects"),
        ] {
            if count > MAX_COUNT {
                return Err(corrupt(format!(
                    "{name} ({count}) is more than any object holds ({MAX_COUNT})"
                )));
            }
        }
        for (part, whole, part_name, whole_name) in [
            (c.errors, c.requests, "errors", "requests"),
            (c.timed, c.requests, "timed", "requests"),
            (c.slow, c.timed, "slow", "timed"),
        ] {
            if part > whole {
                return Err(corrupt(format!(
                    "{part_name} ({part}) exceed {whole_name} ({whole})"
                )));
            }
        }
        if c.timed == 0 && c.latency_us_sum != 0 {
            return Err(corrupt("a latency sum without timed requests"));
        }
        let mut status = Box::new([0u64; STATUS_CODES]);
        let mut with_status = 0u64;
        for (code, n) in &c.status {
            let slot = status
                .get_mut(usize::from(*code))
                .ok_or_else(|| corrupt(format!("status {code} is not a three-digit code")))?;
            *slot = *n;
            with_status = with_status
                .checked_add(*n)
                .ok_or_else(|| corrupt("status counts overflow"))?;
        }
        if with_status > c.requests {
            return Err(corrupt(format!(
                "status counts ({with_status}) exceed requests ({})",
                c.requests
            )));
        }
        let mut unparsed_kinds: BTreeMap<&'static str, UnparsedKind> = BTreeMap::new();
        let mut kinds_total = 0u64;
        for (name, kind) in &c.unparsed_kinds {
            if kind.count == 0 {
                return Err(corrupt(format!("unparsed kind {name:?} has a count of 0")));
            }
            if kind.example.chars().count() > EXAMPLE_CHARS {
                return Err(corrupt(format!(
                    "unparsed kind {name:?}'s example is longer than {EXAMPLE_CHARS} characters"
                )));
            }
            kinds_total = kinds_total
                .checked_add(kind.count)
                .ok_or_else(|| corrupt("unparsed counts overflow"))?;
            // Names map in order, so the first example of those read as "other" is kept, as
            // a merge keeps the first.
            unparsed_kinds
                .entry(known_kind(name))
                .and_modify(|k| k.count += kind.count)
                .or_insert_with(|| UnparsedKind {
                    count: kind.count,
                    example: kind.example.clone(),
                });
        }
        if kinds_total != c.unparsed {
            return Err(corrupt(format!(
                "unparsed kinds add up to {kinds_total}, not the {} unparsed lines",
                c.unparsed
            )));
        }
        if (c.backfill_objects > 0) != c.backfill_oldest.is_some() {
            return Err(corrupt(
                "backfill_oldest must be given exactly when backfill_objects is not 0",
            ));
        }
        match (self.first_line_at, self.last_line_at) {
            (Some(first), Some(last)) if first > last => {
                return Err(corrupt("first_line_at is after last_line_at"));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(corrupt("first_line_at and last_line_at come together"));
            }
            _ => {}
        }
        let latency = c.latency_ms.rebuild(c.timed)?;
        let summary = LogSummary {
            lines: c.lines,
            bytes: c.bytes,
            requests: c.requests,
            errors: c.errors,
            slow: c.slow,
            timed: c.timed,
            latency_us_sum: c.latency_us_sum,
            non_request: c.non_request,
            unparsed: c.unparsed,
            unparsed_kinds,
            latency: latency.into(),
            status,
            backfill_objects: c.backfill_objects,
            backfill_oldest: c.backfill_oldest,
        };
        Ok(StoredSummary {
            source: self.source,
            format: self.format,
            gzip: self.gzip,
            problem: self.problem,
            first_line_at: self.first_line_at,
            last_line_at: self.last_line_at,
            summary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loggen::{generate, LogGenSpec};
    use crate::{Encoding, ObjectSink, ParseOptions};
    use chrono::TimeZone;
    use std::io::Write;

    fn gzipped(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn source(key: &str) -> SourceObject {
        SourceObject {
            bucket: Some("app-logs".into()),
            key: key.into(),
            etag: Some("\"0123abcd\"".into()),
            size: 1234,
            last_modified: Some(Utc.with_ymd_and_hms(2024, 12, 8, 12, 5, 0).unwrap()),
        }
    }

    fn summarized(format: Format, lines: u64, seed: u64, gzip: bool) -> StoredSummary {
        let spec = LogGenSpec {
            seed,
            ..LogGenSpec::new(format, lines)
        };
        let mut text = Vec::new();
        generate(&spec, &mut text).unwrap();
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&text).unwrap();
            text = gz.finish().unwrap();
        }
        let mut sink = ObjectSink::new(Encoding::Auto, ParseOptions::default());
        for chunk in text.chunks(64 * 1024) {
            sink.feed(chunk).unwrap();
        }
        StoredSummary::from_object(source("logs/a.log"), sink.finish_object(), None)
    }

    fn with_noise() -> StoredSummary {
        let mut stored = summarized(Format::Json, 2000, 3, false);
        let s = &mut stored.summary;
        s.note_unparsed("invalid_json", b"{oops");
        s.note_unparsed("line_too_long", b"line longer than 1048576 bytes");
        s.add_request(Some(200), Some(0.0), false, 1000.0);
        s.add_request(None, None, true, 1000.0);
        stored.problem = Some("gzip stream ends early: unexpected end of file".into());
        stored
    }

    #[test]
    fn a_summary_round_trips_exactly_plain_or_gzip() {
        for format in Format::ALL {
            let stored = summarized(format, 5000, 9, format == Format::Alb);
            for bytes in [stored.encode(), gzipped(&stored.encode())] {
                assert!(StoredSummary::recognise(&bytes), "{format}");
                let back = StoredSummary::decode(&bytes).unwrap();
                assert_eq!(back, stored, "{format}");
                assert_eq!(back.summary, stored.summary);
                assert_eq!(back.encode(), stored.encode(), "{format}");
            }
        }
        let noisy = with_noise();
        assert_eq!(StoredSummary::decode(&noisy.encode()).unwrap(), noisy);
        let empty = StoredSummary {
            source: source("empty"),
            format: None,
            gzip: false,
            problem: None,
            first_line_at: None,
            last_line_at: None,
            summary: LogSummary::default(),
        };
        assert_eq!(StoredSummary::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn the_document_starts_with_its_version_and_names_its_members() {
        let json = String::from_utf8(summarized(Format::Original, 100, 1, false).encode()).unwrap();
        assert!(
            json.starts_with("{\"logscale_summary\":1,\"source\":{"),
            "{json}"
        );
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["format"], "original");
        assert_eq!(value["summary"]["requests"], 100);
        assert!(
            value["first_line_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("2024-12-08T12:00:00.")),
            "{json}"
        );
        assert!(value["summary"]["latency_ms"]["counts"].is_array());
    }

    #[test]
    fn only_summaries_are_recognised() {
        for bytes in [
            &b""[..],
            b"{",
            b"{\"logscale_summary\"",
            b"{\"level\":\"info\",\"logscale_summary\":1}",
            b"[2024-12-08 12:00:00] INFO - GET / - status: 200 - response_time: 1ms",
            b"\x1f\x8b",
            b"\x1f\x8b\x08\x00garbage",
        ] {
            assert!(!StoredSummary::recognise(bytes), "{bytes:?}");
            assert!(StoredSummary::decode(bytes).is_err(), "{bytes:?}");
        }
        assert!(StoredSummary::recognise(b" \n{ \"logscale_summary\" : 7"));
        assert_eq!(
            StoredSummary::decode(b"{\"level\":\"info\"}"),
            Err(SummaryError::NotASummary)
        );
    }

    #[test]
    fn another_version_is_refused_with_both_numbers() {
        let json = String::from_utf8(with_noise().encode()).unwrap();
        let newer = json.replacen("\"logscale_summary\":1", "\"logscale_summary\":2", 1);
        let err = StoredSummary::decode(newer.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            SummaryError::UnknownVersion {
                found: 2,
                supported: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "summary format version 2 is not one this build reads (it reads version 1); a \
             newer logscale wrote it?"
        );
        // Even when the rest is nothing this version knows.
        let err = StoredSummary::decode(b"{\"logscale_summary\": 3, \"bins\": \"zstd:...\"}");
        assert_eq!(
            err,
            Err(SummaryError::UnknownVersion {
                found: 3,
                supported: 1
            })
        );
        for bad in ["\"1\"", "1.0", "-1", "99999999999999999999", "1e0"] {
            let text = json.replacen(
                "\"logscale_summary\":1",
                &format!("\"logscale_summary\":{bad}"),
                1,
            );
            let err = StoredSummary::decode(text.as_bytes()).unwrap_err();
            assert!(matches!(err, SummaryError::Corrupt(_)), "{bad}: {err}");
        }
    }

    /// `json` with `from` replaced (once, and it must be there) by `to`, decoded.
    fn decode_edited(json: &str, from: &str, to: &str) -> Result<StoredSummary, SummaryError> {
        assert!(json.contains(from), "{from} not in {json}");
        StoredSummary::decode(json.replacen(from, to, 1).as_bytes())
    }

    #[test]
    fn inconsistent_counts_are_refused_naming_them() {
        let stored = with_noise();
        let json = String::from_utf8(stored.encode()).unwrap();
        let s = &stored.summary;
        let req = format!("\"requests\":{}", s.requests);
        let cases = [
            (
                req.clone(),
                format!("\"requests\":{}", s.errors - 1),
                "errors",
            ),
            (
                req.clone(),
                format!("\"requests\":{}", s.timed - 1),
                "exceed requests",
            ),
            (
                format!("\"slow\":{}", s.slow),
                format!("\"slow\":{}", s.timed + 1),
                "slow",
            ),
            (
                format!("\"unparsed\":{}", s.unparsed),
                "\"unparsed\":1".into(),
                "unparsed kinds add up to 2",
            ),
            (
                format!("\"timed\":{}", s.timed),
                format!("\"timed\":{}", s.timed - 1),
                "holds",
            ),
            (
                "\"backfill_objects\":0".into(),
                "\"backfill_objects\":2".into(),
                "backfill_oldest",
            ),
            ("\"zero\":1".into(), "\"zero\":0".into(), ""),
            (
                "\"min\":\"0\"".into(),
                "\"min\":\"NaN\"".into(),
                "latency min \"NaN\"",
            ),
            (
                "\"min\":\"0\"".into(),
                "\"min\":\"5\"".into(),
                "zero bucket",
            ),
            (
                "\"status\":{".into(),
                "\"status\":{\"1000\":1,".into(),
                "status 1000",
            ),
            (
                "\"status\":{".into(),
                "\"status\":{\"999\":100000,".into(),
                "status counts",
            ),
            ("\"count\":1,".into(), "\"count\":0,".into(), "count of 0"),
            (
                "\"gzip\":false".into(),
                "\"gzip\":false,\"extra\":1".into(),
                "unknown field `extra`",
            ),
            (
                "\"first_line_at\":".into(),
                "\"first_line_at\":null,\"x\":".into(),
                "unknown field",
            ),
        ];
        for (from, to, named) in cases {
            let err = decode_edited(&json, &from, &to).unwrap_err();
            assert!(
                matches!(err, SummaryError::Corrupt(_)),
                "{from} → {to}: {err}"
            );
            assert!(err.to_string().contains(named), "{from} → {to}: {err}");
        }
        let time = |t: &Option<DateTime<Utc>>| serde_json::to_string(t).unwrap();
        let later = time(&stored.last_line_at);
        let swapped = json
            .replacen(
                &format!("\"first_line_at\":{}", time(&stored.first_line_at)),
                &format!("\"first_line_at\":{later}X"),
                1,
            )
            .replacen(
                &format!("\"last_line_at\":{later}"),
                &format!("\"last_line_at\":{}", time(&stored.first_line_at)),
                1,
            )
            .replacen(&format!("{later}X"), &later, 1);
        let err = StoredSummary::decode(swapped.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("first_line_at is after"), "{err}");
    }

    #[test]
    fn unknown_unparsed_kinds_become_other_and_keep_their_counts() {
        let json = String::from_utf8(with_noise().encode()).unwrap();
        let renamed = json
            .replacen("\"invalid_json\"", "\"from_the_future\"", 1)
            .replacen("\"line_too_long\"", "\"zzz_other_future\"", 1);
        let back = StoredSummary::decode(renamed.as_bytes()).unwrap();
        let kinds = &back.summary.unparsed_kinds;
        assert_eq!(kinds.keys().copied().collect::<Vec<_>>(), ["other"]);
        assert_eq!(kinds["other"].count, 2);
        assert_eq!(kinds["other"].example, "{oops");
    }

    #[test]
    fn size_is_bounded_before_and_after_gzip() {
        let big = vec![b' '; MAX_SUMMARY_BYTES + 1];
        assert_eq!(
            StoredSummary::decode(&big),
            Err(SummaryError::TooLarge {
                bytes: MAX_SUMMARY_BYTES as u64 + 1,
                max: MAX_SUMMARY_BYTES
            })
        );
        let mut text = b"{\"logscale_summary\":1,\"problem\":\"".to_vec();
        text.resize(MAX_SUMMARY_BYTES + 10, b'a');
        let bomb = gzipped(&text);
        assert!(bomb.len() < 64 * 1024);
        assert!(StoredSummary::recognise(&bomb));
        assert_eq!(
            StoredSummary::decode(&bomb),
            Err(SummaryError::DecompressesTooLarge {
                max: MAX_SUMMARY_BYTES
            })
        );
    }

    /// A sketch of `values` and its summary, as `add_request` builds them.
    fn timed(values: &[f64]) -> StoredSummary {
        let mut stored = with_noise();
        stored.summary = LogSummary::default();
        for v in values {
            stored
                .summary
                .add_request(Some(200), Some(*v), false, 1000.0);
        }
        stored
    }

    #[test]
    fn sketches_at_the_edges_rebuild_exactly() {
        let edge = SketchConfig::defaults().min_possible();
        let cases: Vec<Vec<f64>> = vec![
            vec![0.0],
            vec![0.0, 0.0, 5e-10],
            vec![0.0, 3.0],
            vec![7.25],
            vec![7.25, 7.26],
            vec![edge * 1.0001, 0.0, 1.0],
            vec![edge * 1.0001, 1.0, edge * 1.00001],
            vec![1e-6, 1e300, 1e-6, 5.0],
            vec![f64::MAX, 0.5],
            // Wider than the sketch's 2048 bins: it folds its lowest into the first.
            (0..200).map(|n| 1e-8 * 1.3f64.powi(n)).collect(),
            (0..200).map(|n| 1e12 / 1.3f64.powi(n)).collect(),
            (0..300)
                .map(|n| {
                    if n % 2 == 0 {
                        0.0
                    } else {
                        1e-8 * 1.25f64.powi(n)
                    }
                })
                .collect(),
        ];
        for values in cases {
            let stored = timed(&values);
            let back = StoredSummary::decode(&stored.encode())
                .unwrap_or_else(|e| panic!("{values:?}: {e}"));
            assert_eq!(back.summary, stored.summary, "{values:?}");
            // And they go on merging as the originals do.
            let mut original = stored.summary.clone();
            let mut rebuilt = back.summary.clone();
            let more = timed(&[1e-7, 2.0, 1e15]).summary;
            original.merge(&more);
            rebuilt.merge(&more);
            assert_eq!(rebuilt, original, "{values:?}");
        }
    }

    /// Reads `input` through a sink in `chunk`-byte pieces.
    fn finished(input: &[u8], chunk: usize, options: &ParseOptions) -> FinishedObject {
        let mut sink = ObjectSink::new(Encoding::Auto, options.clone());
        for piece in input.chunks(chunk.max(1)) {
            sink.feed(piece).unwrap();
        }
        sink.finish_object()
    }

    #[test]
    fn the_span_is_the_first_and_last_line_time_whatever_the_chunks() {
        for format in Format::ALL {
            let mut text = Vec::new();
            generate(&LogGenSpec::new(format, 3000), &mut text).unwrap();
            let lines: Vec<&[u8]> = text
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            let first = crate::line_time(format, lines[0]).unwrap();
            let last = crate::line_time(format, lines[lines.len() - 1]).unwrap();
            assert!(first < last);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&text).unwrap();
            let gz = gz.finish().unwrap();
            let unterminated = text.trim_ascii_end();
            for (label, input) in [
                ("plain", &text[..]),
                ("gzip", &gz[..]),
                ("no final newline", unterminated),
            ] {
                for chunk in [1, 100, 4096, 65536, input.len()] {
                    for options in [ParseOptions::default(), ParseOptions::with_format(format)] {
                        let object = finished(input, chunk, &options);
                        let what = format!("{format} {label} in chunks of {chunk}");
                        assert_eq!(object.span.first, Some(first), "{what}");
                        assert_eq!(object.span.last, Some(last), "{what}");
                        assert_eq!(object.gzip, label == "gzip", "{what}");
                        let stored = StoredSummary::from_object(source("k"), object, None);
                        assert_eq!(
                            (stored.first_line_at, stored.last_line_at),
                            (Some(first), Some(last))
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_span_takes_the_earliest_and_latest_sampled_and_is_empty_without_times() {
        // A late line first, then earlier ones: the first line is the latest time.
        let text = b"[2024-12-08 12:10:00.000] INFO - GET / - status: 200 - response_time: 1ms\n\
[2024-12-08 12:00:00.000] INFO - GET / - status: 200 - response_time: 1ms\n\
no time here\n\n";
        let at = |m| Utc.with_ymd_and_hms(2024, 12, 8, 12, m, 0).unwrap();
        // Read whole: the first line, and the last line with a time (the stray one after it
        // and the blank line are passed over).
        let object = finished(text, text.len(), &ParseOptions::default());
        assert_eq!(
            (object.span.first, object.span.last),
            (Some(at(0)), Some(at(10)))
        );
        // Pinned (no head held back for detection), each chunk of 80 bytes ends one line.
        let object = finished(text, 80, &ParseOptions::with_format(Format::Original));
        assert_eq!(
            (object.span.first, object.span.last),
            (Some(at(0)), Some(at(10)))
        );
        // More than four timeless lines at the end of the one chunk hide the second line.
        let mut hidden = text.to_vec();
        hidden.extend_from_slice(b"a\nb\nc\n");
        let object = finished(&hidden, hidden.len(), &ParseOptions::default());
        assert_eq!(
            (object.span.first, object.span.last),
            (Some(at(10)), Some(at(10)))
        );
        let object = finished(b"no time\nnor here\n", 3, &ParseOptions::default());
        assert_eq!(object.span, crate::LineSpan::default());
        let object = finished(b"", 3, &ParseOptions::default());
        assert_eq!(
            (object.span, object.gzip),
            (crate::LineSpan::default(), false)
        );
    }

    #[test]
    fn a_backfill_spans_its_first_time_only() {
        let mut text = Vec::new();
        generate(&LogGenSpec::new(Format::Alb, 500), &mut text).unwrap();
        let first = crate::line_time(Format::Alb, text.split(|b| *b == b'\n').next().unwrap());
        let options = ParseOptions {
            backfill_before: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            ..ParseOptions::default()
        };
        let object = finished(&text, 4096, &options);
        assert_eq!(object.summary.backfill_objects, 1);
        assert_eq!((object.span.first, object.span.last), (first, first));
    }

    #[test]
    fn every_unparsed_kind_the_parsers_note_is_known() {
        let sources = [
            include_str!("alb.rs"),
            include_str!("combined.rs"),
            include_str!("json.rs"),
            include_str!("original.rs"),
            include_str!("lib.rs"),
        ];
        let mut found = 0;
        for source in sources {
            for call in source.split("note_unparsed(\"").skip(1) {
                let kind = &call[..call.find('"').unwrap()];
                assert!(
                    UNPARSED_KINDS.contains(&kind),
                    "{kind} is not in UNPARSED_KINDS"
                );
                found += 1;
            }
        }
        assert!(found >= 7, "{found}");
        assert!(UNPARSED_KINDS.contains(&OTHER_UNPARSED_KIND));
    }
}
