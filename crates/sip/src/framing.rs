//! Stream (TCP/TLS) framing: does a buffer hold a complete message, and how long is it?

use crate::scan::{scan, Index, Stop};
use crate::Error;

/// The answer of [`frame`] for a buffer that is not invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The buffer starts with a complete message of this many bytes.
    Complete(usize),
    /// The buffer is a valid prefix of a message; read more bytes and call again.
    Incomplete,
    /// The buffer starts with this many bytes of CRLF keep-alives (RFC 5626 §3.5.1), or of
    /// the bare LFs a peer that ends lines in LF sends between messages; consume them
    /// (answer a `CRLFCRLF` ping with a `CRLF` pong) and call again.
    KeepAlive(usize),
}

/// Frames the next message of a stream buffer.
///
/// Returns `Ok(Incomplete)` only while every byte seen so far can still begin a valid
/// message; an invalid byte is an `Err` at once (the caller closes the connection), so a
/// peer can never hold a connection open with garbage. A message whose header section or
/// announced total exceeds `max` bytes is [`Error::TooLarge`]; one without Content-Length
/// is [`Error::MissingContentLength`] (mandatory on streams, RFC 3261 §18.3). Lines may end
/// in CRLF or a bare LF, read exactly as [`Message::parse_stream`](crate::Message::parse_stream)
/// reads them.
///
/// ```
/// use interdict_sip::{frame, Framing, Message};
/// let stream = b"\r\n\r\nOPTIONS sip:gw.example.net SIP/2.0\r\nContent-Length: 0\r\n\r\nOPT";
/// assert_eq!(frame(stream, 65536).unwrap(), Framing::KeepAlive(4));
/// let rest = &stream[4..];
/// let Framing::Complete(n) = frame(rest, 65536).unwrap() else { panic!() };
/// let msg = Message::parse_stream(&rest[..n]).unwrap();
/// assert_eq!(msg.method().unwrap().as_str(), "OPTIONS");
/// assert_eq!(frame(&rest[n..], 65536).unwrap(), Framing::Incomplete);
/// ```
pub fn frame(buf: &[u8], max: usize) -> Result<Framing, Error> {
    let mut rest = buf;
    while let [b'\r', b'\n', tail @ ..] | [b'\n', tail @ ..] = rest {
        rest = tail;
    }
    let line_ends = buf.len() - rest.len();
    if line_ends > 0 {
        return Ok(Framing::KeepAlive(line_ends));
    }
    match buf {
        [] | [b'\r'] => return Ok(Framing::Incomplete),
        _ => {}
    }
    let window = buf.get(..max.min(buf.len())).unwrap_or(buf);
    let mut index = Index::new();
    match scan(window, &mut index) {
        Err(Stop::Incomplete) if buf.len() >= max => Err(Error::TooLarge {
            len: buf.len(),
            max,
        }),
        Err(Stop::Incomplete) => Ok(Framing::Incomplete),
        Err(Stop::Invalid(e)) => Err(e),
        Ok(head) => {
            let cl = head.content_length.ok_or(Error::MissingContentLength {
                offset: head.body_start,
            })?;
            let total = head.body_start.checked_add(cl).ok_or(Error::TooLarge {
                len: usize::MAX,
                max,
            })?;
            if total > max {
                Err(Error::TooLarge { len: total, max })
            } else if buf.len() >= total {
                Ok(Framing::Complete(total))
            } else {
                Ok(Framing::Incomplete)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn every_prefix_is_incomplete_and_the_whole_is_complete() {
        for n in 1..MSG.len() {
            assert_eq!(
                frame(&MSG[..n], 4096).unwrap(),
                Framing::Incomplete,
                "prefix {n}"
            );
        }
        assert_eq!(frame(MSG, 4096).unwrap(), Framing::Complete(MSG.len()));
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(frame(&two, 4096).unwrap(), Framing::Complete(MSG.len()));
    }

    #[test]
    fn invalid_bytes_never_wait() {
        assert!(frame(b"\x16\x03\x01", 4096).is_err());
        assert!(frame(b"INVITE sip:a@b SIP/2.0\r\nTo\x01", 4096).is_err());
        assert!(frame(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n", 4096).is_err());
        assert!(frame(b"INVITE sip:a@b SIP/2.0\r\n\r\n", 4096).is_err());
    }

    #[test]
    fn size_limit() {
        assert!(matches!(frame(MSG, 20), Err(Error::TooLarge { .. })));
        let big = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 4000000000\r\n\r\n";
        assert!(matches!(frame(big, 1 << 20), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn lf_only_messages_frame_like_crlf_ones() {
        let lf = b"MESSAGE sip:a@b SIP/2.0\nContent-Length: 5\n\nhelloNEXT";
        assert_eq!(frame(lf, 4096).unwrap(), Framing::Complete(lf.len() - 4));
        for n in 1..lf.len() - 4 {
            assert_eq!(frame(&lf[..n], 4096).unwrap(), Framing::Incomplete, "{n}");
        }
        let mixed = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\n\r\nhello";
        assert_eq!(frame(mixed, 4096).unwrap(), Framing::Complete(mixed.len()));
        assert!(matches!(
            frame(b"MESSAGE sip:a@b SIP/2.0\rContent-Length: 5\r\n", 4096),
            Err(Error::BareLineEnd { offset: 23 })
        ));
        assert_eq!(frame(b"\n\r\n\nINV", 10).unwrap(), Framing::KeepAlive(4));
    }

    #[test]
    fn keepalives() {
        assert_eq!(frame(b"\r\n", 10).unwrap(), Framing::KeepAlive(2));
        assert_eq!(
            frame(b"\r\n\r\n\r\nINV", 10).unwrap(),
            Framing::KeepAlive(6)
        );
        assert_eq!(frame(b"\r", 10).unwrap(), Framing::Incomplete);
    }
}
