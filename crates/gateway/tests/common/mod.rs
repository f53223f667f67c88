//! Helpers shared by the end-to-end tests: the real binary, a gateway started on free
//! loopback ports with its own configuration, and a fake core (UAS) that records what
//! reaches it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The `interdict` binary cargo built for these tests.
pub fn interdict() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_interdict"))
}

/// A fresh scratch directory under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "interdict-e2e-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A free loopback port for both UDP and TCP (bound and released), chosen below the
/// kernel's ephemeral range (32768 and up): a port the kernel hands out itself can be taken
/// by an outgoing socket between this check and the gateway's (or the test's) bind.
pub fn free_port() -> u16 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = u64::from(std::process::id()).wrapping_mul(7919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + ((seed + n * 104_729) % 12_000) as u16;
        let udp = UdpSocket::bind(("127.0.0.1", port));
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            return port;
        }
    }
}

/// Copies a directory tree (rule packs).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A running gateway on loopback ports, killed when dropped.
pub struct Gateway {
    pub child: Child,
    pub sip: SocketAddr,
    pub metrics: SocketAddr,
    pub next_hop: SocketAddr,
    pub dir: PathBuf,
    pub records: PathBuf,
}

impl Gateway {
    /// Starts the gateway with the default pack, `extra` TOML appended to the `[gateway]`
    /// table and `sip_extra` to the `[sip]` table.
    pub fn start(name: &str, gateway_extra: &str, sip_extra: &str) -> Gateway {
        let dir = scratch(name);
        let rules = dir.join("rules");
        copy_dir(&root().join("rules"), &rules);
        Gateway::start_in(dir, gateway_extra, sip_extra)
    }

    /// Starts the gateway in `dir` (which holds `rules/`).
    pub fn start_in(dir: PathBuf, gateway_extra: &str, sip_extra: &str) -> Gateway {
        Gateway::start_with_tables(dir, gateway_extra, sip_extra, "")
    }

    /// Starts the gateway in `dir` with whole TOML tables (`[smpp]`, `[dissuasion]` …)
    /// appended to its configuration.
    pub fn start_with_tables(
        dir: PathBuf,
        gateway_extra: &str,
        sip_extra: &str,
        tables: &str,
    ) -> Gateway {
        let port = free_port();
        let hop = free_port();
        let metrics_port = free_port();
        let records = dir.join("records.jsonl");
        // Debug builds decide slowly on a busy machine: a generous deadline unless a test sets one.
        let deadline = if gateway_extra.contains("decision_deadline_us") {
            ""
        } else {
            "decision_deadline_us = 1000000\n"
        };
        let config = format!(
            "[gateway]\nrules = {rules:?}\n{deadline}{gateway_extra}\n\
             [sip]\nlisten_udp = \"127.0.0.1:{port}\"\nlisten_tcp = \"127.0.0.1:{port}\"\n\
             next_hop = \"127.0.0.1:{hop}\"\nworkers = 2\n{sip_extra}\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
             [records]\npath = {records:?}\ninclude_text = true\n{tables}\n",
            rules = dir.join("rules").display().to_string(),
            records = records.display().to_string(),
        );
        let config_path = dir.join("interdict.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.join("gateway.log")).expect("log file");
        let child = Command::new(interdict())
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start interdict serve");
        let gw = Gateway {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics: SocketAddr::from(([127, 0, 0, 1], metrics_port)),
            next_hop: SocketAddr::from(([127, 0, 0, 1], hop)),
            dir,
            records,
        };
        gw.wait_ready();
        gw
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if http_get(self.metrics, "/readyz").is_some_and(|(code, _)| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gateway not ready; log:\n{}", self.log());
    }

    /// The gateway's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gateway.log")).unwrap_or_default()
    }

    /// The metrics text.
    pub fn metrics(&self) -> String {
        http_get(self.metrics, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// The value of one metric line (`name{labels}`), 0 when absent.
    pub fn metric(&self, line_prefix: &str) -> f64 {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(line_prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Decision records written so far (one JSON object per line).
    pub fn records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.records)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `pred` holds on the records (they are written asynchronously).
    pub fn wait_records(
        &self,
        pred: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.records();
            if pred(&r) || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal to the gateway.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 GET: status code and body.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|x| x.1.to_string())?;
    Some((code, body))
}

/// A UDP peer on loopback (the border or the core).
pub struct Peer {
    pub socket: UdpSocket,
}

impl Peer {
    /// A peer on `addr` (port 0: any).
    pub fn bind(addr: SocketAddr) -> Peer {
        let socket = UdpSocket::bind(addr).expect("bind peer");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Peer { socket }
    }

    /// A peer on any loopback port.
    pub fn any() -> Peer {
        Peer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("addr").port()
    }

    pub fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.socket.send_to(bytes, to).expect("send");
    }

    /// The next datagram within `wait`, if any.
    pub fn recv(&self, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => return Some((buf[..n].to_vec(), from)),
                Err(_) => continue,
            }
        }
        None
    }

    /// Every datagram arriving within `wait`.
    pub fn drain(&self, wait: Duration) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some((b, _)) = self.recv(Duration::from_millis(100)) {
                all.push(b);
            }
        }
        all
    }
}

