"""Interop client for the Interdict police feed, written against proto/ with grpcio.

Run by crates/gateway/tests/feed_python.rs inside the project's .venv (scripts/install-deps).
It generates its stubs from proto/interdict/v1 with grpcio-tools, connects with a client
certificate (mutual TLS), and talks to the Rust test over stdin/stdout, one line each way:

  EVENTS n       -> prints one JSON line per event for the first n events from sequence 1
  PUSH number    -> pushes the number to fraud_numbers, prints PUSHED <rules_version> <audit_seq>
  WAIT caller    -> waits for a BLOCK event from that caller, prints SEEN <sequence>
"""

import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc


def stubs(proto_root):
    out = tempfile.mkdtemp(prefix="interdict-py-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    files = [
        os.path.join("interdict", "v1", f)
        for f in ("events.proto", "feed.proto", "rules.proto", "stats.proto")
    ]
    rc = protoc.main(
        ["protoc", "-I", proto_root, "-I", include, "--python_out", out, "--grpc_python_out", out]
        + files
    )
    if rc != 0:
        sys.exit(f"protoc failed: {rc}")
    sys.path.insert(0, out)


def main():
    target, proto_root, ca, cert, key = sys.argv[1:6]
    stubs(proto_root)
    from interdict.v1 import events_pb2, feed_pb2, feed_pb2_grpc, rules_pb2, rules_pb2_grpc

    creds = grpc.ssl_channel_credentials(
        root_certificates=open(ca, "rb").read(),
        private_key=open(key, "rb").read(),
        certificate_chain=open(cert, "rb").read(),
    )
    channel = grpc.secure_channel(
        target, creds, options=[("grpc.ssl_target_name_override", "localhost")]
    )
    feed = feed_pb2_grpc.FeedStub(channel)
    rules = rules_pb2_grpc.RulesStub(channel)

    def subscribe():
        return feed.Subscribe(
            feed_pb2.SubscribeRequest(start=feed_pb2.START_FROM_SEQUENCE, from_sequence=1),
            timeout=30,
        )

    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "EVENTS":
            stream = subscribe()
            for i, ev in enumerate(stream):
                ev_json = {
                    "sequence": ev.sequence,
                    "kind": events_pb2.EventKind.Name(ev.kind),
                    "verdict": events_pb2.Verdict.Name(ev.verdict),
                    "rule": ev.rule_id,
                    "caller": ev.caller.number,
                    "callee": ev.callee.number,
                    "evidence": [e.WhichOneof("kind") for e in ev.evidence],
                }
                print(json.dumps(ev_json), flush=True)
                if i + 1 >= int(arg):
                    break
            stream.cancel()
        elif cmd == "PUSH":
            r = rules.UpdateNumbers(
                rules_pb2.UpdateNumbersRequest(
                    list="fraud_numbers",
                    add=[arg],
                    reason="reported by the 96110 line",
                    case_id="case-py-0001",
                    request_id="py-" + arg,
                )
            )
            print(f"PUSHED {r.rules_version} {r.audit_sequence}", flush=True)
        elif cmd == "WAIT":
            stream = subscribe()
            for ev in stream:
                if ev.caller.number == arg and ev.verdict == events_pb2.VERDICT_BLOCK:
                    print(f"SEEN {ev.sequence}", flush=True)
                    break
            stream.cancel()
        elif cmd == "QUIT":
            return


if __name__ == "__main__":
    main()
