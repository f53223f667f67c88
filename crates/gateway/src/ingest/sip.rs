//! A SIP request read the way the core and the callee will read it.
//!
//! * Methods: `INVITE` and `MESSAGE` in any letter case are decided (RFC 3261 makes methods
//!   case-sensitive, but common cores match `invite` as INVITE; reading it as an unknown
//!   method would forward a call unexamined).
//! * Callers: From (every one, when repeated), every P-Asserted-Identity,
//!   P-Preferred-Identity and Remote-Party-ID.
//!   From a trusted peer the first P-Asserted-Identity is the primary caller (RFC 3325);
//!   from anyone else From is, and the identity headers are only checked against the block
//!   lists. Callees: the Request-URI first, then To, every Diversion and History-Info entry.
//! * Numbers are the user part the SIP parser decoded (`%31%37…` is `17…`), with a
//!   `phone-context` kept for the engine, which checks every reading a core may route.
//! * The text of a MESSAGE is the whole decoded body (see [`message_text`]).

use std::borrow::Cow;

use interdict_engine::EventKind;
use interdict_sip::{
    decode_body, BodyLimits, BodyPart, HeaderKind, Message, NameAddr, ProblemKind, Scheme,
    SmsAlphabet, SmsTpdu, Uri,
};
use interdict_smpp::text::gsm7;

use super::{
    Identities, Identity, IdentitySource, IngestError, IngestOptions, Ingested, SmsPart, SmsPiece,
};
use crate::record::Degraded;

/// What the gateway does with a request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// A call offer (INVITE, any case).
    Call,
    /// A text message (MESSAGE, any case).
    Text,
    /// Passed without a decision.
    NotDecided,
}

/// Classifies a method token the way lenient cores do (letter case ignored).
pub fn decided(method: &str) -> Decided {
    if method.eq_ignore_ascii_case("INVITE") {
        Decided::Call
    } else if method.eq_ignore_ascii_case("MESSAGE") {
        Decided::Text
    } else {
        Decided::NotDecided
    }
}

fn malformed(message: impl Into<String>) -> IngestError {
    IngestError::Malformed {
        protocol: "SIP",
        message: message.into(),
    }
}

