//! behaviour (in progress).
