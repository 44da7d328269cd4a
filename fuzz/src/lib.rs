//! Shared checks for the fuzz targets, over the log engine crate.
pub use logscale_logs as parse;

use parse::{summarize_bytes, Format, ParseOptions};

/// Parses `data` in `format` and checks the summary's invariants.
pub fn check(data: &[u8], format: Format) {
    let s = summarize_bytes(data, &ParseOptions::with_format(format));
    assert!(s.requests + s.unparsed + s.non_request <= s.lines);
    assert!(s.errors <= s.requests && s.timed <= s.requests && s.slow <= s.timed);
    assert_eq!(s.bytes, data.len() as u64);
}
