//! JSON-lines events: `{"kind":"sms"|"call",…}` one per line, decided in order
//! so that the behaviour detectors see the traffic as it happened.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};

use interdict_engine::{Engine, Event, EventKind, Ingress};
use serde::Deserialize;

use crate::check::{now_ms, Output};

/// Longest input line accepted; a longer one is reported, not decided.
const MAX_LINE: usize = 1 << 20;

/// One input event as written by a user or a test.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputEvent {
    kind: InputKind,
    caller: String,
    callee: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    ingress: Option<InputIngress>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    trunk: Option<String>,
    /// Length of an ended call, for `call_ended`.
    #[serde(default)]
    duration_ms: Option<u64>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum InputKind {
    Sms,
    Call,
    CallAnswered,
    CallEnded,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum InputIngress {
    Domestic,
    International,
}

/// Decides every line of `source` (a path, or `-` for standard input).
pub fn check<W: Write>(engine: &Engine, source: &str, output: &mut Output<W>) -> io::Result<()> {
    let reader: Box<dyn BufRead> = if source == "-" {
        Box::new(io::stdin().lock())
    } else {
        match File::open(source) {
            Ok(file) => Box::new(BufReader::new(file)),
            Err(e) => return output.error(source, &format!("cannot open: {e}")),
        }
    };
    let name = if source == "-" { "stdin" } else { source };
    let mut buf = Vec::new();
    let mut reader = io::Read::take(reader, 0);
    for number in 1.. {
        buf.clear();
        // Read at most MAX_LINE + 1 bytes so one huge line cannot exhaust memory.
        reader.set_limit(MAX_LINE as u64 + 1);
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        let input = format!("{name}:{number}");
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            output.error(&input, &format!("line longer than {MAX_LINE} bytes"))?;
            skip_rest_of_line(&mut reader)?;
            continue;
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match decide_line(engine, line) {
            Ok(decision) => output.decision(&input, &decision)?,
            Err(message) => output.error(&input, &message)?,
        }
    }
    Ok(())
}

fn skip_rest_of_line<R: BufRead>(reader: &mut io::Take<R>) -> io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        reader.set_limit(MAX_LINE as u64);
        let read = reader.read_until(b'\n', &mut sink)?;
        if read == 0 || sink.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

fn decide_line(engine: &Engine, line: &[u8]) -> Result<interdict_engine::Decision, String> {
    let input: InputEvent =
        serde_json::from_slice(line).map_err(|e| format!("not an event object: {e}"))?;
    let at_ms = match &input.ts {
        Some(ts) => {
            let t: jiff::Timestamp = ts
                .parse()
                .map_err(|e| format!("ts {ts:?} is not an RFC 3339 time: {e}"))?;
            u64::try_from(t.as_millisecond()).map_err(|_| format!("ts {ts:?} is before 1970"))?
        }
        None => now_ms(),
    };
    let kind = match input.kind {
        InputKind::Sms => EventKind::Sms,
        InputKind::Call => EventKind::CallOffer,
        InputKind::CallAnswered => EventKind::CallAnswered,
        InputKind::CallEnded => EventKind::CallEnded {
            duration_ms: input.duration_ms.ok_or("call_ended needs duration_ms")?,
        },
    };
    let ingress = match input.ingress {
        None | Some(InputIngress::Domestic) => Ingress::Domestic,
        Some(InputIngress::International) => Ingress::International,
    };
    let event = Event {
        kind,
        caller: &input.caller,
        callee: &input.callee,
        text: input.text.as_deref(),
        ingress,
        trunk: input.trunk.as_deref(),
        at_ms,
    };
    Ok(engine.decide(&event))
}
