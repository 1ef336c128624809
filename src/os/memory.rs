//! liftkit's own heap: a guest on a production host keeps its footprint small.

/// glibc gives each new thread its own malloc arena, up to eight per core, and every arena keeps
/// the pages its thread touched. `collect` starts a thread per reader and per service asked, so
/// half its heap was arenas holding a few hundred KB each. Two arenas serve liftkit's few busy
/// threads as well. Must run before any thread starts; an operator's `MALLOC_ARENA_MAX` wins.
pub fn bound_arenas() {
    #[cfg(target_env = "gnu")]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt changes a malloc tunable; called while the process is single-threaded.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
