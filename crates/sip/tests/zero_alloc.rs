//! Zero copy: a counting global allocator proves that parsing a realistic INVITE (18 headers,
//! SDP body) and reading its identities performs no heap allocation.

use interdict_sip::{frame, samples, Framing, Message};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Runs `f` on this thread with allocation counting on; returns the count (per thread, so
/// tests running in parallel never see each other's allocations).
fn allocations_in(f: impl FnOnce()) -> usize {
    counting_alloc::allocations_in(f).1
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_in(|| {
        let v = std::hint::black_box(vec![1u8; 16]);
        drop(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn parsing_an_invite_and_reading_identities_allocates_nothing() {
    let bytes = samples::INVITE;
    let mut digest = 0usize;
    let n = allocations_in(|| {
        let m = Message::parse_datagram(bytes).unwrap();
        assert!(m.headers().len() >= 15);
        assert!(m.body().starts_with(b"v=0"));
        let from = m.from().unwrap();
        let to = m.to().unwrap();
        for p in m.p_asserted_identities() {
            let p = p.unwrap();
            digest += p.uri().user().unwrap().len();
            if let Some(dn) = p.display_name() {
                digest += dn.text().len(); // borrowed: no escapes
            }
        }
        for v in m.vias() {
            let v = v.unwrap();
            digest += v.branch().unwrap().len() + usize::from(v.port().unwrap_or(0));
        }
        let call_id = m.call_id().unwrap();
        let cseq = m.cseq().unwrap();
        digest += from.display_name().unwrap().text().len()
            + from.tag().unwrap().len()
            + to.uri().user().unwrap().len()
            + call_id.len()
            + cseq.seq as usize
            + m.request_uri().unwrap().user().unwrap().len()
            + usize::from(m.max_forwards().unwrap().unwrap())
            + m.content_type().unwrap().unwrap().subtype.len()
            + m.original_callee()
                .unwrap()
                .unwrap()
                .uri()
                .user()
                .unwrap()
                .len()
            + m.request_uri().unwrap().telephone_digits().count();
        m.validate().unwrap();
        assert_eq!(frame(bytes, 65536).unwrap(), Framing::Complete(bytes.len()));
    });
    assert!(digest > 0);
    assert_eq!(n, 0, "parsing and reading identities must not allocate");
}

#[test]
fn writers_reuse_the_output_buffer_without_allocating() {
    use interdict_sip::{forward_request, write_response, ExtraHeader, ForwardOptions, Transport};
    let m = Message::parse_datagram(samples::INVITE).unwrap();
    let mut out = Vec::with_capacity(4096);
    let opts = ForwardOptions {
        via_host: "gw.example.net",
        via_port: Some(5060),
        transport: Transport::Udp,
        mark: Some("[疑似诈骗]"),
    };
    let n = allocations_in(|| {
        out.clear();
        forward_request(&m, &opts, &mut out).unwrap();
        out.clear();
        write_response(
            &m,
            608,
            "Rejected",
            "idt1",
            &[ExtraHeader::Reason {
                cause: 608,
                text: "fraud",
            }],
            &mut out,
        )
        .unwrap();
    });
    assert_eq!(n, 0, "writers must only append into the reused buffer");
}

#[test]
fn sixty_four_headers_and_lf_line_ends_stay_allocation_free_and_more_spill_once() {
    let header_section = |n: usize| {
        let mut m = String::from("OPTIONS sip:+8617100000002@core.example.net SIP/2.0\n");
        m.push_str("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKza\n");
        for i in 0..n - 6 {
            m.push_str(&format!("Record-Route: <sip:p{i}.example.net;lr>\n"));
        }
        m.push_str("From: \"Zhang\" <sip:+8617000000001@sbc.example.net>;tag=z\n");
        m.push_str("To: <sip:+8617100000002@core.example.net>\n");
        m.push_str("Call-ID: za@192.0.2.10\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
        m.into_bytes()
    };
    let inline = header_section(64);
    // The sample INVITE with LF line ends in its header section (the body is kept as is).
    let text = String::from_utf8(samples::INVITE.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let lf_invite = format!("{}\n\n{body}", head.replace("\r\n", "\n")).into_bytes();
    let n = allocations_in(|| {
        for bytes in [&inline, &lf_invite] {
            let m = Message::parse_datagram(bytes).unwrap();
            m.validate().unwrap();
            let from = m.from().unwrap();
            assert!(from.display_name().unwrap().text().starts_with("Zhang"));
            assert!(m.record_routes().count() < 64);
        }
    });
    assert_eq!(n, 0, "64 headers, LF line ends: no allocation");
    let spilled = header_section(200);
    let n = allocations_in(|| {
        let m = Message::parse_datagram(&spilled).unwrap();
        assert_eq!(m.headers().len(), 200);
        assert_eq!(m.record_routes().count(), 194);
    });
    // One bounded allocation for the headers and one for their links, whatever the count.
    assert_eq!(n, 2, "beyond 64 headers the index moves to the heap once");
}
