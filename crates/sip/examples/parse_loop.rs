//! Parses one bundled sample N times with the typed reads of `benches/sip.rs` (From, To,
//! every P-Asserted-Identity, every Via, Call-ID). Used to count instructions per message
//! with callgrind, which is stable on a shared machine where wall-clock timings are not:
//!
//! ```text
//! cargo build --release -p interdict-sip --example parse_loop
//! valgrind --tool=callgrind target/release/examples/parse_loop invite 200
//! valgrind --tool=callgrind target/release/examples/parse_loop invite 2200
//! # instructions per message = (second total - first total) / 2000
//! ```
//!
//! Arguments: `invite` | `message` | `ringing`, then the number of iterations.

use std::hint::black_box;

use interdict_sip::{samples, Message};

/// The measured body: parse, then read the identities and routing values as typed values.
fn parse_and_read(bytes: &[u8]) -> usize {
    let Ok(m) = Message::parse_datagram(bytes) else {
        return 0;
    };
    let mut n = m.headers().len();
    if let Ok(f) = m.from() {
        n += f.uri().user().map_or(0, str::len) + f.tag().map_or(0, str::len);
        n += f.display_name().map_or(0, |d| d.raw().len());
    }
    if let Ok(t) = m.to() {
        n += t.uri().user().map_or(0, str::len);
    }
    for p in m.p_asserted_identities().flatten() {
        n += p.uri().as_str().len();
    }
    for v in m.vias().flatten() {
        n += v.branch().map_or(0, str::len);
    }
    n + m.call_id().map_or(0, str::len)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = match args.get(1).map(String::as_str) {
        Some("message") => samples::MESSAGE_ZH,
        Some("ringing") => samples::RINGING,
        _ => samples::INVITE,
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut total = 0usize;
    for _ in 0..n {
        total = total.wrapping_add(parse_and_read(black_box(bytes)));
    }
    println!("{total}");
}
