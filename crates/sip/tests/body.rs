//! `decode_body`: one test per way an attacker could hide a script from a reader that only
//! takes text/plain as UTF-8, hostile inputs that must yield problems (never a panic), and
//! a property test that no body under any content type panics.
//!
//! Phone numbers are synthetic (+86 170/171 ranges).

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers outside #[test] fns

use std::borrow::Cow;
use std::io::Write;

use base64::Engine as _;
use interdict_sip::{
    decode_body, BodyLimits, BodyPart, Concat, DecodedBody, Message, ProblemKind, SmsAlphabet,
    SmsTpdu, TpduKind,
};
use proptest::prelude::*;

/// The script a fraudster wants past the filter: "transfer the funds to the safe account".
const SCRIPT: &str = "请将资金转入安全账户";
/// The same in traditional characters (Big5 cannot encode the simplified ones).
const SCRIPT_TRADITIONAL: &str = "請將資金轉入安全賬戶";

/// A SIP MESSAGE with `headers` (each ending in CRLF) and `body`.
fn sip(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "MESSAGE sip:+8617100000002@ims.example.net SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-body-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+8617000000001@ims.example.net>;tag=b1\r\n\
         To: <sip:+8617100000002@ims.example.net>\r\n\
         Call-ID: body-1@192.0.2.10\r\n\
         CSeq: 1 MESSAGE\r\n\
         {headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

fn decode_with<'a>(raw: &'a [u8], limits: &BodyLimits) -> DecodedBody<'a> {
    let msg = Message::parse_datagram(raw).unwrap();
    decode_body(&msg, limits)
}

fn decode(raw: &[u8]) -> DecodedBody<'_> {
    decode_with(raw, &BodyLimits::default())
}

/// All text parts, one per line.
fn text(d: &DecodedBody<'_>) -> String {
    d.texts().collect::<Vec<_>>().join("\n")
}

fn kinds(d: &DecodedBody<'_>) -> Vec<ProblemKind> {
    d.problems.iter().map(|p| p.kind.clone()).collect()
}

/// Asserts the body decodes to exactly `expected`, with no problem, and that a UTF-8-only
/// reader would have missed it.
fn assert_hidden_then_found(headers: &str, body: &[u8], expected: &str) {
    assert!(
        !String::from_utf8_lossy(body).contains(expected),
        "the test body must hide the script from a UTF-8 reader"
    );
    let raw = sip(headers, body);
    let d = decode(&raw);
    assert_eq!(d.problems, vec![], "{headers}");
    assert_eq!(text(&d), expected, "{headers}");
}

fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn encode(enc: &'static encoding_rs::Encoding, s: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = enc.encode(s);
    assert!(!unmappable, "{} cannot encode {s}", enc.name());
    bytes.into_owned()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn b64(data: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    // MIME line length: 76 characters per line.
    s.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

// ---------------------------------------------------------------------------------------
// Plain text and charsets

#[test]
fn plain_utf8_is_borrowed_from_the_message() {
    for headers in [
        "",
        "Content-Type: text/plain\r\n",
        "c: text/plain;charset=utf-8\r\n",
    ] {
        let raw = sip(headers, SCRIPT.as_bytes());
        let d = decode(&raw);
        assert_eq!(d.problems, vec![]);
        match d.parts.as_slice() {
            [BodyPart::Text(Cow::Borrowed(t))] => assert_eq!(*t, SCRIPT),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn gbk() {
    let body = encode(encoding_rs::GBK, SCRIPT);
    assert_hidden_then_found("Content-Type: text/plain;charset=GBK\r\n", &body, SCRIPT);
    // GB2312 labels are read as GBK, as every browser and handset does.
    assert_hidden_then_found(
        "Content-Type: text/plain; charset=\"gb2312\"\r\n",
        &body,
        SCRIPT,
    );
}

#[test]
fn gb18030() {
    let body = encode(encoding_rs::GB18030, SCRIPT);
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=GB18030\r\n",
        &body,
        SCRIPT,
    );
}

#[test]
fn big5() {
    let body = encode(encoding_rs::BIG5, SCRIPT_TRADITIONAL);
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=Big5\r\n",
        &body,
        SCRIPT_TRADITIONAL,
    );
}

#[test]
fn utf16be_label() {
    let body = utf16be(SCRIPT);
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=UTF-16BE\r\n",
        &body,
        SCRIPT,
    );
}

#[test]
fn utf16le_with_bom() {
    let mut body = vec![0xFF, 0xFE];
    body.extend(utf16le(SCRIPT));
    // The BOM decides whatever the label says.
    for cs in ["UTF-16", "utf-16le", "UTF-16BE"] {
        let headers = format!("Content-Type: text/plain;charset={cs}\r\n");
        assert_hidden_then_found(&headers, &body, SCRIPT);
    }
}

#[test]
fn utf16_without_bom_is_big_endian() {
    let body = utf16be(SCRIPT);
    assert_hidden_then_found("Content-Type: text/plain;charset=UTF-16\r\n", &body, SCRIPT);
    // An explicit little-endian label without BOM is honoured.
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=UTF-16LE\r\n",
        &utf16le(SCRIPT),
        SCRIPT,
    );
}

#[test]
fn utf32() {
    let body: Vec<u8> = SCRIPT
        .chars()
        .flat_map(|c| u32::from(c).to_be_bytes())
        .collect();
    assert_hidden_then_found("Content-Type: text/plain;charset=UTF-32\r\n", &body, SCRIPT);
}

#[test]
fn utf8_bom_overrides_a_wrong_label() {
    let mut body = vec![0xEF, 0xBB, 0xBF];
    body.extend_from_slice(SCRIPT.as_bytes());
    let raw = sip("Content-Type: text/plain;charset=ISO-8859-1\r\n", &body);
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    assert_eq!(text(&d), SCRIPT);
}

#[test]
fn latin1() {
    let raw = sip(
        "Content-Type: text/plain;charset=ISO-8859-1\r\n",
        b"Caf\xE9 transfer",
    );
    assert_eq!(text(&decode(&raw)), "Café transfer");
}

#[test]
fn unknown_charset_is_reported_and_read_as_utf8() {
    for cs in ["x-martian", "hz-gb-2312"] {
        let headers = format!("Content-Type: text/plain;charset={cs}\r\n");
        let raw = sip(&headers, SCRIPT.as_bytes());
        let d = decode(&raw);
        assert_eq!(text(&d), SCRIPT);
        assert_eq!(
            kinds(&d),
            vec![ProblemKind::UnknownCharset { label: cs.into() }]
        );
    }
}

#[test]
fn invalid_bytes_are_replaced_and_reported() {
    let mut body = "请将".as_bytes().to_vec();
    body.push(0xFF);
    body.extend_from_slice("资金".as_bytes());
    let raw = sip("", &body);
    let d = decode(&raw);
    assert_eq!(text(&d), "请将\u{FFFD}资金");
    assert_eq!(kinds(&d), vec![ProblemKind::Replaced]);
    assert_eq!(d.problems[0].offset, 6);

    let mut gbk = encode(encoding_rs::GBK, "请将");
    gbk.push(0xFF);
    gbk.extend(encode(encoding_rs::GBK, "资金"));
    let raw = sip("Content-Type: text/plain;charset=gbk\r\n", &gbk);
    let d = decode(&raw);
    assert!(text(&d).starts_with("请将\u{FFFD}"), "{}", text(&d));
    assert!(text(&d).ends_with("资金"), "{}", text(&d));
    assert_eq!(kinds(&d), vec![ProblemKind::Replaced]);
    assert_eq!(d.problems[0].offset, 4);
}

#[test]
fn bad_content_type_is_read_as_text() {
    let raw = sip("Content-Type: text\r\n", SCRIPT.as_bytes());
    let d = decode(&raw);
    assert_eq!(text(&d), SCRIPT);
    assert_eq!(kinds(&d), vec![ProblemKind::BadContentType]);
}

#[test]
fn non_text_types_give_nothing() {
    for ct in [
        "application/sdp",
        "image/png",
        "application/im-iscomposing+xml",
    ] {
        let raw = sip(&format!("Content-Type: {ct}\r\n"), SCRIPT.as_bytes());
        assert_eq!(decode(&raw), DecodedBody::default(), "{ct}");
    }
}

// ---------------------------------------------------------------------------------------
// Transfer and content encodings

#[test]
fn base64_transfer_encoding() {
    let body = b64(&encode(encoding_rs::GBK, SCRIPT));
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=gbk\r\nContent-Transfer-Encoding: base64\r\n",
        body.as_bytes(),
        SCRIPT,
    );
}

