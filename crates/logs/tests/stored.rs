//! Stored summaries keep their promise: merging the decoded summaries of N objects equals
//! reading the N objects directly (every count exact, every quantile at a 0.1 % step the
//! same), in every format, plain or gzip; and decoding takes any bytes without panicking.

use std::io::Write;

use logscale_logs::loggen::{generate, LogGenSpec};
use logscale_logs::stored::{SourceObject, StoredSummary, SummaryError, SUMMARY_VERSION};
use logscale_logs::{summarize_bytes, Encoding, Format, LogSummary, ObjectSink, ParseOptions};
use proptest::prelude::*;
use serde_json::Value;

/// One generated object: its text, and its bytes as stored (gzip or not).
struct Object {
    text: Vec<u8>,
    stored: Vec<u8>,
}

fn gzipped(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    gz.finish().unwrap()
}

/// `lines` lines of `format` from `seed`, with a few lines no format reads and blank lines
/// mixed in when `noise` (so unparsed kinds and their examples merge too).
fn object(
    format: Format,
    lines: u64,
    seed: u64,
    shares: (f64, f64),
    noise: bool,
    gzip: bool,
) -> Object {
    let spec = LogGenSpec {
        seed,
        error_share: shares.0,
        slow_share: shares.1,
        ..LogGenSpec::new(format, lines)
    };
    let mut text = Vec::new();
    generate(&spec, &mut text).unwrap();
    if noise {
        let mut noisy = Vec::with_capacity(text.len() + 200);
        for (n, line) in text.split_inclusive(|b| *b == b'\n').enumerate() {
            noisy.extend_from_slice(line);
            if n as u64 % (seed % 7 + 3) == 1 {
                noisy.extend_from_slice(format!("garbage {seed} {n}\n\n").as_bytes());
            }
        }
        text = noisy;
    }
    let stored = if gzip { gzipped(&text) } else { text.clone() };
    Object { text, stored }
}

/// Reads one object as the summarizer does (chunks, gzip recognised by its bytes) and returns
/// its summary's stored bytes.
fn summarize(object: &Object, key: &str, options: &ParseOptions, chunk: usize) -> Vec<u8> {
    let mut sink = ObjectSink::new(Encoding::Auto, options.clone());
    let mut problem = None;
    for piece in object.stored.chunks(chunk) {
        if let Err(e) = sink.feed(piece) {
            problem = Some(e.to_string());
            break;
        }
    }
    let source = SourceObject {
        bucket: Some("app-logs".into()),
        key: key.into(),
        etag: Some(format!("\"{key}\"")),
        size: object.stored.len() as u64,
        last_modified: None,
    };
    StoredSummary::from_object(source, sink.finish_object(), problem).encode()
}

/// What the direct read of one object gives (the cycle's direct mode).
fn direct(object: &Object, options: &ParseOptions) -> LogSummary {
    let mut sink = ObjectSink::new(Encoding::Auto, options.clone());
    for piece in object.stored.chunks(256 * 1024) {
        sink.feed(piece).unwrap();
    }
    let (summary, _, problem) = sink.finish();
    assert!(problem.is_none(), "{problem:?}");
    summary
}

/// Every count and every quantile at a 0.1 % step, named when they differ.
fn assert_same(merged: &LogSummary, want: &LogSummary, what: &str) {
    for n in 0..=1000 {
        let q = f64::from(n) / 1000.0;
        assert_eq!(
            merged.quantile_ms(q),
            want.quantile_ms(q),
            "{what}: quantile {q}"
        );
    }
    assert_eq!(merged.status_counts(), want.status_counts(), "{what}");
    assert_eq!(merged, want, "{what}");
}

