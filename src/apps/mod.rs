//! Rust for what an application's analyzer (`analyzers/<app>.toml`) cannot say as data, one
//! module per application: its hook, its configuration grammar, how its state is copied
//! consistently. Each is named in `crate::registry`, which analyzers and plans are checked
//! against; generic runtimes (Python, the JVM, PHP) live with analysis (`analyze::hooks`).

pub mod apache;
pub mod nginx;
pub mod postgresql;
pub mod tomcat;