/// Reads a parsed SIP request for the engine. Responses and methods other than INVITE and
/// MESSAGE are [`IngestError::NotDecided`].
pub fn read<'a>(msg: &Message<'a>, opts: &IngestOptions) -> Result<Ingested<'a>, IngestError> {
    let method = msg
        .method()
        .ok_or_else(|| IngestError::NotDecided("a response".into()))?;
    let kind = match decided(method.as_str()) {
        Decided::Call => EventKind::CallOffer,
        Decided::Text => EventKind::Sms,
        Decided::NotDecided => return Err(IngestError::NotDecided(method.as_str().into())),
    };
    let id = msg
        .call_id()
        .map_err(|e| malformed(format!("Call-ID: {e}")))?;

    let mut callers = Identities::new();
    let from = msg.from().map_err(|e| malformed(format!("From: {e}")))?;
    let mut asserted = Identities::new();
    for pai in msg.p_asserted_identities() {
        let pai = pai.map_err(|e| malformed(format!("P-Asserted-Identity: {e}")))?;
        if let Some(value) = number_of(pai.uri()) {
            asserted.push(Identity {
                source: IdentitySource::PAssertedIdentity,
                value,
            });
        }
    }
    let from_identity = number_of(from.uri()).map(|value| Identity {
        source: IdentitySource::From,
        value,
    });
    if opts.trusted && !asserted.is_empty() {
        callers.extend(asserted.drain(..));
        callers.extend(from_identity);
    } else {
        callers.extend(from_identity);
        callers.extend(asserted.drain(..));
    }
    // A repeated From: cores read the first, a handset may show another; check them all.
    let repeated = msg.headers_of(HeaderKind::From).nth(1).is_some();
    for other in msg
        .from_all()
        .skip(1)
        .take(if repeated { usize::MAX } else { 0 })
    {
        let other = other.map_err(|e| malformed(format!("From: {e}")))?;
        if let Some(value) = number_of(other.uri()) {
            callers.push(Identity {
                source: IdentitySource::From,
                value,
            });
        }
    }
    for (kind, source) in [
        (
            HeaderKind::PPreferredIdentity,
            IdentitySource::PPreferredIdentity,
        ),
        (HeaderKind::Other, IdentitySource::RemotePartyId),
    ] {
        let headers: Vec<_> = if kind == HeaderKind::Other {
            msg.headers_named("Remote-Party-ID").collect()
        } else {
            msg.headers_of(kind).collect()
        };
        for h in headers {
            let value = h
                .value_str()
                .ok_or_else(|| malformed(format!("{source:?}: not UTF-8")))?;
            for elem in split_list(value) {
                let na =
                    NameAddr::parse(elem).map_err(|e| malformed(format!("{source:?}: {e}")))?;
                if let Some(value) = number_of(na.uri()) {
                    callers.push(Identity { source, value });
                }
            }
        }
    }
    if callers.is_empty() {
        // A caller the engine cannot read as a number (sip:alice@…) is still a caller.
        callers.push(Identity {
            source: IdentitySource::From,
            value: Cow::Borrowed(from.uri().as_str()),
        });
    }

    let mut callees = Identities::new();
    let ruri = msg
        .request_uri()
        .ok_or_else(|| malformed("request without a Request-URI"))?;
    callees.push(Identity {
        source: IdentitySource::RequestUri,
        value: number_of(ruri).unwrap_or(Cow::Borrowed(ruri.as_str())),
    });
    let to = msg.to().map_err(|e| malformed(format!("To: {e}")))?;
    if let Some(value) = number_of(to.uri()) {
        if callees.iter().all(|c| c.value != value) {
            callees.push(Identity {
                source: IdentitySource::To,
                value,
            });
        }
    }
    for (list, source) in [
        (msg.diversions(), IdentitySource::Diversion),
        (msg.history_info(), IdentitySource::HistoryInfo),
    ] {
        for entry in list {
            let entry = entry.map_err(|e| malformed(format!("{source:?}: {e}")))?;
            if let Some(value) = number_of(entry.uri()) {
                if callees.iter().all(|c| c.value != value) {
                    callees.push(Identity { source, value });
                }
            }
        }
    }

    let mut degraded = Degraded::default();
    let mut sms_part = None;
    let text = match kind {
        EventKind::Sms => {
            let text = message_text(msg, opts, &mut degraded, &mut sms_part)?;
            Some(text)
        }
        _ => None,
    };
    Ok(Ingested {
        kind,
        callers,
        callees,
        text,
        degraded,
        id: Cow::Borrowed(id),
        sms_part,
    })
}

/// The number or id the engine reads from a URI: the decoded user part of a SIP URI (its
/// `;phone-context` included), a tel URI's number with its `phone-context`, `None` when
/// there is no user part.
pub fn number_of<'a>(uri: &Uri<'a>) -> Option<Cow<'a, str>> {
    match uri.scheme() {
        Scheme::Tel => {
            let number = uri.user()?;
            Some(match uri.phone_context() {
                Some(ctx) => Cow::Owned(format!("{number};phone-context={ctx}")),
                None => Cow::Borrowed(number),
            })
        }
        Scheme::Sip | Scheme::Sips => match uri.user_decoded()? {
            Cow::Borrowed(bytes) => std::str::from_utf8(bytes)
                .ok()
                .map(Cow::Borrowed)
                .or_else(|| Some(Cow::Owned(String::from_utf8_lossy(bytes).into_owned()))),
            Cow::Owned(bytes) => Some(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())),
        },
        Scheme::Other(_) => Some(Cow::Borrowed(uri.as_str())),
    }
}

/// Splits a header value at the commas that separate its values (not those inside quotes or
/// angle brackets).
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || loop {
        let s = rest?;
        let mut quoted = false;
        let mut escaped = false;
        let mut angle = false;
        let mut cut = None;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '<' if !quoted => angle = true,
                '>' if !quoted => angle = false,
                ',' if !quoted && !angle => {
                    cut = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let (head, tail) = match cut {
            Some(i) => (s.get(..i).unwrap_or(""), s.get(i + 1..)),
            None => (s, None),
        };
        rest = tail;
        let head = head.trim();
        if !head.is_empty() {
            return Some(head);
        }
    })
}

