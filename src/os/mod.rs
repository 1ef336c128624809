//! Operating-system calls liftkit makes on its own behalf: its priority, and entering another
//! process's network namespace.

pub mod netns;
pub mod priority;
