//! `--priority`: the verbs that read a production host run gently (src/os/priority.rs) unless
//! told `--priority normal`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Priority {
    /// nice 10 and best-effort I/O level 7 (`ionice -c2 -n7`).
    Low,
    /// Whatever liftkit was started with.
    Normal,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PriorityArgs {
    /// CPU and I/O priority: low (nice 10, best-effort I/O level 7) leaves the host's
    /// applications the machine; normal keeps the priority liftkit was started with
    #[arg(
        long,
        value_enum,
        default_value = "low",
        value_name = "low|normal",
        hide_possible_values = true
    )]
    pub priority: Priority,
}

impl PriorityArgs {
    /// Must run before any thread starts: Linux keeps both priorities per thread, and new
    /// threads inherit the creating thread's.
    pub fn apply(&self) {
        if self.priority == Priority::Low {
            liftkit::os::priority::lower();
        }
    }
}
