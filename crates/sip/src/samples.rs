//! Synthetic sample messages for examples, tests, benches and demos.
//!
//! All numbers are synthetic: `+86 170 0000 xxxx` / `+86 171 0000 xxxx` are virtual-operator
//! ranges used here only as obviously made-up examples; hosts use `example.net` and the
//! RFC 5737 documentation addresses.

/// A realistic ~1 KB INVITE from an SBC to the core: 18 headers (P-Asserted-Identity,
/// Diversion, Record-Route, ...) and an SDP body.
pub const INVITE: &[u8] = b"INVITE sip:+8617100000002@ims.example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77a4c1b8e1d0b3c2;rport\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:192.0.2.10:5060;lr;ftag=as4f1b7c2e>\r\n\
From: \"Zhang Wei\" <sip:+8617000000001@sbc.example.net;user=phone>;tag=as4f1b7c2e\r\n\
To: <sip:+8617100000002@ims.example.net;user=phone>\r\n\
P-Asserted-Identity: \"Zhang Wei\" <sip:+8617000000001@sbc.example.net;user=phone>\r\n\
P-Asserted-Identity: <tel:+8617000000001>\r\n\
Diversion: <sip:+8617100000009@ims.example.net;user=phone>;reason=unconditional;counter=1\r\n\
Contact: <sip:+8617000000001@192.0.2.10:5060;transport=udp>\r\n\
Call-ID: 3c26700a5e1f7b2a@192.0.2.10\r\n\
CSeq: 102 INVITE\r\n\
User-Agent: Interdict-Sample-SBC/1.0\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PRACK, UPDATE\r\n\
Supported: replaces, timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 281\r\n\
\r\n\
v=0\r\n\
o=- 1674573816 1674573816 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.20\r\n\
t=0 0\r\n\
m=audio 31000 RTP/AVP 8 0 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// A SIP MESSAGE (RFC 3428) carrying a UTF-8 Chinese text body (a typical fraud script).
pub const MESSAGE_ZH: &[u8] = "MESSAGE sip:+8617100000003@ims.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bK-msg-5f3a9c\r\n\
Max-Forwards: 70\r\n\
From: <sip:+8617000000004@sbc.example.net>;tag=m81d\r\n\
To: <sip:+8617100000003@ims.example.net>\r\n\
P-Asserted-Identity: <tel:+8617000000004>\r\n\
Call-ID: msg-6d1e2f@192.0.2.11\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Type: text/plain;charset=UTF-8\r\n\
Content-Length: 111\r\n\
\r\n\
您好，我是公安局民警，您的账户涉嫌洗钱，请立即将资金转入安全账户配合调查。"
    .as_bytes();

/// A 180 Ringing response on its way back through two Vias.
pub const RINGING: &[u8] = b"SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP gw.example.net:5060;branch=z9hG4bK8d1f0c3e77a4c1b8e1d0b3c2a9f4e6d1\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77a4c1b8e1d0b3c2;rport=5060;received=192.0.2.10\r\n\
Record-Route: <sip:192.0.2.10:5060;lr;ftag=as4f1b7c2e>\r\n\
From: \"Zhang Wei\" <sip:+8617000000001@sbc.example.net;user=phone>;tag=as4f1b7c2e\r\n\
To: <sip:+8617100000002@ims.example.net;user=phone>;tag=1928301774\r\n\
Call-ID: 3c26700a5e1f7b2a@192.0.2.10\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:+8617100000002@198.51.100.7:5060>\r\n\
Content-Length: 0\r\n\
\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn samples_parse_and_validate() {
        for s in [INVITE, MESSAGE_ZH, RINGING] {
            let m = Message::parse_datagram(s).unwrap();
            m.validate().unwrap();
            assert_eq!(m.len(), s.len(), "Content-Length matches the body");
        }
        assert!(Message::parse_datagram(INVITE).unwrap().headers().len() >= 15);
    }
}
