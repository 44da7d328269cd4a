//! `logscale analyze`: the same engine over local files (plain or gzip, `-` for stdin), one
//! thread per file up to the number of cores, results merged exactly. Reading is streamed in
//! fixed-size chunks, so memory does not grow with the input. An input whose first bytes say it
//! is a stored summary (`logscale summarize`'s output, or a summarizer's) is decoded and
//! merged as the log it stands for, and reported as that log was.
//!
//! `logscale summarize`: each file read the same way into its own summary file.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::parse::stored::{SourceObject, StoredSummary, SummaryError, MAX_SUMMARY_BYTES};
use crate::parse::summary::LogMetrics;
use crate::parse::{Encoding, FinishedObject, Format, LogSummary, ObjectSink, ParseOptions};

/// Bytes read from a file at a time. Measured on the bench corpus (one thread): 128 KiB reads
/// plain text ~2 % faster than 256 KiB, 64 KiB, 1 MiB and 4 MiB; gzip input takes the same
/// time with any of them. (Likely cache: the chunk shares the core's L2 with the summary's
/// 1 MiB latency table.) The line span samples the last timed line of each read, so for a log
/// written out of time order the chunk size decides which lines it sees (more reads, more
/// samples); a log in time order gives the same span at any size.
pub const CHUNK: usize = 128 * 1024;

/// Bytes of an input's head read before deciding whether it is a summary or a log: plenty for
/// [`StoredSummary::recognise`], plain or gzip.
const SNIFF_BYTES: usize = 4096;

/// One input's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// The input's name; for a summary, the name of the log it summarizes (its source key).
    pub name: String,
    /// The format used (detected with `auto`); `null` when the input could not be opened.
    pub format: Option<Format>,
    pub gzip: bool,
    /// Raw bytes read; for a summary, its source's size.
    pub bytes_read: u64,
    pub requests: u64,
    /// What went wrong, if anything; what was read before it still counts.
    pub problem: Option<String>,
}

impl InputReport {
    fn unread(name: &str, problem: String) -> InputReport {
        InputReport {
            name: name.to_string(),
            format: None,
            gzip: false,
            bytes_read: 0,
            requests: 0,
            problem: Some(problem),
        }
    }

    /// A summary reported as the direct read of its source was.
    fn of_summary(stored: &StoredSummary) -> InputReport {
        InputReport {
            name: stored.source.key.clone(),
            format: stored.format,
            gzip: stored.gzip,
            bytes_read: stored.source.size,
            requests: stored.summary.requests,
            problem: stored.problem.clone(),
        }
    }
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
    /// The input could not be read to its end (an I/O error, not a decoding one).
    read_error: Option<String>,
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
            read_error: None,
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

    fn read_failed(&mut self, e: &io::Error) {
        let problem = format!("read failed: {e}");
        self.read_error = Some(problem.clone());
        self.report.problem = Some(problem);
    }

    fn finish(mut self) -> ReadLog {
        let object = self.sink.finish_object();
        if self.report.problem.is_none() {
            self.report.problem = object.error.as_ref().map(|e| e.to_string());
        }
        self.report.format = Some(object.format);
        self.report.requests = object.summary.requests;
        ReadLog {
            report: self.report,
            object,
            read_error: self.read_error,
        }
    }
}

/// A log input read through the engine.
struct ReadLog {
    report: InputReport,
    object: FinishedObject,
    read_error: Option<String>,
}

/// What an input turned out to be.
enum ReadInput {
    Log(ReadLog),
    /// A stored summary (recognised by its first bytes), decoded or refused.
    Summary(Result<StoredSummary, SummaryError>),
}