fn format_strategy() -> impl Strategy<Value = Format> {
    prop::sample::select(Format::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn merged_summaries_equal_the_direct_read(
        format in format_strategy(),
        gzip in any::<bool>(),
        pinned in any::<bool>(),
        objects in prop::collection::vec(
            (0u64..2500, any::<u64>(), 0.0f64..0.5, 0.0f64..0.5, any::<bool>()),
            1..6,
        ),
        chunk in prop::sample::select(vec![512usize, 4096, 65536]),
    ) {
        let options = if pinned {
            ParseOptions::with_format(format)
        } else {
            ParseOptions::default()
        };
        let objects: Vec<Object> = objects
            .iter()
            .map(|(lines, seed, errors, slow, noise)| {
                object(format, *lines, *seed, (*errors, *slow), *noise, gzip)
            })
            .collect();

        let mut merged = LogSummary::default();
        let mut direct_merged = LogSummary::default();
        for (n, object) in objects.iter().enumerate() {
            let bytes = summarize(object, &format!("logs/{n}.log"), &options, chunk);
            prop_assert!(StoredSummary::recognise(&bytes));
            let decoded = StoredSummary::decode(&bytes).unwrap();
            prop_assert_eq!(&StoredSummary::decode(&gzipped(&bytes)).unwrap(), &decoded);
            prop_assert_eq!(decoded.gzip, gzip && !object.stored.is_empty());
            prop_assert_eq!(decoded.problem, None);
            merged.merge(&decoded.summary);
            direct_merged.merge(&direct(object, &options));
        }
        let what = format!("{format} gzip={gzip} pinned={pinned} objects={}", objects.len());
        assert_same(&merged, &direct_merged, &what);

        // And what one pass over all the text gives: the direct read of their concatenation.
        let all: Vec<u8> = objects.iter().flat_map(|o| o.text.iter().copied()).collect();
        let whole = summarize_bytes(&all, &ParseOptions::with_format(format));
        if pinned || objects.iter().all(|o| !o.text.is_empty()) {
            assert_same(&merged, &whole, &format!("{what}, concatenated"));
        }
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let _ = StoredSummary::recognise(&bytes);
        let _ = StoredSummary::decode(&bytes);
        let mut prefixed = b"{\"logscale_summary\":1,".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = StoredSummary::decode(&prefixed);
        let _ = StoredSummary::decode(&gzipped(&prefixed));
    }

    #[test]
    fn decode_never_panics_on_mutated_bytes(
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        gzip in any::<bool>(),
    ) {
        let valid = valid_summary(seed);
        let mut bytes = if gzip { gzipped(&valid.encode()) } else { valid.encode() };
        for (at, byte, how) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = at.index(bytes.len());
            match how {
                0 => bytes[at] = byte,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, byte),
            }
        }
        check_decoded(&bytes, &valid.summary);
    }

    #[test]
    fn decode_never_panics_on_mutated_members(
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), replacement()), 1..4),
    ) {
        let valid = valid_summary(seed);
        let mut doc: Value = serde_json::from_slice(&valid.encode()).unwrap();
        for (at, value) in edits {
            let paths = leaf_paths(&doc, String::new());
            let path = &paths[at.index(paths.len())];
            *doc.pointer_mut(path).unwrap() = value;
        }
        check_decoded(&version_first(doc), &valid.summary);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Members keep their type but take other values: the counts' consistency checks, not the
    /// JSON types, have to refuse what does not hold together.
    #[test]
    fn decode_never_panics_on_values_that_keep_their_type(
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..6, any::<u64>()), 1..4),
    ) {
        let valid = valid_summary(seed);
        let mut doc: Value = serde_json::from_slice(&valid.encode()).unwrap();
        for (at, how, n) in edits {
            let paths: Vec<String> = leaf_paths(&doc, String::new())
                .into_iter()
                .filter(|p| p != "/logscale_summary")
                .collect();
            let path = &paths[at.index(paths.len())];
            let leaf = doc.pointer_mut(path).unwrap();
            *leaf = same_type(leaf, how, n);
        }
        check_decoded(&version_first(doc), &valid.summary);
    }
}

/// Another value of `old`'s type: a number nearby or anywhere, other text (a number as text,
/// where latencies are text), an array one longer or shorter.
fn same_type(old: &Value, how: u8, n: u64) -> Value {
    match old {
        Value::Number(number) => {
            let v = number.as_i64().unwrap_or(0);
            match how {
                0 => Value::from(v.saturating_add(1)),
                1 => Value::from(v.saturating_sub(1)),
                2 => Value::from(n % 100),
                3 => Value::from(n),
                4 => Value::from(v.saturating_mul(2)),
                _ => Value::from(-(n as i64 % 5000)),
            }
        }
        Value::String(text) => match how {
            0 => Value::from(format!("{}", n % 10_000)),
            1 => Value::from(format!("{}", f64::from_bits(n))),
            2 => Value::from(format!("{text}x")),
            3 => Value::from(format!("{}", (n % 1_000_000) as f64 / 997.0)),
            _ => Value::from(format!("2024-12-0{}T12:00:00Z", n % 9 + 1)),
        },
        Value::Array(items) if how % 2 == 0 => {
            let mut items = items.clone();
            items.push(Value::from(n % 3));
            Value::Array(items)
        }
        Value::Array(items) => Value::Array(items.iter().skip(1).cloned().collect()),
        Value::Bool(b) => Value::from(!b),
        other => other.clone(),
    }
}

/// A small summary with a bit of everything: requests, errors, latencies, statuses, unparsed
/// lines, a line span.
fn valid_summary(seed: u64) -> StoredSummary {
    let format = Format::ALL[(seed % 4) as usize];
    let object = object(format, 40 + seed % 50, seed, (0.2, 0.2), true, false);
    StoredSummary::decode(&summarize(
        &object,
        "logs/x.log",
        &ParseOptions::default(),
        4096,
    ))
    .unwrap()
}