/// An INVITE from `from_user` to `to_user` sent by a border peer on `port`, with extra
/// header lines (each ending in CRLF) and a unique Call-ID.
pub fn invite(
    method: &str,
    from_user: &str,
    to_user: &str,
    port: u16,
    extra: &str,
    call_id: &str,
) -> Vec<u8> {
    format!(
        "{method} sip:{to_user}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Caller\" <sip:{from_user}@127.0.0.1>;tag=f-{call_id}\r\n\
         To: <sip:{to_user}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:{from_user}@127.0.0.1:{port}>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A SIP MESSAGE carrying `body` with the given Content-Type line value.
pub fn message(
    from_user: &str,
    to_user: &str,
    port: u16,
    content_type: &str,
    extra: &str,
    body: &[u8],
    call_id: &str,
) -> Vec<u8> {
    let mut m = format!(
        "MESSAGE sip:{to_user}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@127.0.0.1>;tag=f-{call_id}\r\n\
         To: <sip:{to_user}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 MESSAGE\r\n\
         Content-Type: {content_type}\r\n\
         {extra}\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

/// The status code of a SIP response.
pub fn status(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes).ok()?;
    let line = text.lines().next()?;
    if !line.starts_with("SIP/2.0 ") {
        return None;
    }
    line.split(' ').nth(1)?.parse().ok()
}

/// The first header line named `name` (case-insensitive), value only.
pub fn header(bytes: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n")
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
}

/// An MS→network RP-DATA carrying one part of a concatenated SMS-SUBMIT (UCS-2 octets behind
/// an 8-bit-reference UDH) to 8613800000002.
pub fn rp_submit_part(octets: &[u8], reference: u8, total: u8, seq: u8) -> Vec<u8> {
    let mut ud = vec![0x05, 0x00, 0x03, reference, total, seq];
    ud.extend_from_slice(octets);
    let mut tpdu = vec![
        0x51, // SMS-SUBMIT, TP-VPF relative, TP-UDHI
        0x00, // TP-MR
        0x0D, // TP-DA: 13 digits
        0x91, // international
        0x68,
        0x31,
        0x08,
        0x00,
        0x00,
        0x00,
        0xF2, // 8613800000002
        0x00, // TP-PID
        0x08, // TP-DCS: UCS-2
        0xA7, // TP-VP
        ud.len() as u8,
    ];
    tpdu.extend(ud);
    let mut rp = vec![
        0x00,
        0x01,
        0x00, // RP-DATA MS→network, reference, no originator
        0x08,
        0x91,
        0x68,
        0x71,
        0x00,
        0x00,
        0x00,
        0x00,
        0xF0, // service centre
        tpdu.len() as u8,
    ];
    rp.extend(tpdu);
    rp
}
