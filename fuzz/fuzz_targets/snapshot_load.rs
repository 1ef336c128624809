//! Any bytes given as snapshot.json: a clear error or a snapshot, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = liftkit::snapshot::parse(std::path::Path::new("fuzz.json"), text);
    }
});
