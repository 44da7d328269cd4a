//! Parsing throughput per format (bytes of log text per second, one core), plain and gzip.
//! `cargo bench -p logscale-logs --bench parse` (builds no AWS SDK); the whole-program figures
//! come from scripts/bench.py.

use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logscale_logs::loggen::{generate, LogGenSpec};
use logscale_logs::{summarize_bytes, Encoding, Format, ObjectSink, ParseOptions};

const LINES: u64 = 200_000;

fn corpus(format: Format) -> Vec<u8> {
    let mut buf = Vec::new();
    generate(&LogGenSpec::new(format, LINES), &mut buf).expect("in-memory generation");
    buf
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.sample_size(20);
    for format in Format::ALL {
        let text = corpus(format);
        group.throughput(Throughput::Bytes(text.len() as u64));
        for (label, options) in [
            ("pinned", ParseOptions::with_format(format)),
            ("auto", ParseOptions::default()),
        ] {
            group.bench_function(format!("{format}/{label}"), |b| {
                b.iter(|| summarize_bytes(&text, &options).requests)
            });
        }
    }
    let text = corpus(Format::Original);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).expect("in-memory gzip");
    let gz = gz.finish().expect("in-memory gzip");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("original/gzip", |b| {
        b.iter(|| {
            let mut sink = ObjectSink::new(Encoding::Auto, ParseOptions::default());
            for chunk in gz.chunks(256 * 1024) {
                sink.feed(chunk).expect("valid gzip");
            }
            sink.finish().0.requests
        })
    });
    group.bench_function("gzip-decode-only", |b| {
        b.iter(|| {
            let mut out = flate2::write::MultiGzDecoder::new(std::io::sink());
            for chunk in gz.chunks(256 * 1024) {
                out.write_all(chunk).expect("valid gzip");
            }
            out.try_finish().expect("valid gzip");
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
