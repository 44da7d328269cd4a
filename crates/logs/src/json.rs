//! JSON lines: one object per line, with keys that differ per application. A mapping says
//! which top-level keys hold the status, the latency (several candidates, first present wins,
//! with a unit) and the level. Only those keys are decoded; every other value is skipped
//! without being built, and keys without escapes are borrowed, not copied.
//!
//! A line with a status or a latency is a request; an object with neither is a non-request
//! event. By default an error is a level of error/fatal/critical (any case) or a status ≥ 500.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::timestamp::{self, Zone};
use super::{count_request, ErrorRule, JsonMapping, LogSummary, ParseOptions};

const ERROR_LEVELS: [&str; 8] = [
    "error", "err", "fatal", "critical", "crit", "alert", "emerg", "panic",
];

/// Folds one non-blank line into `summary`.
pub fn parse_line(line: &[u8], options: &ParseOptions, summary: &mut LogSummary) {
    let trimmed = line.trim_ascii();
    if trimmed.first() != Some(&b'{') {
        summary.note_unparsed("json_not_object", line);
        return;
    }
    let mut de = serde_json::Deserializer::from_slice(trimmed);
    let picked = match (Pick(&options.json)).deserialize(&mut de).and_then(|p| {
        de.end()?;
        Ok(p)
    }) {
        Ok(p) => p,
        Err(_) => {
            summary.note_unparsed("invalid_json", line);
            return;
        }
    };
    if picked.status.is_none() && picked.latency.is_none() {
        summary.non_request += 1;
        return;
    }
    let (by_words, by_status) = options.errors.resolve(ErrorRule::Either);
    let error =
        (by_words && picked.error_level) || (by_status && picked.status.is_some_and(|s| s >= 500));
    let latency = picked
        .latency
        .map(|(_, v)| options.json.latency_unit.to_ms(v));
    count_request(summary, options, picked.status, latency, error);
}

/// Whether a line looks like a JSON object, for detection.
pub fn looks_like(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.first() == Some(&b'{') && t.last() == Some(&b'}')
}

/// The keys that may hold a line's time, the earlier preferred: common choices of structured
/// loggers (`time` in Go's slog and pino, `timestamp`, Logstash's `@timestamp`, `ts` in zap).
pub const TIME_KEYS: [&str; 4] = ["time", "timestamp", "@timestamp", "ts"];

