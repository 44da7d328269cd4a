#![no_main]
//! Arbitrary bytes as an object under format detection, with the encoding recognized from its
//! first bytes (as `fetch` and `analyze` read) or forced: corrupt gzip streams must be
//! reported, never panic, and whatever decodes is counted.
use libfuzzer_sys::fuzz_target;
use logscale_fuzz::parse::{Encoding, ObjectSink, ParseOptions};

fuzz_target!(|data: &[u8]| {
    for encoding in [Encoding::Auto, Encoding::Gzip, Encoding::Plain] {
        let mut sink = ObjectSink::new(encoding, ParseOptions::default());
        for chunk in data.chunks(97) {
            if sink.feed(chunk).is_err() {
                break;
            }
        }
        let (s, _, _) = sink.finish();
        assert!(s.requests + s.unparsed + s.non_request <= s.lines);
    }
});
