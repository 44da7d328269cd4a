#![no_main]
use libfuzzer_sys::fuzz_target;
use logscale_fuzz::parse::Format;

fuzz_target!(|data: &[u8]| logscale_fuzz::check(data, Format::Combined));
