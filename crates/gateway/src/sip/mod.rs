//! The inline SIP gateway: a stateless proxy (RFC 3261 §16.11) on UDP and TCP that decides
//! every call and SIP MESSAGE on its way from the border to the core.
//!
//! [`proxy`] holds the logic (one message in, at most one out), [`transport`] the sockets,
//! [`dialogs`] the bounded table of live calls, [`recent`] the memory of recent transactions.

pub mod dialogs;
pub mod proxy;
pub mod recent;
pub mod sms_hold;
pub mod transport;
pub mod udp;

pub use proxy::{Action, Dest, Local, SipProxy, Wire};
