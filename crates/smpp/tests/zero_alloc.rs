//! Zero copy: framing and decoding a submit_sm (UCS-2, UDH, TLVs), reading its
//! addresses, TLVs and message view allocate nothing. A counting global
//! allocator proves it (this file is its own test binary, one test, so no
//! other thread allocates meanwhile).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use interdict_smpp::{frame, text, Address, Body, Pdu, Sm, TlvTag, DEFAULT_MAX_PDU_LEN};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decoding_a_submit_sm_allocates_nothing() {
    let mut user_data = vec![0x05, 0x00, 0x03, 0x42, 0x02, 0x01];
    for unit in "您涉嫌洗钱，请立即将资金转入安全账户".encode_utf16() {
        user_data.extend_from_slice(&unit.to_be_bytes());
    }
    let tlv = [
        0x02, 0x04, 0x00, 0x02, 0x00, 0x07, 0x14, 0x03, 0x00, 0x01, 0xAA,
    ];
    let sm = Sm {
        source: Address {
            ton: 1,
            npi: 1,
            addr: b"8617000000001",
        },
        destination: Address {
            ton: 1,
            npi: 1,
            addr: b"8617100000002",
        },
        esm_class: 0x40,
        data_coding: 0x08,
        registered_delivery: 1,
        short_message: &user_data,
        tlvs: interdict_smpp::Tlvs::parse(&tlv).unwrap(),
        ..Default::default()
    };
    let wire = Pdu {
        command_status: 0,
        sequence_number: 77,
        body: Body::SubmitSm(sm),
    }
    .to_vec()
    .unwrap();

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let len = frame(&wire, DEFAULT_MAX_PDU_LEN).unwrap().unwrap();
    let pdu = Pdu::decode(&wire[..len]).unwrap();
    let sm = pdu.as_sm().unwrap();
    let (src, dst) = (sm.source, sm.destination);
    let reference = sm
        .tlvs
        .get(TlvTag::UserMessageReference)
        .and_then(|t| t.as_u16());
    let vendor = sm
        .tlvs
        .iter()
        .filter(|t| matches!(t.tag, TlvTag::Other(0x1403)))
        .count();
    let message = sm.message().unwrap();
    let concat = message.concat.unwrap();
    let after = ALLOCATIONS.load(Ordering::SeqCst);

    assert_eq!(
        after - before,
        0,
        "decoding allocated {} times",
        after - before
    );
    assert_eq!((src.ton, src.npi, src.addr), (1, 1, &b"8617000000001"[..]));
    assert_eq!(dst.addr, b"8617100000002");
    assert_eq!(reference, Some(7));
    assert_eq!(vendor, 1);
    assert_eq!((concat.reference, concat.total, concat.seq), (0x42, 2, 1));
    // Text decoding is allowed to allocate (one String).
    let decoded = text::decode(&message, &text::TextOptions::default());
    assert!(decoded.text.ends_with("安全账户"));
}
