//! number (in progress).
