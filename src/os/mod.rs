//! Operating-system calls liftkit makes on its own behalf: its priority, its heap, and entering
//! another process's network namespace.

pub mod memory;
pub mod netns;
pub mod priority;