#[test]
fn base64_with_junk_and_a_second_group_is_read_whole_and_reported() {
    // Two base64 groups glued together (the first ends in "=="), and a stray '*'.
    let bytes = "请将资金".as_bytes();
    let first = base64::engine::general_purpose::STANDARD.encode(&bytes[..10]);
    let second = base64::engine::general_purpose::STANDARD.encode(&bytes[10..]);
    assert!(first.ends_with("=="));
    let body = format!("*\r\n{first}{second}");
    let raw = sip("Content-Transfer-Encoding: BASE64\r\n", body.as_bytes());
    let d = decode(&raw);
    assert_eq!(text(&d), "请将资金");
    assert!(matches!(
        kinds(&d).as_slice(),
        [ProblemKind::BadTransferEncoding { encoding: "base64" }]
    ));
}

#[test]
fn quoted_printable_transfer_encoding() {
    let mut qp = String::new();
    for (i, b) in SCRIPT.as_bytes().iter().enumerate() {
        qp.push_str(&format!("={b:02X}"));
        if i % 8 == 7 {
            qp.push_str("=\r\n"); // soft line break
        }
    }
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        qp.as_bytes(),
        SCRIPT,
    );
}

#[test]
fn gzip_content_encoding() {
    let body = gzip(SCRIPT.as_bytes());
    assert_hidden_then_found(
        "Content-Type: text/plain;charset=utf-8\r\nContent-Encoding: gzip\r\n",
        &body,
        SCRIPT,
    );
    // Compact form, and gzip under base64.
    let body = b64(&gzip(&utf16be(SCRIPT)));
    assert_hidden_then_found(
        "c: text/plain;charset=utf-16\r\ne: gzip\r\nContent-Transfer-Encoding: base64\r\n",
        body.as_bytes(),
        SCRIPT,
    );
}

#[test]
fn deflate_content_encoding_zlib_and_raw() {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(SCRIPT.as_bytes()).unwrap();
    assert_hidden_then_found(
        "Content-Encoding: deflate\r\n",
        &z.finish().unwrap(),
        SCRIPT,
    );
    let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    r.write_all(SCRIPT.as_bytes()).unwrap();
    assert_hidden_then_found(
        "Content-Encoding: deflate\r\n",
        &r.finish().unwrap(),
        SCRIPT,
    );
}

#[test]
fn unknown_content_encoding_is_not_read() {
    let raw = sip("Content-Encoding: br\r\n", b"\x0b\x02\x80");
    let d = decode(&raw);
    assert!(d.parts.is_empty());
    assert_eq!(
        kinds(&d),
        vec![ProblemKind::UnknownContentEncoding { label: "br".into() }]
    );
}

// ---------------------------------------------------------------------------------------
// Containers

#[test]
fn multipart_mixed_script_in_second_part() {
    let gbk = b64(&encode(encoding_rs::GBK, SCRIPT));
    let body = format!(
        "This is a multi-part message in MIME format.\r\n\
         --frontier\r\n\
         Content-Type: image/png\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n\
         --frontier\r\n\
         Content-Type: text/plain; charset=GBK\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {gbk}\r\n\
         --frontier--\r\n\
         epilogue is not rendered\r\n"
    );
    assert_hidden_then_found(
        "Content-Type: multipart/mixed; boundary=frontier\r\n",
        body.as_bytes(),
        SCRIPT,
    );
}

