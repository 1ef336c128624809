//! The init every host image runs as PID 1: liftkit-init (init/), built statically by build.rs
//! and embedded here so liftkit needs nothing else to build a host image.

pub static BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/liftkit-init"));
