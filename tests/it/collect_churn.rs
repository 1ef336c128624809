//! `collect` while processes appear and vanish under it: it must return, not panic, and report
//! vanished processes as findings rather than half-filled entries.

use liftkit::snapshot::collect::{collect, CollectOptions};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const CHURN: usize = 200;

#[test]
fn collect_survives_process_churn() {
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut spawned = 0;
            while spawned < CHURN && !stop.load(Ordering::Relaxed) {
                let mut child = Command::new("sleep")
                    .arg("5")
                    .stdin(Stdio::null())
                    .spawn()
                    .unwrap();
                spawned += 1;
                // Killing at once, or after a moment, varies where in the scan each one dies.
                if spawned % 3 == 0 {
                    thread::yield_now();
                }
                child.kill().unwrap();
                child.wait().unwrap();
            }
            spawned
        })
    };
    let mut rounds = 0;
    let mut vanished = 0;
    while !churner.is_finished() {
        let s = collect(&CollectOptions::default(), &|_, _| {});
        rounds += 1;
        vanished += s
            .findings
            .iter()
            .filter(|f| f.message == "exited during the scan")
            .count();
        assert!(s.process(std::process::id() as i32).is_some());
        assert!(s.processes.windows(2).all(|w| w[0].pid < w[1].pid));
        // A process listed must have been read whole: what makes it a process is never empty.
        assert!(s.processes.iter().all(|p| !p.comm.is_empty()));
    }
    stop.store(true, Ordering::Relaxed);
    let spawned = churner.join().unwrap();
    eprintln!("{spawned} processes churned over {rounds} collects; {vanished} seen vanishing");
    assert_eq!(spawned, CHURN);
    assert!(rounds >= 1);
}
