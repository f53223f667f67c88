//! The inline SMPP proxy: ESMEs bind to the gateway, the gateway binds to the SMSC for each
//! of them, and every PDU that carries text is decided on its way through.
//!
//! - [`session`]: one ESME's session as a state machine with no I/O (bytes in, bytes out
//!   for each side), so it is tested and benchmarked without sockets: binds relayed, sequence
//!   numbers mapped both ways, the window, expiry, enquire_link, unbind, deciding, block /
//!   silent drop / warn.
//! - [`hold`]: parts of concatenated messages held until the message is whole.
//! - [`net`]: the sockets: the listener, one task per session, drain.
//! - [`dissuade`]: dissuasion SMS to likely victims over the gateway's own bind.

pub mod dissuade;
pub mod hold;
pub mod net;
pub mod session;

use serde::Serialize;

/// The two sides of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The ESME (bulk sender, aggregator, application) that bound to the gateway.
    Esme,
    /// The SMSC the gateway bound to on the ESME's behalf.
    Smsc,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Esme => Side::Smsc,
            Side::Smsc => Side::Esme,
        }
    }
}
