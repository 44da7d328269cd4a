//! Log text → [`LogSummary`], streaming and pure.
//!
//! Bytes arrive in chunks of any size (an S3 body, a local file, stdin). [`SummaryWriter`] is a
//! [`std::io::Write`] sink that cuts them into lines, keeping at most one partial line between
//! chunks, and hands each line to the format's line parser. A gzip stream is decoded by wrapping
//! the sink in a decoder ([`summarize_writer`]), so no object is ever held in memory whole.
//!
//! - [`original`]: the original tool's `[ts] LEVEL - METHOD PATH - status: N - response_time: Xms`.
//! - [`summary`]: the counts one window yields, mergeable across objects.

pub mod original;
pub mod summary;

use std::io::{self, Write};

pub use summary::LogSummary;

/// Lines longer than this are counted as unparsed and skipped, so one runaway line cannot make
/// memory grow with the input.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What a line-level parser needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParseOptions {
    /// A request is slow when its response time is above this many milliseconds.
    pub slow_ms: f64,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { slow_ms: 1000.0 }
    }
}

/// A `Write` sink that splits bytes into lines and folds each into a [`LogSummary`].
pub struct SummaryWriter {
    options: ParseOptions,
    summary: LogSummary,
    /// The unfinished last line of the previous chunk.
    partial: Vec<u8>,
    /// Inside a line that exceeded [`MAX_LINE_BYTES`]: drop bytes until the next newline.
    skipping_long_line: bool,
}

impl SummaryWriter {
    pub fn new(options: ParseOptions) -> Self {
        SummaryWriter {
            options,
            summary: LogSummary::default(),
            partial: Vec::new(),
            skipping_long_line: false,
        }
    }

    /// Parses the last line if it had no newline, and returns the totals.
    pub fn finish(mut self) -> LogSummary {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.summary
    }

    fn line(&mut self, line: &[u8]) {
        original::parse_line(line, &self.options, &mut self.summary);
    }

    fn too_long(&mut self) {
        self.summary.lines += 1;
        self.summary
            .note_unparsed(format!("line longer than {MAX_LINE_BYTES} bytes").as_bytes());
    }
}

impl Write for SummaryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.summary.bytes += buf.len() as u64;
        let mut rest = buf;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (head, tail) = (&rest[..nl], &rest[nl + 1..]);
            if self.skipping_long_line {
                self.skipping_long_line = false;
            } else if self.partial.is_empty() {
                self.line(head);
            } else if self.partial.len() + head.len() > MAX_LINE_BYTES {
                self.partial.clear();
                self.too_long();
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.line(&line);
                line.clear();
                self.partial = line; // keep the allocation for the next partial line
            }
            rest = tail;
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
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How an object's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Gzip,
}

impl Encoding {
    /// Gzip when S3 says `Content-Encoding: gzip` or the key ends in `.gz`.
    pub fn detect(key: &str, content_encoding: Option<&str>) -> Encoding {
        let by_header = content_encoding
            .is_some_and(|e| e.split(',').any(|p| p.trim().eq_ignore_ascii_case("gzip")));
        if by_header || key.ends_with(".gz") {
            Encoding::Gzip
        } else {
            Encoding::Plain
        }
    }
}

/// A sink for one object's raw bytes: decodes if needed and summarizes.
pub enum ObjectSink {
    Plain(SummaryWriter),
    Gzip(Box<flate2::write::MultiGzDecoder<SummaryWriter>>),
}

/// Builds the sink for an object of the given encoding.
pub fn summarize_writer(encoding: Encoding, options: ParseOptions) -> ObjectSink {
    let inner = SummaryWriter::new(options);
    match encoding {
        Encoding::Plain => ObjectSink::Plain(inner),
        Encoding::Gzip => ObjectSink::Gzip(Box::new(flate2::write::MultiGzDecoder::new(inner))),
    }
}

impl ObjectSink {
    /// Feeds the next chunk. An error means the compressed stream is corrupt; what was decoded
    /// before it is kept.
    pub fn feed(&mut self, chunk: &[u8]) -> io::Result<()> {
        match self {
            ObjectSink::Plain(w) => w.write_all(chunk),
            ObjectSink::Gzip(d) => d.write_all(chunk),
        }
    }

