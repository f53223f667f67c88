//! Placeholder replaced by the SMPP codec.
