//! Placeholder replaced by the SIP parser.
