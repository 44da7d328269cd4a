//! The log engine's promises, checked on generated corpora: exact counts and percentiles
//! within 1 % in every format, merging per-object results equals parsing the concatenation,
//! and no input makes a parser panic.

use logscale_logs::loggen::{generate, LogGenSpec, LogGenStats};
use logscale_logs::{
    summarize_bytes, DecodeError, Encoding, Format, LogSummary, ObjectSink, ParseOptions,
};
use proptest::prelude::*;

/// Bytes read from a file at a time by `logscale analyze`.
const READ_CHUNK: usize = 128 * 1024;

fn corpus(format: Format, lines: u64, seed: u64) -> (Vec<u8>, LogGenStats) {
    let spec = LogGenSpec {
        seed,
        error_share: 0.05,
        slow_share: 0.08,
        keep_latencies: true,
        ..LogGenSpec::new(format, lines)
    };
    let mut buf = Vec::new();
    let stats = generate(&spec, &mut buf).unwrap();
    (buf, stats)
}

/// Reads `input` as `logscale analyze` and `fetch` do: in chunks, gzip recognized by the sink.
fn read_in_chunks(input: &[u8]) -> (LogSummary, Format, Option<DecodeError>) {
    let mut sink = ObjectSink::new(Encoding::Auto, ParseOptions::default());
    for chunk in input.chunks(READ_CHUNK) {
        if let Err(e) = sink.feed(chunk) {
            let (s, format, _) = sink.finish();
            return (s, format, Some(e));
        }
    }
    sink.finish()
}

#[test]
fn exact_counts_and_percentiles_within_one_percent_in_every_format() {
    for format in Format::ALL {
        let (text, stats) = corpus(format, 50_000, 11);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &text).unwrap();
        let gz = gz.finish().unwrap();
        for (label, input) in [("plain", &text), ("gzip", &gz)] {
            let (s, detected, problem) = read_in_chunks(input);
            let what = format!("{format}/{label}");
            assert_eq!(detected, format, "{what}");
            assert!(problem.is_none(), "{what}: {problem:?}");
            assert_eq!(
                (s.requests, s.errors, s.slow, s.timed, s.unparsed),
                (stats.lines, stats.errors, stats.slow, stats.timed, 0),
                "{what}"
            );
            let mut sorted = stats.latencies_ms.clone();
            sorted.sort_by(f64::total_cmp);
            let exact_sum_us: u64 = sorted.iter().map(|ms| (ms * 1000.0).round() as u64).sum();
            assert_eq!(s.latency_us_sum, exact_sum_us, "{what}: mean must be exact");
            for q in [0.5, 0.9, 0.95, 0.99] {
                let exact = sorted[(q * (sorted.len() - 1) as f64) as usize];
                let got = s.quantile_ms(q).unwrap();
                assert!(
                    (got - exact).abs() <= 0.01 * exact,
                    "{what} p{}: {got} vs exact {exact}",
                    q * 100.0
                );
            }
        }
    }
}

/// Cuts `text` into pieces at line boundaries given by `cuts` (indexes into its lines).
fn split_at_lines(text: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (lines.len() + 1)).collect();
    points.push(0);
    points.push(lines.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| lines[w[0]..w[1]].concat())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merging_objects_equals_parsing_their_concatenation(
        format in 0usize..4,
        seed in any::<u64>(),
        lines in 0u64..400,
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        garbage in prop::collection::vec((any::<usize>(), prop::collection::vec(any::<u8>(), 0..60)), 0..5),
    ) {
        let format = Format::ALL[format];
        let (mut text, _) = corpus(format, lines, seed);
        // Stray lines of junk between the records (newlines removed so each stays one line).
        for (at, junk) in garbage {
            let mut junk: Vec<u8> = junk.into_iter().filter(|b| *b != b'\n').collect();
            junk.push(b'\n');
            let line_starts: Vec<usize> = std::iter::once(0)
                .chain(text.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                .collect();
            let at = line_starts[at % line_starts.len()];
            text.splice(at..at, junk);
        }
        let options = ParseOptions::with_format(format);
        let whole = summarize_bytes(&text, &options);
        let mut merged = LogSummary::default();
        for piece in split_at_lines(&text, &cuts) {
            merged.merge(&summarize_bytes(&piece, &options));
        }
        prop_assert_eq!(merged, whole);
    }

    #[test]
    fn no_input_makes_a_parser_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        for format in Format::ALL {
            let s = summarize_bytes(&bytes, &ParseOptions::with_format(format));
            prop_assert!(s.requests + s.unparsed + s.non_request <= s.lines);
        }
        let s = summarize_bytes(&bytes, &ParseOptions::default());
        prop_assert_eq!(s.bytes, bytes.len() as u64);
    }
}