/// The text of a SIP MESSAGE as the handset renders it: every text part of the body (in its
/// charset, transfer and content encodings, multipart, CPIM, HTML, SMS over IP), joined by
/// newlines. What cannot be decoded marks the message degraded (or refuses it when
/// configured); a text beyond the bound is refused.
///
/// A concatenated SMS over IP arrives one part per MESSAGE: the text here is this part's, and
/// `sms_part` gets the part (its octets and place) when the body is one part of a
/// concatenated SMS, for the proxy to decide the parts together.
pub fn message_text<'a>(
    msg: &Message<'a>,
    opts: &IngestOptions,
    degraded: &mut Degraded,
    sms_part: &mut Option<SmsPart>,
) -> Result<Cow<'a, str>, IngestError> {
    let limits = BodyLimits {
        max_decoded_bytes: opts.max_text_bytes,
        ..BodyLimits::default()
    };
    let decoded = decode_body(msg, &limits);
    for problem in &decoded.problems {
        if matches!(
            problem.kind,
            ProblemKind::TooLarge | ProblemKind::InflatedTooLarge
        ) {
            return Err(IngestError::TooLarge {
                len: msg.body().len(),
                max: opts.max_text_bytes,
            });
        }
        degraded.text_undecodable = true;
        if opts.refuse_undecodable {
            return Err(IngestError::Undecodable(problem.to_string()));
        }
    }
    if let [BodyPart::Sms(sms)] = decoded.parts.as_slice() {
        if let Some(c) = sms.concat.filter(|c| c.total > 1) {
            let piece = match sms.alphabet() {
                SmsAlphabet::Ucs2 => Some(SmsPiece::Ucs2(sms.text_octets().to_vec())),
                SmsAlphabet::Gsm7 => Some(SmsPiece::Text(sms_text(sms))),
                SmsAlphabet::Data8 | SmsAlphabet::Compressed => None,
            };
            *sms_part = piece.map(|piece| SmsPart {
                reference: c.reference,
                total: c.total,
                seq: c.seq,
                piece,
            });
        }
    }
    let mut texts: Vec<Cow<'a, str>> = Vec::with_capacity(decoded.parts.len());
    for part in decoded.parts {
        match part {
            BodyPart::Text(t) => texts.push(t),
            BodyPart::Sms(sms) => texts.push(Cow::Owned(sms_text(&sms))),
        }
    }
    let text = if texts.len() == 1 {
        texts.pop().unwrap_or_default()
    } else {
        Cow::Owned(texts.join("\n"))
    };
    if text.len() > opts.max_text_bytes {
        return Err(IngestError::TooLarge {
            len: text.len(),
            max: opts.max_text_bytes,
        });
    }
    Ok(text)
}

/// The text of an SMS carried over IP (3GPP TS 24.341), decoded by the alphabet its data
/// coding scheme names (TS 23.038).
fn sms_text(sms: &SmsTpdu<'_>) -> String {
    let mut out = String::new();
    match sms.alphabet() {
        SmsAlphabet::Gsm7 => {
            let septets =
                gsm7::packed_septets(&sms.user_data, sms.udh_len).take(sms.text_septets());
            let _ = gsm7::decode_septets(septets, &mut out);
        }
        SmsAlphabet::Ucs2 => {
            let (text, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(sms.text_octets());
            out.push_str(&text);
        }
        SmsAlphabet::Data8 | SmsAlphabet::Compressed => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_outside_quotes_and_brackets() {
        let v: Vec<_> = split_list("\"a,b\" <sip:1@h;x=1,2>;p=1, <tel:+8617000000001> ,").collect();
        assert_eq!(v, ["\"a,b\" <sip:1@h;x=1,2>;p=1", "<tel:+8617000000001>"]);
    }

    #[test]
    fn methods_are_decided_in_any_case() {
        assert_eq!(decided("invite"), Decided::Call);
        assert_eq!(decided("Message"), Decided::Text);
        assert_eq!(decided("BYE"), Decided::NotDecided);
    }
}