#[test]
fn multipart_with_lf_only_lines_and_borrowed_parts() {
    let body =
        format!("--b1\nContent-Type: text/plain;charset=utf-8\n\n{SCRIPT}\n--b1\n\nsecond\n--b1--");
    let raw = sip(
        "Content-Type: multipart/mixed;boundary=\"b1\"\r\n",
        body.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    match d.parts.as_slice() {
        [BodyPart::Text(Cow::Borrowed(a)), BodyPart::Text(Cow::Borrowed(b))] => {
            assert_eq!((*a, *b), (SCRIPT, "second"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_multipart() {
    let html = format!(
        "<p>{}</p>",
        SCRIPT
            .chars()
            .map(|c| format!("&#{};", u32::from(c)))
            .collect::<String>()
    );
    let body = format!(
        "--outer\r\n\
         Content-Type: multipart/alternative; boundary=inner\r\n\
         \r\n\
         --inner\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         see the HTML part\r\n\
         --inner\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         \r\n\
         {html}\r\n\
         --inner--\r\n\
         --outer\r\n\
         Content-Type: image/jpeg\r\n\
         \r\n\
         \u{FFFD}\r\n\
         --outer--\r\n"
    );
    let raw = sip(
        "Content-Type: multipart/related;boundary=outer;type=\"multipart/alternative\"\r\n",
        body.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    let t = text(&d);
    assert!(t.contains("see the HTML part"), "{t}");
    assert!(t.contains(SCRIPT), "{t}");
}

#[test]
fn message_cpim() {
    let inner = b64(&utf16be(SCRIPT));
    let body = format!(
        "From: MR SANDERS <im:piglet@100akerwood.example>\r\n\
         To: <im:pooh@100akerwood.example>\r\n\
         DateTime: 2025-01-02T12:34:00+08:00\r\n\
         NS: imdn <urn:ietf:params:imdn>\r\n\
         imdn.Message-ID: 34jk324j\r\n\
         \r\n\
         Content-Type: text/plain; charset=UTF-16\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-ID: <1234567890@example.net>\r\n\
         \r\n\
         {inner}"
    );
    assert_hidden_then_found("Content-Type: message/cpim\r\n", body.as_bytes(), SCRIPT);
}

#[test]
fn cpim_without_empty_line_is_read_as_text() {
    let raw = sip("Content-Type: Message/CPIM\r\n", SCRIPT.as_bytes());
    let d = decode(&raw);
    assert_eq!(text(&d), SCRIPT);
    assert_eq!(kinds(&d), vec![ProblemKind::BadCpim]);
}

#[test]
fn html_tags_splitting_characters() {
    let html = "<!DOCTYPE html><html><head><title></title>\
        <style>p { color: red } /* 无关 */</style>\
        <script type=\"text/javascript\">var s = '<p>无关</p>';</script></head>\
        <body><p>请<b></b>将<span class=\"x\">资</span>金<!-- 无关 -->转\
        &#x5165;&#23433;<i title=\"a>b\">全</i>&#x8D26<b\">户</b></p>\
        <p>&lt;5&gt; &amp;&nbsp;&unknown; a < b</p></body></html>";
    let raw = sip(
        "Content-Type: text/html; charset=utf-8\r\n",
        html.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    let t = text(&d);
    assert!(t.contains(SCRIPT), "{t}");
    assert!(!t.contains("无关") && !t.contains("color"), "{t}");
    assert!(t.contains("<5> &\u{A0}&unknown; a < b"), "{t}");
}

#[test]
fn html_meta_charset() {
    let mut body = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body>".to_vec();
    body.extend(encode(encoding_rs::GBK, SCRIPT));
    body.extend_from_slice(b"</body></html>");
    assert_hidden_then_found("Content-Type: application/xhtml+xml\r\n", &body, SCRIPT);
}

// ---------------------------------------------------------------------------------------
// SMS over IP (3GPP TS 24.341): RP-DATA (TS 24.011) carrying a TPDU (TS 23.040)

/// An MS→network RP-DATA carrying an SMS-SUBMIT to +8617100000002 in UCS-2.
fn rp_submit_ucs2() -> Vec<u8> {
    let ud = utf16be(SCRIPT);
    let mut tpdu = vec![
        0x11, // TP-MTI 01 SMS-SUBMIT, TP-RD 0, TP-VPF 10 (relative), no SRR, no UDHI, no RP
        0x00, // TP-MR
        0x0D, // TP-DA length: 13 digits
        0x91, // TP-DA type: international, ISDN/E.164
        0x68,
        0x71,
        0x01,
        0x00,
        0x00,
        0x00,
        0xF2,           // 86 17 10 00 00 00 2F: 8617100000002
        0x00,           // TP-PID
        0x08,           // TP-DCS: UCS-2
        0xA7,           // TP-VP (relative): 24 hours
        ud.len() as u8, // TP-UDL: octets for UCS-2
    ];
    tpdu.extend(ud); // TP-UD
    let mut rp = vec![
        0x00, // RP-MTI 000: RP-DATA, MS → network
        0x01, // RP-Message Reference
        0x00, // RP-Originator Address: length 0 (absent from the handset)
        0x08, // RP-Destination Address length: TON/NPI + 7 octets
        0x91, // international, ISDN/E.164
        0x68,
        0x71,
        0x00,
        0x00,
        0x00,
        0x00,
        0xF0,             // the service centre: 8617000000000
        tpdu.len() as u8, // RP-User-Data length
    ];
    rp.extend(tpdu); // RP-User-Data: the TPDU
    rp
}

/// Packs GSM septets after `fill_bits` zero bits.
fn pack(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let bits = fill_bits + septets.len() * 7;
    let mut out = vec![0u8; bits.div_ceil(8)];
    for (i, s) in septets.iter().enumerate() {
        let bit = fill_bits + i * 7;
        let v = u16::from(*s) << (bit % 8);
        out[bit / 8] |= v as u8;
        if bit / 8 + 1 < out.len() {
            out[bit / 8 + 1] |= (v >> 8) as u8;
        }
    }
    out
}

/// Septet `i` of packed octets.
fn septet(octets: &[u8], i: usize) -> u8 {
    let bit = i * 7;
    let lo = u16::from(octets[bit / 8]);
    let hi = u16::from(*octets.get(bit / 8 + 1).unwrap_or(&0));
    (((lo | hi << 8) >> (bit % 8)) & 0x7F) as u8
}

/// The text of a 7-bit TPDU as the gateway reads it (ASCII-overlapping GSM characters only).
fn gsm_text(t: &SmsTpdu<'_>) -> String {
    let first = (t.udh_len * 8).div_ceil(7);
    (first..first + t.text_septets())
        .map(|i| char::from(septet(&t.user_data, i)))
        .collect()
}

const GSM_TEXT: &str = "Move all funds to the safe account 1700 now";

/// A network→MS RP-DATA carrying part 1 of 2 of a 7-bit SMS-DELIVER from "BANK".
fn rp_deliver_7bit_concat() -> Vec<u8> {
    let udh = [
        0x05, // UDHL: 5 octets of information elements
        0x00, // IEI: concatenated short message, 8-bit reference
        0x03, // IEDL
        0x42, // reference
        0x02, // total parts
        0x01, // this part
    ];
    // The UDH takes 6 octets = 48 bits; the text starts at the next septet boundary
    // (septet 7, bit 49): one fill bit.
    let mut ud = udh.to_vec();
    ud.extend(pack(GSM_TEXT.as_bytes(), 1));
    let udl = 7 + GSM_TEXT.len(); // septets: 7 for the UDH and fill bit, then the text
    let name = pack(b"BANK", 0); // 4 septets = 28 bits = 7 semi-octets, in 4 octets
    let mut tpdu = vec![
        0x44, // TP-MTI 00 SMS-DELIVER, TP-MMS (no more messages), TP-UDHI
        0x07, // TP-OA length: 7 semi-octets of packed alphanumeric
        0xD0, // TP-OA type: TON 101 alphanumeric, NPI 0000
    ];
    tpdu.extend(&name); // TP-OA: "BANK"
    tpdu.extend([
        0x00, // TP-PID
        0x00, // TP-DCS: GSM 7-bit default alphabet
        0x52, 0x10, 0x20, 0x21, 0x43, 0x00, 0x23,      // TP-SCTS 25-01-02 12:34:00 +08:00
        udl as u8, // TP-UDL in septets
    ]);
    tpdu.extend(ud); // TP-UD: UDH, fill bit, packed text
    let mut rp = vec![
        0x01, // RP-MTI 001: RP-DATA, network → MS
        0x2A, // RP-Message Reference
        0x08, // RP-Originator Address length
        0x91, // international, ISDN/E.164
        0x68,
        0x71,
        0x00,
        0x00,
        0x00,
        0x00,
        0xF0,             // the service centre: 8617000000000
        0x00,             // RP-Destination Address: length 0 (absent towards the handset)
        tpdu.len() as u8, // RP-User-Data length
    ];
    rp.extend(tpdu);
    rp
}

fn only_sms<'d, 'a>(d: &'d DecodedBody<'a>) -> &'d SmsTpdu<'a> {
    match d.parts.as_slice() {
        [BodyPart::Sms(t)] => t,
        other => panic!("{other:?} {:?}", d.problems),
    }
}

#[test]
fn sms_submit_ucs2() {
    let rp = rp_submit_ucs2();
    assert!(!String::from_utf8_lossy(&rp).contains(SCRIPT));
    let raw = sip("Content-Type: application/vnd.3gpp.sms\r\n", &rp);
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    let t = only_sms(&d);
    assert_eq!(t.kind, TpduKind::Submit);
    assert_eq!(t.destination.as_deref(), Some("+8617100000002"));
    assert_eq!(t.originator, None);
    assert_eq!(t.service_centre.as_deref(), Some("+8617000000000"));
    assert_eq!((t.protocol_id, t.data_coding, t.udl), (0, 8, 20));
    assert_eq!(t.alphabet(), SmsAlphabet::Ucs2);
    assert_eq!((t.udh_len, t.udh(), t.concat), (0, None, None));
    assert!(matches!(t.user_data, Cow::Borrowed(_)));
    let units: Vec<u16> = t
        .text_octets()
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&units).unwrap(), SCRIPT);
}

#[test]
fn sms_deliver_7bit_with_concatenation() {
    let rp = rp_deliver_7bit_concat();
    // Base64 on top: the user data is then owned.
    let body = b64(&rp);
    let raw = sip(
        "Content-Type: application/vnd.3gpp.sms\r\nContent-Transfer-Encoding: base64\r\n",
        body.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    let t = only_sms(&d);
    assert_eq!(t.kind, TpduKind::Deliver);
    assert_eq!(t.originator.as_deref(), Some("BANK"));
    assert_eq!(t.destination, None);
    assert_eq!(t.service_centre.as_deref(), Some("+8617000000000"));
    assert_eq!(t.alphabet(), SmsAlphabet::Gsm7);
    assert_eq!(usize::from(t.udl), 7 + GSM_TEXT.len());
    assert_eq!(t.user_data.len(), (usize::from(t.udl) * 7).div_ceil(8));
    assert_eq!(t.udh_len, 6);
    assert_eq!(t.udh(), Some([0x00, 0x03, 0x42, 0x02, 0x01].as_slice()));
    assert_eq!(
        t.concat,
        Some(Concat {
            reference: 0x42,
            total: 2,
            seq: 1,
            wide: false
        })
    );
    assert_eq!(t.text_septets(), GSM_TEXT.len());
    assert_eq!(gsm_text(t), GSM_TEXT);
    assert!(matches!(t.user_data, Cow::Owned(_)));
}

#[test]
fn sms_submit_with_16_bit_reference_inside_multipart() {
    // SMS-SUBMIT, 8-bit-reference replaced by IEI 0x08, UCS-2, VPF absolute (7 octets).
    let mut ud = vec![0x06, 0x08, 0x04, 0x12, 0x34, 0x03, 0x02];
    ud.extend(utf16be("资金"));
    let mut tpdu = vec![0x59, 0x07, 0x0B, 0x81, 0x71, 0x01, 0x00, 0x00, 0x00, 0xF2];
    //                 ^ MTI 01, VPF 11 (absolute), UDHI; MR; 11 digits, national 17100000002
    tpdu.extend([0x00, 0x08]); // PID, DCS UCS-2
    tpdu.extend([0x52, 0x10, 0x20, 0x21, 0x43, 0x00, 0x23]); // TP-VP absolute
    tpdu.push(ud.len() as u8);
    tpdu.extend(&ud);
    let mut rp = vec![0x00, 0x02, 0x00, 0x00, tpdu.len() as u8];
    rp.extend(tpdu);
    let mut body = b"--s\r\nContent-Type: application/vnd.3gpp.sms\r\n\r\n".to_vec();
    body.extend(&rp);
    body.extend_from_slice(b"\r\n--s--\r\n");
    let raw = sip("Content-Type: multipart/mixed;boundary=s\r\n", &body);
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    let t = only_sms(&d);
    assert_eq!(t.destination.as_deref(), Some("17100000002"));
    assert_eq!(t.service_centre, None);
    assert_eq!(
        t.concat,
        Some(Concat {
            reference: 0x1234,
            total: 3,
            seq: 2,
            wide: true
        })
    );
    assert_eq!(t.text_octets(), utf16be("资金").as_slice());
}

#[test]
fn rp_ack_and_status_report_give_nothing() {
    let status_report = [0x01, 0x05, 0x00, 0x00, 0x01, 0x02]; // RP-DATA to the handset, TP-MTI 10
    for rp in [
        &[0x02u8, 0x01][..],
        &[0x03, 0x01, 0x41, 0x00],
        &status_report,
    ] {
        let raw = sip("Content-Type: application/vnd.3gpp.sms\r\n", rp);
        assert_eq!(decode(&raw), DecodedBody::default());
    }
}

// ---------------------------------------------------------------------------------------
// Hostile inputs: problems, never a panic

fn sms_problems(rp: &[u8]) -> (usize, Vec<ProblemKind>) {
    let raw = sip("Content-Type: application/vnd.3gpp.sms\r\n", rp);
    let d = decode(&raw);
    (d.parts.len(), kinds(&d))
}

#[test]
fn truncated_rp_data() {
    for rp in [rp_submit_ucs2(), rp_deliver_7bit_concat()] {
        for n in 1..rp.len() {
            let (parts, problems) = sms_problems(&rp[..n]);
            assert_eq!(parts, 0, "prefix of {n} octets");
            assert!(
                matches!(problems.as_slice(), [ProblemKind::SmsTruncated { .. }]),
                "prefix of {n}: {problems:?}"
            );
        }
    }
}

#[test]
fn bogus_lengths() {
    // RP-User-Data length beyond the buffer.
    let mut rp = rp_submit_ucs2();
    rp[12] = 0xFF;
    assert_eq!(
        sms_problems(&rp),
        (
            0,
            vec![ProblemKind::SmsTruncated {
                field: "RP-User-Data"
            }]
        )
    );
    // TP-UDL beyond the user data.
    let mut rp = rp_submit_ucs2();
    rp[13 + 14] = 0xA0;
    assert_eq!(
        sms_problems(&rp),
        (
            0,
            vec![
                ProblemKind::SmsBadLength { field: "TP-UDL" },
                ProblemKind::SmsTruncated { field: "TP-UD" }
            ]
        )
    );
    // TP-UDHL beyond the user data.
    let mut rp = rp_deliver_7bit_concat();
    let ud_at = rp.len() - ((7 + GSM_TEXT.len()) * 7).div_ceil(8);
    assert_eq!(rp[ud_at], 0x05);
    rp[ud_at] = 0xF0;
    assert_eq!(
        sms_problems(&rp),
        (0, vec![ProblemKind::SmsBadLength { field: "TP-UDHL" }])
    );
    // A UDH element running past the UDH: the SMS is still returned, without concat.
    let mut rp = rp_deliver_7bit_concat();
    rp[ud_at + 2] = 0x09;
    let raw = sip("Content-Type: application/vnd.3gpp.sms\r\n", &rp);
    let d = decode(&raw);
    assert_eq!(only_sms(&d).concat, None);
    assert_eq!(
        kinds(&d),
        vec![ProblemKind::SmsBadLength {
            field: "UDH information element"
        }]
    );
    // Octets after the TPDU are reported.
    let mut rp = rp_submit_ucs2();
    rp.push(0);
    assert_eq!(sms_problems(&rp), (1, vec![ProblemKind::SmsTrailingOctets]));
    // A reserved RP message type and an SMS-DELIVER sent by the handset.
    assert!(matches!(
        sms_problems(&[0x07, 0x00]).1.as_slice(),
        [ProblemKind::SmsUnsupported { .. }]
    ));
    let mut rp = rp_submit_ucs2();
    rp[13] = 0x00;
    assert!(matches!(
        sms_problems(&rp).1.as_slice(),
        [ProblemKind::SmsUnsupported { .. }]
    ));
}

#[test]
fn gzip_bomb_beyond_the_cap() {
    let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let raw = sip("Content-Encoding: gzip\r\n", &bomb);
    let d = decode(&raw);
    let k = kinds(&d);
    assert!(k.contains(&ProblemKind::InflatedTooLarge), "{k:?}");
    assert!(k.contains(&ProblemKind::TooLarge), "{k:?}");
    assert_eq!(
        text(&d).len(),
        64 * 1024,
        "the text up to the cap is returned"
    );
}

#[test]
fn output_cap_cuts_at_a_character_boundary() {
    let body = SCRIPT.repeat(10);
    let raw = sip("", body.as_bytes());
    let limits = BodyLimits {
        max_decoded_bytes: 10,
        ..BodyLimits::default()
    };
    let d = decode_with(&raw, &limits);
    assert_eq!(text(&d), "请将资");
    assert_eq!(kinds(&d), vec![ProblemKind::TooLarge]);
}

#[test]
fn boundary_never_closed() {
    let body = format!("--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x\r\n\r\n{SCRIPT}");
    let raw = sip(
        "Content-Type: multipart/mixed;boundary=x\r\n",
        body.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(text(&d), format!("hello\n{SCRIPT}"));
    assert_eq!(kinds(&d), vec![ProblemKind::UnclosedMultipart]);
    // The boundary never appears at all: the content is read as text.
    let raw = sip(
        "Content-Type: multipart/mixed;boundary=zz\r\n",
        SCRIPT.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(text(&d), SCRIPT);
    assert_eq!(kinds(&d), vec![ProblemKind::UnclosedMultipart]);
    // No boundary parameter.
    let raw = sip("Content-Type: multipart/mixed\r\n", SCRIPT.as_bytes());
    let d = decode(&raw);
    assert_eq!(text(&d), SCRIPT);
    assert_eq!(kinds(&d), vec![ProblemKind::MissingBoundary]);
}

#[test]
fn malformed_part_headers_are_read_as_text() {
    let body = format!("--x\r\nnot a header\r\n{SCRIPT}\r\n--x--");
    let raw = sip(
        "Content-Type: multipart/mixed;boundary=x\r\n",
        body.as_bytes(),
    );
    let d = decode(&raw);
    assert!(text(&d).contains(SCRIPT));
    assert_eq!(kinds(&d), vec![ProblemKind::BadPartHeaders]);
}

fn nested(levels: usize) -> String {
    let mut body = format!("Content-Type: text/plain\r\n\r\n{SCRIPT}");
    for i in 0..levels {
        body = format!(
            "Content-Type: multipart/mixed;boundary=b{i}\r\n\r\n--b{i}\r\n{body}\r\n--b{i}--"
        );
    }
    body
}

#[test]
fn depth_beyond_the_cap() {
    // Four multipart levels (the outer one is the SIP body): the text is at depth 4, the cap.
    let inner = nested(4);
    let (head, body) = inner.split_once("\r\n\r\n").unwrap();
    let raw = sip(&format!("{head}\r\n"), body.as_bytes());
    let d = decode(&raw);
    assert_eq!(d.problems, vec![]);
    assert_eq!(text(&d), SCRIPT);
    // Five levels: the text is at depth 5.
    let inner = nested(5);
    let (head, body) = inner.split_once("\r\n\r\n").unwrap();
    let raw = sip(&format!("{head}\r\n"), body.as_bytes());
    let d = decode(&raw);
    assert_eq!(text(&d), "");
    assert_eq!(kinds(&d), vec![ProblemKind::TooDeep]);
    assert_eq!(d.problems[0].part, 5);
}

#[test]
fn too_many_parts() {
    let mut body = String::new();
    for i in 0..20 {
        body.push_str(&format!("--p\r\n\r\npart {i}\r\n"));
    }
    body.push_str("--p--\r\n");
    let raw = sip(
        "Content-Type: multipart/mixed;boundary=p\r\n",
        body.as_bytes(),
    );
    let d = decode(&raw);
    assert_eq!(d.parts.len(), 16);
    assert_eq!(kinds(&d), vec![ProblemKind::TooManyParts]);
    assert_eq!(d.problems[0].part, 17);
}

// ---------------------------------------------------------------------------------------
// No body under any content type panics

const TYPES: &[&str] = &[
    "",
    "Content-Type: text/plain\r\n",
    "Content-Type: text/plain;charset=gbk\r\n",
    "Content-Type: text/plain;charset=utf-16\r\n",
    "Content-Type: text/plain;charset=utf-32le\r\n",
    "Content-Type: text/html\r\n",
    "Content-Type: multipart/mixed;boundary=b\r\n",
    "Content-Type: multipart/alternative;boundary=\"b\"\r\n",
    "Content-Type: message/cpim\r\n",
    "Content-Type: application/vnd.3gpp.sms\r\n",
    "Content-Type: application/sdp\r\n",
    "Content-Type: multipart/mixed;boundary=b\r\nContent-Encoding: gzip\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n",
    "Content-Type: message/cpim\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    "Content-Encoding: deflate\r\n",
];

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        Just(b"--b\r\n".to_vec()),
        Just(b"--b--\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"Content-Type: multipart/mixed;boundary=b\r\n".to_vec()),
        Just(b"Content-Type: message/cpim\r\n".to_vec()),
        Just(b"Content-Type: application/vnd.3gpp.sms\r\n".to_vec()),
        Just(b"Content-Type: text/html;charset=utf-16\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Encoding: gzip\r\n".to_vec()),
        Just(b"<script>&#x5237;<b title=\"".to_vec()),
        Just(b"&#99999999999;&amp<!--".to_vec()),
        Just(b"=\r\n=4".to_vec()),
        Just(rp_submit_ucs2()),
        Just(rp_deliver_7bit_concat()),
        Just(gzip(b"--b\r\n\r\nx")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics(
        ty in 0..TYPES.len(),
        pieces in prop::collection::vec(fragment(), 0..12),
        cap in 1usize..4096,
        depth in 0usize..6,
        parts in 0usize..20,
    ) {
        let body = pieces.concat();
        let raw = sip(TYPES[ty], &body);
        let limits = BodyLimits {
            max_decoded_bytes: cap,
            max_parts: parts,
            max_depth: depth,
            max_inflated_bytes: 4096,
        };
        let d = decode_with(&raw, &limits);
        let used: usize = d
            .parts
            .iter()
            .map(|p| match p {
                BodyPart::Text(t) => t.len(),
                BodyPart::Sms(s) => s.user_data.len(),
            })
            .sum();
        prop_assert!(used <= cap);
        for p in &d.parts {
            if let BodyPart::Sms(s) = p {
                let _ = (s.alphabet(), s.udh(), s.text_octets(), s.text_septets());
                prop_assert!(s.udh_len <= s.user_data.len());
            }
        }
        for p in &d.problems {
            let _ = p.to_string();
        }
    }
}