/// The line's time: the value of the first of [`TIME_KEYS`] (in that order of preference) that
/// holds one, either an RFC 3339 string with a zone (`2024-12-08T12:34:56.789Z`,
/// `…+02:00`) or a number of epoch seconds (milliseconds when above 1e11). A string without a
/// zone is no time here: it could be any zone's. Only the line's top-level keys are looked at;
/// a line that is not one valid JSON object has no time.
pub fn line_time(line: &[u8]) -> Option<DateTime<Utc>> {
    let trimmed = line.trim_ascii();
    if trimmed.first() != Some(&b'{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_slice(trimmed);
    let found = PickTime.deserialize(&mut de).ok()?;
    de.end().ok()?;
    found.map(|(_, time)| time)
}

/// Decodes one object, keeping only the best-ranked readable time among [`TIME_KEYS`].
struct PickTime;

impl<'de> DeserializeSeed<'de> for PickTime {
    type Value = Option<(usize, DateTime<Utc>)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PickTime {
    type Value = Option<(usize, DateTime<Utc>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut best: Option<(usize, DateTime<Utc>)> = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let Some(rank) = TIME_KEYS.iter().position(|k| *k == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let time = match map.next_value::<Scalar>()? {
                Scalar::Text(text) => timestamp::iso8601(text.trim().as_bytes(), Zone::Required),
                Scalar::Number(n) => timestamp::epoch(n),
                Scalar::Other => None,
            };
            if let Some(time) = time {
                if best.is_none_or(|(r, _)| rank < r) {
                    best = Some((rank, time));
                }
            }
        }
        Ok(best)
    }
}

#[derive(Default)]
struct Picked {
    status: Option<u16>,
    /// (index of the candidate key, value): a lower index wins.
    latency: Option<(usize, f64)>,
    error_level: bool,
}

/// Decodes one object, keeping only the mapped keys.
struct Pick<'m>(&'m JsonMapping);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Picked;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Picked, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Picked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked, A::Error> {
        let mapping = self.0;
        let mut p = Picked::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == mapping.status {
                p.status = map.next_value::<Scalar>()?.status();
            } else if let Some(rank) = mapping.latency.iter().position(|k| *k == key) {
                if let Some(v) = map.next_value::<Scalar>()?.number() {
                    if p.latency.is_none_or(|(best, _)| rank < best) {
                        p.latency = Some((rank, v));
                    }
                }
            } else if key == mapping.level {
                p.error_level = map.next_value::<Scalar>()?.is_error_level();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(p)
    }
}

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// A value of interest: a number, a string, or anything else (skipped).
enum Scalar<'a> {
    Number(f64),
    Text(Cow<'a, str>),
    Other,
}

impl Scalar<'_> {
    fn number(&self) -> Option<f64> {
        match self {
            Scalar::Number(n) => Some(*n),
            Scalar::Text(t) => t.trim().parse().ok(),
            Scalar::Other => None,
        }
        .filter(|v: &f64| v.is_finite())
    }

    fn status(&self) -> Option<u16> {
        self.number()
            .filter(|n| n.fract() == 0.0 && (100.0..=999.0).contains(n))
            .map(|n| n as u16)
    }

    fn is_error_level(&self) -> bool {
        match self {
            Scalar::Text(t) => ERROR_LEVELS
                .iter()
                .any(|l| t.trim().eq_ignore_ascii_case(l)),
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(v as f64))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, TimeUnit};

    fn parse_with(lines: &[&str], options: &ParseOptions) -> LogSummary {
        let mut s = LogSummary::default();
        for l in lines {
            Format::Json.parse_line(l.as_bytes(), options, &mut s);
        }
        s
    }

    #[test]
    fn table_of_lines() {
        let o = ParseOptions::default();
        // (line, requests, errors, latency µs sum, non_request, unparsed)
        let cases: &[(&str, u64, u64, u64, u64, u64)] = &[
            (
                r#"{"ts":"2024-12-08T12:00:00Z","level":"info","status":200,"duration_ms":12.5,"path":"/a"}"#,
                1,
                0,
                12_500,
                0,
                0,
            ),
            (
                r#"{"level":"ERROR","status":200,"latency":3}"#,
                1,
                1,
                3_000,
                0,
                0,
            ),
            (r#"{"status":"503","duration_ms":"40"}"#, 1, 1, 40_000, 0, 0),
            (
                r#"{"status":404,"extra":{"nested":[1,2,{"a":null}]},"duration":7}"#,
                1,
                0,
                7_000,
                0,
                0,
            ),
            (r#"{"duration_ms":5,"duration":999}"#, 1, 0, 5_000, 0, 0),
            (r#"{"duration":999,"duration_ms":5}"#, 1, 0, 5_000, 0, 0),
            (r#"{"level":"info","msg":"started"}"#, 0, 0, 0, 1, 0),
            (r#"{"status":true,"duration_ms":null}"#, 0, 0, 0, 1, 0),
            (r#"{"st\u0061tus":201}"#, 1, 0, 0, 0, 0),
            (r#"[1,2,3]"#, 0, 0, 0, 0, 1),
            (r#""just a string""#, 0, 0, 0, 0, 1),
            (r#"{"status":200"#, 0, 0, 0, 0, 1),
            (r#"{"status":200} trailing"#, 0, 0, 0, 0, 1),
            ("not json at all", 0, 0, 0, 0, 1),
        ];
        for (line, req, err, us, nonreq, unp) in cases {
            let s = parse_with(&[line], &o);
            assert_eq!(
                (
                    s.requests,
                    s.errors,
                    s.latency_us_sum,
                    s.non_request,
                    s.unparsed
                ),
                (*req, *err, *us, *nonreq, *unp),
                "{line}"
            );
        }
    }

    #[test]
    fn mapping_and_unit_are_configurable() {
        let o = ParseOptions {
            json: JsonMapping {
                status: "code".into(),
                latency: vec!["rt".into()],
                latency_unit: TimeUnit::Seconds,
                level: "severity".into(),
            },
            ..ParseOptions::default()
        };
        let s = parse_with(
            &[r#"{"code":500,"rt":0.25,"severity":"warn","status":200}"#],
            &o,
        );
        assert_eq!((s.requests, s.errors, s.latency_us_sum), (1, 1, 250_000));
        assert_eq!(s.status_counts().get(&500), Some(&1));
    }

    #[test]
    fn not_an_object_and_invalid_are_separate_kinds() {
        let s = parse_with(&["[1]", "{bad", "{\"a\":1}{"], &ParseOptions::default());
        assert_eq!(s.unparsed_kinds["json_not_object"].count, 1);
        assert_eq!(s.unparsed_kinds["invalid_json"].count, 2);
    }
}