    /// Ends the object. For gzip, a stream that stops early is an error; the summary of what
    /// was decoded comes back either way.
    pub fn finish(self) -> (LogSummary, Option<io::Error>) {
        match self {
            ObjectSink::Plain(w) => (w.finish(), None),
            ObjectSink::Gzip(mut d) => {
                let err = d.try_finish().err();
                // Everything decoded so far has reached the inner writer; take it out whole
                // even when the stream was cut short.
                let options = d.get_ref().options;
                let inner = std::mem::replace(d.get_mut(), SummaryWriter::new(options));
                (inner.finish(), err)
            }
        }
    }
}

/// Summarizes a whole in-memory buffer; for tests and small inputs.
pub fn summarize_bytes(bytes: &[u8], options: ParseOptions) -> LogSummary {
    let mut w = SummaryWriter::new(options);
    w.write_all(bytes).expect("SummaryWriter never fails");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SAMPLE: &str = "\
[2024-12-08 12:34:56.789] INFO - GET /api/users - status: 200 - response_time: 145.32ms
[2024-12-08 12:34:57.123] ERROR - POST /api/orders - status: 500 - response_time: 2341.56ms - Database connection timeout
[2024-12-08 12:34:58.456] WARN - GET /api/search - status: 404 - response_time: 89.12ms
";

    #[test]
    fn chunk_boundaries_do_not_change_the_result() {
        let whole = summarize_bytes(SAMPLE.as_bytes(), ParseOptions::default());
        for size in [1, 2, 7, 64] {
            let mut w = SummaryWriter::new(ParseOptions::default());
            for chunk in SAMPLE.as_bytes().chunks(size) {
                w.write_all(chunk).unwrap();
            }
            assert_eq!(w.finish(), whole, "chunk size {size}");
        }
        assert_eq!(whole.requests, 3);
        assert_eq!(whole.errors, 1);
        assert_eq!(whole.slow, 1);
        assert_eq!(whole.bytes, SAMPLE.len() as u64);
    }

    #[test]
    fn last_line_without_newline_is_parsed() {
        let s = summarize_bytes(SAMPLE.trim_end().as_bytes(), ParseOptions::default());
        assert_eq!(s.requests, 3);
    }

    #[test]
    fn overlong_line_is_counted_and_skipped_in_bounded_memory() {
        let mut w = SummaryWriter::new(ParseOptions::default());
        w.write_all(SAMPLE.as_bytes()).unwrap();
        let junk = vec![b'x'; 64 * 1024];
        for _ in 0..(MAX_LINE_BYTES / junk.len() + 3) {
            w.write_all(&junk).unwrap();
            assert!(w.partial.len() <= MAX_LINE_BYTES);
        }
        w.write_all(b"\n").unwrap();
        w.write_all(SAMPLE.as_bytes()).unwrap();
        let s = w.finish();
        assert_eq!(s.requests, 6);
        assert_eq!(s.unparsed, 1);
        assert!(s.unparsed_example.unwrap().contains("longer than"));
    }

    #[test]
    fn gzip_sink_decodes_concatenated_members() {
        let mut gz = Vec::new();
        for _ in 0..2 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(SAMPLE.as_bytes()).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let mut sink = summarize_writer(Encoding::Gzip, ParseOptions::default());
        for chunk in gz.chunks(100) {
            sink.feed(chunk).unwrap();
        }
        let (s, err) = sink.finish();
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
        let mut sink = summarize_writer(Encoding::Gzip, ParseOptions::default());
        let fed = sink.feed(&gz[..gz.len() / 2]);
        let (s, err) = sink.finish();
        assert!(fed.is_err() || err.is_some(), "truncation must be reported");
        assert!(s.requests > 0 && s.requests < 600, "{}", s.requests);
    }

    #[test]
    fn garbage_gzip_is_an_error_not_a_panic() {
        let mut sink = summarize_writer(Encoding::Gzip, ParseOptions::default());
        let fed = sink.feed(b"\x1f\x8b\x08\x00garbage garbage garbage");
        let (_, err) = sink.finish();
        assert!(fed.is_err() || err.is_some());
    }

    #[test]
    fn encoding_is_detected_from_header_or_suffix() {
        assert_eq!(Encoding::detect("a.log", None), Encoding::Plain);
        assert_eq!(Encoding::detect("a.log.gz", None), Encoding::Gzip);
        assert_eq!(Encoding::detect("a.log", Some("GZIP")), Encoding::Gzip);
        assert_eq!(Encoding::detect("a.log", Some("identity")), Encoding::Plain);
    }
}
