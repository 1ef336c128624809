//! The analyzed stacks lifted with analyzers off (`lift --generic`): the measure of the generic
//! path on programs whose analyzers would otherwise do the work.

use crate::corpus::lift;

#[test]
fn nginx_lifts_with_generic() {
    lift("nginx", true);
}

#[test]
#[ignore = "redis rewrites its title to 'redis-server ADDR:PORT' and holds no descriptor of its config: nothing but the redis analyzer's live INFO query names the file"]
fn redis_lifts_with_generic() {
    let r = lift("redis", true);
    assert!(r.after.contains("kept"), "its data came along: {}", r.after);
}
