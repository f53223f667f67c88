#!/usr/bin/env python3
"""SMPP interoperability client for the tests: python-smpplib binds to HOST:PORT (the SMSC
simulator, or the gateway in front of it) and submits a fixed set of messages.

    smpp_client.py --port 2775 --bind transmitter            # submit every message once
    smpp_client.py --port 2775 --bind transceiver --receipts  # ... and wait for the receipts
    smpp_client.py --port 2775 --bind receiver --expect 1     # wait for 1 deliver_sm

Prints JSON lines: {"event": "bound", ...} once bound, one {"event": "submitted", ...} per
message (the kind, and status and message_id of every part), one {"event": "deliver_sm",
...} per message received, and {"event": "done", ...} last. Exit status 0 when every
expected response or delivery arrived.

Every text and number is synthetic, written for these tests.
"""
import argparse
import json
import sys
import time

import smpplib.client
import smpplib.consts

SOURCE = "1069000000002"
SCAM_SOURCE = "8617000009998"
DESTINATION = "8617000000123"

# (kind, text, encoding). Encodings: ucs2 (data_coding 8), gbk (data_coding 0x0F, as
# Chinese SMSCs send it), gsm (data_coding 0, ASCII subset), concat (UCS-2 split into
# parts of 133 octets, so every split cuts a character in two).
MESSAGES = [
    ("ordinary", "【社区驿站】您的包裹已到达小区驿站，取件码5-1-2046，请于今日18:00前凭码领取。", "ucs2"),
    ("ordinary_gsm", "Your parcel is waiting at the front desk, pickup code 2046.", "gsm"),
    ("scam", "【公安局】您名下账户涉嫌洗钱，请立即将资金转入安全账户配合调查，案件保密不得告诉家人。", "ucs2"),
    ("gbk", "【公安局】您的银行卡涉嫌洗钱，请立即将资金转入安全账户接受清查。", "gbk"),
    (
        "concat_ucs2",
        "【刑侦支队】您的身份证涉嫌一起洗钱案件，已被列为嫌疑人，名下账户将被冻结。为证明清白，"
        "请在今天下班前将全部资金转入安全账户接受清查，案件保密，不得告诉任何人，否则将依法逮捕。",
        "concat",
    ),
]
PART_OCTETS = 133
# With --with-warned: a long ordinary text from a number on the bundled suspect list
# (synthetic), which a gateway warns: it must arrive prefixed and re-segmented.
SUSPECT_SOURCE = "8617055550001"
WARNED = ("warned", "【物业】本周六上午九点至十一点小区停水检修，请提前储水，给您带来不便敬请谅解。" * 2, "ucs2")


def parts_of(text, encoding, reference):
    """(data_coding, esm_class, [short_message, ...])"""
    if encoding == "ucs2":
        return 8, 0, [text.encode("utf-16-be")]
    if encoding == "gbk":
        return 0x0F, 0, [text.encode("gbk")]
    if encoding == "gsm":
        return 0, 0, [text.encode("ascii")]
    octets = text.encode("utf-16-be")
    chunks = [octets[i:i + PART_OCTETS] for i in range(0, len(octets), PART_OCTETS)]
    return 8, 0x40, [
        bytes([5, 0, 3, reference, len(chunks), i]) + chunk for i, chunk in enumerate(chunks, 1)
    ]


def emit(**kw):
    print(json.dumps(kw, ensure_ascii=False), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", choices=["transmitter", "receiver", "transceiver"], default="transmitter")
    ap.add_argument("--system-id", default="pytest")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--receipts", action="store_true", help="ask for receipts and wait for them")
    ap.add_argument("--expect", type=int, default=0, help="deliver_sm to wait for (receiver)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--with-warned", action="store_true", help="also submit a suspect sender's text")
    a = ap.parse_args()

    client = smpplib.client.Client(a.host, a.port, timeout=0.5, allow_unknown_opt_params=True)
    responses = {}  # sequence -> (status, message_id)
    errors = []
    delivered = []

    def on_sent(pdu, **kw):
        mid = getattr(pdu, "message_id", None)
        if isinstance(mid, bytes):
            mid = mid.decode("ascii", "replace")
        responses[pdu.sequence] = (int(pdu.status), mid)

    def on_error(pdu):
        if pdu.command != "submit_sm_resp":
            errors.append("%s:%s" % (pdu.command, pdu.status))
            responses[pdu.sequence] = (int(pdu.status), None)

    def on_received(pdu, **kw):
        sm = pdu.short_message or b""
        delivered.append(pdu)
        emit(
            event="deliver_sm",
            source=pdu.source_addr.decode() if isinstance(pdu.source_addr, bytes) else pdu.source_addr,
            destination=pdu.destination_addr.decode()
            if isinstance(pdu.destination_addr, bytes)
            else pdu.destination_addr,
            esm_class=int(pdu.esm_class),
            data_coding=int(pdu.data_coding),
            short_message_hex=sm.hex(),
            receipt=bool(int(pdu.esm_class) & 0x04),
        )

    client.set_message_sent_handler(on_sent)
    client.set_error_pdu_handler(on_error)
    client.set_message_received_handler(on_received)
    client.connect()
    bind = getattr(client, "bind_" + a.bind)
    resp = bind(system_id=a.system_id, password=a.password)
    emit(event="bound", bind=a.bind, status=int(resp.status))

    sent = []  # (kind, [sequence, ...])
    if a.bind != "receiver":
        messages = MESSAGES + ([WARNED] if a.with_warned else [])
        for n, (kind, text, encoding) in enumerate(messages):
            data_coding, esm_class, parts = parts_of(text, encoding, 40 + n)
            source = SCAM_SOURCE if kind in ("scam", "gbk", "concat_ucs2") else SOURCE
            if kind == "warned":
                source = SUSPECT_SOURCE
            seqs = []
            for part in parts:
                pdu = client.send_message(
                    source_addr_ton=1 if source == SCAM_SOURCE else 0,
                    source_addr_npi=1,
                    source_addr=source,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr=DESTINATION,
                    short_message=part,
                    data_coding=data_coding,
                    esm_class=esm_class,
                    registered_delivery=1 if a.receipts else 0,
                )
                seqs.append(pdu.sequence)
            sent.append((kind, seqs))

    want_parts = sum(len(s) for _, s in sent)
    deadline = time.time() + a.seconds

    def receipts():
        return sum(1 for d in delivered if int(d.esm_class) & 0x04)

    def waiting():
        if len(responses) < want_parts:
            return True
        if a.receipts and receipts() < want_parts:
            return True
        return len(delivered) < a.expect

    while waiting() and time.time() < deadline:
        try:
            client.read_once(auto_send_enquire_link=False)
        except Exception as e:  # socket.timeout or a closed socket
            if type(e).__name__ not in ("timeout", "TimeoutError"):
                errors.append(repr(e))
                break

    for kind, seqs in sent:
        emit(
            event="submitted",
            kind=kind,
            parts=[{"status": responses.get(s, (None, None))[0], "message_id": responses.get(s, (None, None))[1]} for s in seqs],
        )
    ok = not waiting() and not errors
    try:
        client.unbind()
        client.disconnect()
    except Exception as e:
        errors.append("unbind: %r" % e)
    emit(event="done", ok=ok, responses=len(responses), delivered=len(delivered), receipts=receipts(), errors=errors)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
