//! Any bytes given as plan.yaml: a clear error or a validated plan, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = liftkit::plan::parse(std::path::Path::new("fuzz.yaml"), text);
    }
});
