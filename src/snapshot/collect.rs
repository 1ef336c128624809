//! Reading a live host through procfs (in progress).
