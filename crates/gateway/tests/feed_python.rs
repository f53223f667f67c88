//! Interoperability: a Python grpcio client (stubs generated from proto/ by grpcio-tools, in
//! the project's .venv from scripts/install-deps) subscribes over mutual TLS, receives the
//! block and the warning of real SIP traffic, pushes a number, and sees the next call from
//! that number blocked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{invite, status, Gateway, Peer};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

fn call(gw: &Gateway, core: &Peer, from: &str, id: &str) -> Option<u16> {
    let border = Peer::any();
    border.send(
        gw.sip,
        &invite("INVITE", from, "+8613800000002", border.port(), "", id),
    );
    let answer = border
        .recv(Duration::from_secs(3))
        .and_then(|(b, _)| status(&b));
    core.drain(Duration::from_millis(100));
    answer
}

#[test]
fn python_grpcio_client_subscribes_pushes_and_sees_the_block() {
    let root = common::root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps to create the Python venv with grpcio and grpcio-tools",
        python.display()
    );
    let dir = common::scratch("feed-python");
    common::copy_dir(&root.join("rules"), &dir.join("rules"));

    // A CA, the gateway's certificate and a rules-admin client certificate.
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "Interdict test CA");
    let ca = p.self_signed(&ca_key).unwrap();
    let issue = |name: &str, usage| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let write = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let ca_path = write("ca.pem", &ca.pem());
    let (cert, key) = issue("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (server_cert, server_key) = (write("server.pem", &cert), write("server.key", &key));
    let (cert, key) = issue("admin.fzzx.example", ExtendedKeyUsagePurpose::ClientAuth);
    let (client_cert, client_key) = (write("client.pem", &cert), write("client.key", &key));

    let port = common::free_port();
    let feed = format!(
        "\n[feed]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nlog_dir = {:?}\n\
         cert = {server_cert:?}\nkey = {server_key:?}\nclient_ca = {ca_path:?}\n\
         [feed.roles.\"admin.fzzx.example\"]\nrole = \"rules-admin\"\n",
        dir.join("feed").display().to_string()
    );
    let gw = Gateway::start_in(dir.clone(), &feed, "");
    let core = Peer::bind(gw.next_hop);
    assert_eq!(call(&gw, &core, "+8617100000002", "py-block"), Some(608));
    assert_ne!(call(&gw, &core, "+8617055550001", "py-warn"), Some(608));

    let mut child = Command::new(&python)
        .arg(root.join("crates/gateway/tests/python/feed_client.py"))
        .arg(format!("127.0.0.1:{port}"))
        .arg(root.join("proto"))
        .args([&ca_path, &client_cert, &client_key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_py = child.stdin.take().unwrap();
    let mut from_py = BufReader::new(child.stdout.take().unwrap());
    let mut line = || {
        let mut l = String::new();
        from_py.read_line(&mut l).unwrap();
        assert!(!l.is_empty(), "the Python client ended early");
        l.trim().to_string()
    };

    writeln!(to_py, "EVENTS 2").unwrap();
    let block: serde_json::Value = serde_json::from_str(&line()).unwrap();
    let warn: serde_json::Value = serde_json::from_str(&line()).unwrap();
    assert_eq!(block["verdict"], "VERDICT_BLOCK");
    assert_eq!(block["kind"], "EVENT_KIND_CALL");
    assert_eq!(block["caller"], "+8617100000002");
    assert_eq!(block["evidence"][0], "list_hit");
    assert_eq!(warn["verdict"], "VERDICT_WARN");
    assert_eq!(warn["caller"], "+8617055550001");
    assert_eq!(
        warn["callee"], "+8613800000002",
        "a warning names who to call"
    );

    let pushed = "+8617055503579";
    writeln!(to_py, "PUSH {pushed}").unwrap();
    let ack = line();
    assert!(ack.starts_with("PUSHED 1 3"), "{ack}");
    assert_eq!(call(&gw, &core, pushed, "py-after-push"), Some(608));
    writeln!(to_py, "WAIT {pushed}").unwrap();
    assert_eq!(line(), "SEEN 4");
    writeln!(to_py, "QUIT").unwrap();
    assert!(child.wait().unwrap().success());
}
