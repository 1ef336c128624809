//! The ld.so.cache parser (both formats) and a lookup on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftkit::elf::ldcache::LdCache;

fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = LdCache::parse(data) {
        let _ = cache.lookup("libc.so.6", 0x303, |f| f == 0x303, |_| Some(1));
    }
});