/// Reads `reader` until `buf` holds [`SNIFF_BYTES`] or the input ends; how many bytes it
/// holds, and the read error that stopped it, if any.
fn read_head(reader: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < SNIFF_BYTES.min(buf.len()) {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

/// Reads one stream to the end, in [`CHUNK`]-sized reads: a summary when its first bytes say
/// so, else log text. `progress` is told how many raw bytes were read.
fn read_input(
    name: &str,
    mut reader: impl Read,
    options: &ParseOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadInput {
    let mut buf = vec![0u8; CHUNK];
    let (head, head_error) = read_head(&mut reader, &mut buf);
    progress(head as u64);
    if head_error.is_none() && StoredSummary::recognise(&buf[..head]) {
        return ReadInput::Summary(read_summary(&buf[..head], reader, progress));
    }
    let mut reading = Reading::new(name, options);
    let mut more = reading.feed(&buf[..head]);
    if let Some(e) = head_error {
        reading.read_failed(&e);
        more = false;
    }
    while more {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                reading.read_failed(&e);
                break;
            }
        };
        progress(n as u64);
        more = reading.feed(&buf[..n]);
    }
    ReadInput::Log(reading.finish())
}

/// The rest of a summary after its `head`, read whole (it is small) up to one byte past
/// [`MAX_SUMMARY_BYTES`], so that decoding refuses a bigger one without reading all of it.
fn read_summary(
    head: &[u8],
    reader: impl Read,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<StoredSummary, SummaryError> {
    let mut bytes = head.to_vec();
    let limit = (MAX_SUMMARY_BYTES + 1).saturating_sub(head.len()) as u64;
    if let Err(e) = reader.take(limit).read_to_end(&mut bytes) {
        return Err(SummaryError::Corrupt(format!("read failed: {e}")));
    }
    progress((bytes.len() - head.len()) as u64);
    StoredSummary::decode(&bytes)
}

/// Reads one stream to the end, in [`CHUNK`]-sized reads: log text, or a summary (recognised
/// by its first bytes), which counts as the log it summarizes. `progress` is told how many raw
/// bytes were read.
pub fn analyze_reader(
    name: &str,
    reader: impl Read,
    options: &ParseOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> (InputReport, LogSummary) {
    match read_input(name, reader, options, progress) {
        ReadInput::Log(log) => (log.report, log.object.summary),
        ReadInput::Summary(Ok(stored)) => (InputReport::of_summary(&stored), stored.summary),
        ReadInput::Summary(Err(e)) => (
            InputReport::unread(name, format!("unreadable summary: {e}")),
            LogSummary::default(),
        ),
    }
}

/// Analyzes `inputs` (paths, or `-` for stdin) on up to `threads` threads.
pub fn analyze_inputs(
    inputs: &[String],
    options: &ParseOptions,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Analysis {
    let mut analysis = Analysis {
        inputs: Vec::with_capacity(inputs.len()),
        summary: LogSummary::default(),
    };
    for (report, summary) in
        in_parallel(inputs, threads, |name| analyze_one(name, options, progress))
    {
        analysis.summary.merge(&summary);
        analysis.inputs.push(report);
    }
    analysis
}

/// `work` on each of `inputs`, on up to `threads` threads; the results in the inputs' order.
fn in_parallel<T: Send>(
    inputs: &[String],
    threads: usize,
    work: impl Fn(&str) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(inputs.len()).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, inputs.len().max(1)) {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = inputs.get(n) else { break };
                let result = work(name);
                results.lock().expect("no thread panics holding it")[n] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .expect("threads are done")
        .into_iter()
        .flatten()
        .collect()
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
            InputReport::unread(name, format!("cannot open: {e}")),
            LogSummary::default(),
        ),
    }
}

/// The summary file `summarize` writes for `input`: its file name and `.summary.json`.
pub fn summary_file_name(input: &str) -> Option<String> {
    let name = Path::new(input).file_name()?.to_str()?;
    Some(format!("{name}.summary.json"))
}

/// One input of `summarize`.
#[derive(Debug, Clone, PartialEq)]
pub struct Summarized {
    pub input: String,
    /// Where its summary was written; `None` when the input could not be read (`error`).
    pub output: Option<PathBuf>,
    /// Why there is no summary.
    pub error: Option<String>,
    /// Why the input could not be read to its end (corrupt gzip, …): kept in its summary, as
    /// `analyze` reports it.
    pub problem: Option<String>,
}

/// Writes one summary file per input into `out_dir` (created if missing), on up to `threads`
/// threads; `done` is told of each input as it finishes. An input that cannot be read gets no
/// summary, and its [`Summarized::error`] says why. Two inputs whose summaries would have the
/// same name are refused before anything is read.
pub fn summarize_inputs(
    inputs: &[String],
    options: &ParseOptions,
    out_dir: &Path,
    threads: usize,
    done: &(dyn Fn(&Summarized) + Sync),
) -> Result<Vec<Summarized>, String> {
    let mut outputs = std::collections::BTreeMap::new();
    for input in inputs {
        let name = summary_file_name(input)
            .ok_or_else(|| format!("{input}: summarize reads files, and this names none"))?;
        if let Some(other) = outputs.insert(name.clone(), input) {
            return Err(format!(
                "{other} and {input} would both be summarized to {}",
                out_dir.join(name).display()
            ));
        }
    }
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    Ok(in_parallel(inputs, threads, |input| {
        let output = out_dir.join(summary_file_name(input).expect("checked above"));
        let written = summarize_file(input, options).and_then(|stored| {
            std::fs::write(&output, stored.encode())
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            Ok(stored.problem)
        });
        let result = match written {
            Ok(problem) => Summarized {
                input: input.to_string(),
                output: Some(output),
                error: None,
                problem,
            },
            Err(error) => Summarized {
                input: input.to_string(),
                output: None,
                error: Some(error),
                problem: None,
            },
        };
        done(&result);
        result
    }))
}

/// One local file read into its summary, exactly as `analyze` reads it. A file that cannot be
/// opened or read, or is a summary already, has none.
pub fn summarize_file(path: &str, options: &ParseOptions) -> Result<StoredSummary, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let metadata = file.metadata().ok();
    let log = match read_input(path, file, options, &|_| {}) {
        ReadInput::Log(log) => log,
        ReadInput::Summary(_) => {
            return Err("is a summary already: `analyze` reads it as it is".into())
        }
    };
    if let Some(error) = log.read_error {
        return Err(error);
    }
    let source = SourceObject {
        bucket: None,
        key: path.to_string(),
        etag: None,
        size: metadata.as_ref().map_or(log.report.bytes_read, |m| m.len()),
        last_modified: metadata
            .and_then(|m| m.modified().ok())
            .map(DateTime::<Utc>::from),
    };
    Ok(StoredSummary::from_object(
        source,
        log.object,
        log.report.problem,
    ))
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

    /// Files in every format, plain and gzip, one cut short, one empty; their paths.
    fn sample_files(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        for (n, format) in Format::ALL.into_iter().enumerate() {
            let mut text = Vec::new();
            let spec = LogGenSpec {
                seed: n as u64,
                ..LogGenSpec::new(format, 900 + 100 * n as u64)
            };
            generate(&spec, &mut text).unwrap();
            text.extend_from_slice(b"not a request\n\n");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &text).unwrap();
            let gz = gz.finish().unwrap();
            for (name, bytes) in [
                (format!("{format}.log"), &text[..]),
                (format!("{format}.log.gz"), &gz[..]),
                (format!("{format}-cut.log.gz"), &gz[..gz.len() / 2]),
            ] {
                let path = dir.join(name);
                std::fs::write(&path, bytes).unwrap();
                names.push(path.display().to_string());
            }
        }
        let empty = dir.join("empty.log");
        std::fs::write(&empty, b"").unwrap();
        names.push(empty.display().to_string());
        names
    }

    #[test]
    fn summaries_are_analyzed_as_the_logs_they_summarize() {
        let dir = tempfile::tempdir().unwrap();
        let files = sample_files(dir.path());
        let out = dir.path().join("summaries");
        let options = ParseOptions::default();
        let done = Mutex::new(0);
        let summarized = summarize_inputs(&files, &options, &out, 2, &|_| {
            *done.lock().unwrap() += 1;
        })
        .unwrap();
        assert_eq!(*done.lock().unwrap(), files.len());
        let summaries: Vec<String> = summarized
            .iter()
            .map(|s| {
                assert_eq!(s.error, None, "{}", s.input);
                assert_eq!(s.problem.is_some(), s.input.contains("-cut"), "{}", s.input);
                s.output.as_ref().unwrap().display().to_string()
            })
            .collect();
        let raw = analyze_inputs(&files, &options, 3, &|_| {});
        let merged = analyze_inputs(&summaries, &options, 3, &|_| {});
        assert_eq!(merged.summary, raw.summary);
        assert_eq!(
            serde_json::to_value(merged.to_json()).unwrap(),
            serde_json::to_value(raw.to_json()).unwrap()
        );
        assert!(raw.inputs.iter().any(|i| i.gzip));
        assert_eq!(raw.inputs.iter().filter(|i| i.problem.is_some()).count(), 4);

        // Each summary carries its file's line span, size and modification time.
        let stored = StoredSummary::decode(&std::fs::read(&summaries[0]).unwrap()).unwrap();
        assert_eq!(stored.source.key, files[0]);
        assert_eq!(stored.source.bucket, None);
        assert_eq!(
            stored.source.size,
            std::fs::metadata(&files[0]).unwrap().len()
        );
        assert!(stored.source.last_modified.is_some());
        assert!(stored.first_line_at.unwrap() < stored.last_line_at.unwrap());
    }

    #[test]
    fn a_summary_is_known_by_its_content_whatever_its_name_plain_gzip_or_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let mut text = Vec::new();
        generate(&LogGenSpec::new(Format::Json, 300), &mut text).unwrap();
        std::fs::write(&log, &text).unwrap();
        let log = log.display().to_string();
        let stored = summarize_file(&log, &ParseOptions::default()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &stored.encode()).unwrap();
        let (direct, want) = analyze_reader(&log, &text[..], &ParseOptions::default(), &|_| {});
        for bytes in [stored.encode(), gz.finish().unwrap()] {
            let (report, summary) =
                analyze_reader("renamed.txt", &bytes[..], &ParseOptions::default(), &|_| {});
            assert_eq!(summary, want);
            assert_eq!(report.name, log);
            assert_eq!(
                (report.format, report.requests, report.problem),
                (direct.format, direct.requests, None)
            );
        }
        // One byte at a time, as a pipe may deliver it.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let encoded = stored.encode();
        let (_, summary) =
            analyze_reader("-", Trickle(&encoded), &ParseOptions::default(), &|_| {});
        assert_eq!(summary, want);
        // A summary is not summarized again.
        let path = dir.path().join("s.json");
        std::fs::write(&path, &encoded).unwrap();
        let err = summarize_file(&path.display().to_string(), &ParseOptions::default());
        assert!(err.unwrap_err().contains("is a summary already"));
    }

    #[test]
    fn a_summary_that_cannot_be_read_is_named_and_counts_nothing() {
        let newer = br#"{"logscale_summary":2,"whatever":"comes next"}"#;
        let (report, summary) =
            analyze_reader("next.json", &newer[..], &ParseOptions::default(), &|_| {});
        assert_eq!(summary, LogSummary::default());
        assert_eq!(report.name, "next.json");
        assert_eq!(
            report.problem.as_deref(),
            Some(
                "unreadable summary: summary format version 2 is not one this build reads \
                 (it reads version 1); a newer logscale wrote it?"
            )
        );
        let mut huge = br#"{"logscale_summary":1,"problem":""#.to_vec();
        huge.resize(MAX_SUMMARY_BYTES + 100, b'x');
        let (report, _) = analyze_reader("huge.json", &huge[..], &ParseOptions::default(), &|_| {});
        assert!(
            report.problem.unwrap().contains("more than the 4194304"),
            "bounded before it is parsed"
        );
    }

    #[test]
    fn summarize_refuses_names_that_clash_or_name_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let clash = ["a/x.log".to_string(), "b/x.log".to_string()];
        let err = summarize_inputs(&clash, &ParseOptions::default(), &out, 1, &|_| {});
        assert!(err
            .unwrap_err()
            .starts_with("a/x.log and b/x.log would both be summarized to"));
        let err = summarize_inputs(&["..".into()], &ParseOptions::default(), &out, 1, &|_| {});
        assert!(err.unwrap_err().contains("names none"));
        assert!(!out.exists(), "nothing written");
        assert_eq!(
            summary_file_name("logs/app.log.gz").as_deref(),
            Some("app.log.gz.summary.json")
        );
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