/// Decoding `bytes` returns; what it accepts holds together, merges with another summary and
/// answers quantiles.
fn check_decoded(bytes: &[u8], other: &LogSummary) {
    let Ok(decoded) = StoredSummary::decode(bytes) else {
        return;
    };
    let s = &decoded.summary;
    assert!(s.errors <= s.requests && s.timed <= s.requests && s.slow <= s.timed);
    assert!(s.status_counts().values().sum::<u64>() <= s.requests);
    assert_eq!(
        s.unparsed_kinds.values().map(|k| k.count).sum::<u64>(),
        s.unparsed
    );
    for kind in s.unparsed_kinds.keys() {
        assert!(
            logscale_logs::summary::UNPARSED_KINDS.contains(kind),
            "{kind}"
        );
    }
    for n in 0..=100 {
        let _ = s.quantile_ms(f64::from(n) / 100.0);
    }
    let mut merged = other.clone();
    merged.merge(s);
    assert_eq!(merged.requests, other.requests + s.requests);
    // What was accepted is written back as it was read.
    assert_eq!(StoredSummary::decode(&decoded.encode()).unwrap(), decoded);
}

/// `doc` as text with its `logscale_summary` member first, where a summary has it (a
/// `serde_json::Value` keeps its members sorted). A document without one stays as it is.
fn version_first(mut doc: Value) -> Vec<u8> {
    let version = doc
        .as_object_mut()
        .and_then(|m| m.remove("logscale_summary"));
    let rest = serde_json::to_string(&doc).unwrap();
    match (version, rest.strip_prefix('{')) {
        (Some(v), Some("}")) => format!("{{\"logscale_summary\":{v}}}"),
        (Some(v), Some(members)) => format!("{{\"logscale_summary\":{v},{members}"),
        _ => rest,
    }
    .into_bytes()
}

/// JSON pointers to every leaf of `value` (and to every empty array or object).
fn leaf_paths(value: &Value, at: String) -> Vec<String> {
    match value {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .flat_map(|(k, v)| {
                leaf_paths(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                )
            })
            .chain(std::iter::once(at.clone()).filter(|a| !a.is_empty()))
            .collect(),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .flat_map(|(n, v)| leaf_paths(v, format!("{at}/{n}")))
            .chain(std::iter::once(at.clone()))
            .collect(),
        _ => vec![at],
    }
}

fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..5).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        "[a-z_0-9.:-]{0,12}".prop_map(Value::from),
        Just(Value::from("NaN")),
        Just(Value::from("1e400")),
        Just(Value::from(SUMMARY_VERSION + 1)),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([0, 1, 0])),
        Just(serde_json::json!({"1000": 1})),
        Just(serde_json::json!({"x": {"count": 1, "example": "e"}})),
    ]
}

#[test]
fn an_unknown_version_in_a_mutated_summary_is_named() {
    let valid = valid_summary(5);
    let mut doc: Value = serde_json::from_slice(&valid.encode()).unwrap();
    doc["logscale_summary"] = Value::from(SUMMARY_VERSION + 1);
    let err = StoredSummary::decode(&version_first(doc)).unwrap_err();
    assert_eq!(
        err,
        SummaryError::UnknownVersion {
            found: u64::from(SUMMARY_VERSION) + 1,
            supported: SUMMARY_VERSION
        }
    );
}

/// Bytes per summary, as stored (JSON) and gzip-compressed (default level), and the time to
/// decode one, for objects of 10,000 and 1,000,000 requests in every format:
/// `cargo test --release -p logscale-logs --test stored -- --ignored --nocapture summary_sizes`.
#[test]
#[ignore = "a measurement: run in release with --nocapture"]
fn summary_sizes() {
    for lines in [10_000u64, 1_000_000] {
        for format in Format::ALL {
            let object = object(format, lines, 1, (0.03, 0.05), false, false);
            let json = summarize(
                &object,
                "logs/2024/12/08/12/app.log.gz",
                &ParseOptions::default(),
                65536,
            );
            let decoded = StoredSummary::decode(&json).unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&json).unwrap();
            let gzip = gz.finish().unwrap();
            let runs = 2000;
            let time_us = |f: &dyn Fn()| {
                let started = std::time::Instant::now();
                for _ in 0..runs {
                    f();
                }
                started.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
            };
            let json_us = time_us(&|| {
                std::hint::black_box(StoredSummary::decode(std::hint::black_box(&json)).unwrap());
            });
            let gzip_us = time_us(&|| {
                std::hint::black_box(StoredSummary::decode(std::hint::black_box(&gzip)).unwrap());
            });
            let encode_us = time_us(&|| {
                std::hint::black_box(decoded.encode());
            });
            let doc: Value = serde_json::from_slice(&json).unwrap();
            let bins = doc["summary"]["latency_ms"]["counts"]
                .as_array()
                .unwrap()
                .len();
            println!(
                "{lines:>9} requests {format:<8}: {:>5} bytes JSON ({json_us:>5.1} µs to decode, \
                 {encode_us:>5.1} µs to encode), {:>5} bytes gzip ({gzip_us:>5.1} µs to decode), \
                 {bins} bins, {} text bytes",
                json.len(),
                gzip.len(),
                object.text.len(),
            );
        }
    }
}
