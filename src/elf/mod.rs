//! ELF dependency resolution (in progress).
