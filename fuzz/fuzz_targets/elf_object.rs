//! The bounded ELF reader and the import-symbol reader on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftkit::elf::{object, symbols};

fuzz_target!(|data: &[u8]| {
    let _ = object::parse(data);
    let _ = symbols::imported(data);
});
