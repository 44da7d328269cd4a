//! `logscale analyze`: the same engine over local files (plain or gzip, `-` for stdin), one
//! thread per file up to the number of cores, results merged exactly. Reading is streamed in
//! fixed-size chunks, so memory does not grow with the input.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::parse::summary::LogMetrics;
use crate::parse::{Encoding, Format, LogSummary, ObjectSink, ParseOptions};

/// Bytes read from a file at a time.
pub const CHUNK: usize = 256 * 1024;

/// One input's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub name: String,
    /// The format used (detected with `auto`); `null` when the input could not be opened.
    pub format: Option<Format>,
    pub gzip: bool,
    pub bytes_read: u64,
    pub requests: u64,
    /// What went wrong, if anything; what was read before it still counts.
    pub problem: Option<String>,
}

/// Everything `analyze` found.
#[derive(Debug)]
pub struct Analysis {
    pub inputs: Vec<InputReport>,
    pub summary: LogSummary,
}

/// The `--json` output: the merged metrics plus one entry per input.
#[derive(Debug, Serialize)]
pub struct AnalysisJson {
    #[serde(flatten)]
    pub metrics: LogMetrics,
    pub inputs: Vec<InputReport>,
}

impl Analysis {
    pub fn to_json(&self) -> AnalysisJson {
        AnalysisJson {
            metrics: LogMetrics::from(&self.summary),
            inputs: self.inputs.clone(),
        }
    }
}

/// One input being read. Its sink recognizes gzip by the first two bytes, so a renamed file or
/// gzip on stdin works.
struct Reading {
    report: InputReport,
    sink: ObjectSink,
}

impl Reading {
    fn new(name: &str, options: &ParseOptions) -> Self {
        Reading {
            report: InputReport {
                name: name.to_string(),
                format: None,
                gzip: false,
                bytes_read: 0,
                requests: 0,
                problem: None,
            },
            sink: ObjectSink::new(Encoding::Auto, options.clone()),
        }
    }

    /// Feeds one chunk; false once the input is known to be corrupt.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        self.report.bytes_read += chunk.len() as u64;
        let fed = self.sink.feed(chunk);
        self.report.gzip = self.sink.encoding() == Encoding::Gzip;
        match fed {
            Ok(()) => true,
            Err(e) => {
                self.report.problem = Some(e.to_string());
                false
            }
        }
    }

    fn finish(mut self) -> (InputReport, LogSummary) {
        let (summary, format, finish_error) = self.sink.finish();
        if self.report.problem.is_none() {
            self.report.problem = finish_error.map(|e| e.to_string());
        }
        self.report.format = Some(format);
        self.report.requests = summary.requests;
        (self.report, summary)
    }
}

/// Reads one stream to the end, in [`CHUNK`]-sized reads. `progress` is told how many raw
/// bytes were read.
pub fn analyze_reader(
    name: &str,
    mut reader: impl Read,
    options: &ParseOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> (InputReport, LogSummary) {
    let mut buf = vec![0u8; CHUNK];
    let mut reading = Reading::new(name, options);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                reading.report.problem = Some(format!("read failed: {e}"));
                break;
            }
        };
        progress(n as u64);
        if !reading.feed(&buf[..n]) {
            break;
        }
    }
    reading.finish()
}

/// Analyzes `inputs` (paths, or `-` for stdin) on up to `threads` threads.
pub fn analyze_inputs(
    inputs: &[String],
    options: &ParseOptions,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Analysis {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(InputReport, LogSummary)>>> =
        Mutex::new(vec![None; inputs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, inputs.len().max(1)) {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = inputs.get(n) else { break };
                let result = analyze_one(name, options, progress);
                results.lock().expect("no thread panics holding it")[n] = Some(result);
            });
        }
    });
    let mut analysis = Analysis {
        inputs: Vec::with_capacity(inputs.len()),
        summary: LogSummary::default(),
    };
    for (report, summary) in results
        .into_inner()
        .expect("threads are done")
        .into_iter()
        .flatten()
    {
        analysis.summary.merge(&summary);
        analysis.inputs.push(report);
    }
    analysis
}

fn analyze_one(
    name: &str,
    options: &ParseOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> (InputReport, LogSummary) {
    if name == "-" {
        return analyze_reader("-", io::stdin().lock(), options, progress);
    }
    match File::open(Path::new(name)) {
        Ok(file) => analyze_reader(name, file, options, progress),
        Err(e) => (
            InputReport {
                name: name.to_string(),
                format: None,
                gzip: false,
                bytes_read: 0,
                requests: 0,
                problem: Some(format!("cannot open: {e}")),
            },
            LogSummary::default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_logs::{generate, LogGenSpec};

    #[test]
    fn files_in_several_formats_merge_and_report_each() {
        let dir = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        let mut total = 0;
        for (n, format) in Format::ALL.into_iter().enumerate() {
            let path = dir.path().join(format!("{n}.log"));
            let mut file = File::create(&path).unwrap();
            let stats = if n % 2 == 0 {
                generate(&LogGenSpec::new(format, 700), &mut file).unwrap()
            } else {
                let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                let stats = generate(&LogGenSpec::new(format, 700), &mut gz).unwrap();
                gz.finish().unwrap();
                stats
            };
            total += stats.lines;
            names.push(path.display().to_string());
        }
        names.push(dir.path().join("missing.log").display().to_string());
        let a = analyze_inputs(&names, &ParseOptions::default(), 3, &|_| {});
        assert_eq!(a.summary.requests, total);
        assert_eq!(a.inputs.len(), 5);
        let formats: Vec<Option<Format>> = a.inputs.iter().map(|i| i.format).collect();
        assert_eq!(
            formats,
            [
                Some(Format::Original),
                Some(Format::Alb),
                Some(Format::Combined),
                Some(Format::Json),
                None
            ]
        );
        assert!(a.inputs[1].gzip && !a.inputs[0].gzip);
        assert!(a.inputs[4]
            .problem
            .as_deref()
            .unwrap()
            .starts_with("cannot open"));
    }

    #[test]
    fn empty_and_truncated_inputs_are_reported_not_fatal() {
        let (r, s) = analyze_reader("empty", &b""[..], &ParseOptions::default(), &|_| {});
        assert_eq!((r.problem, s.lines), (None, 0));

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        generate(&LogGenSpec::new(Format::Original, 5000), &mut gz).unwrap();
        let bytes = gz.finish().unwrap();
        let cut = &bytes[..bytes.len() / 2];
        let (r, s) = analyze_reader("cut.gz", cut, &ParseOptions::default(), &|_| {});
        assert!(r.problem.is_some());
        assert!(s.requests > 0 && s.requests < 5000);
    }
}
