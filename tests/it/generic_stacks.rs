//! The analyzed stacks lifted with analyzers off (`lift --generic`): the measure of the generic
//! path on programs whose analyzers would otherwise do the work.

use crate::corpus::lift;

#[test]
#[ignore = "the master's rewritten title ('nginx: master process … -c conf') is not the command line: needs part A's entrypoint evidence"]
fn nginx_lifts_with_generic() {
    lift("nginx", true);
}

#[test]
#[ignore = "redis rewrites its title to 'redis-server ADDR:PORT' (one word): needs part A's entrypoint evidence"]
fn redis_lifts_with_generic() {
    let r = lift("redis", true);
    assert!(r.after.contains("kept"), "its data came along: {}", r.after);
}
