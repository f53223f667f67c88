//! End-to-end with SIPp: a SIPp UAC (the border) calls through `interdict serve` to a SIPp
//! UAS (the core), over real loopback sockets, on UDP and on TCP.
//!
//! The scenarios are in `tests/sipp/`: `uac.xml` reads caller, callee and the expected
//! final answer (200, or the block code) from an injection CSV and fails any call whose
//! answer differs; `uas.xml` answers 180/200, takes ACK and BYE, and logs one line per
//! INVITE it receives (caller, From and P-Asserted-Identity display names), which the
//! tests read to see what reached the core.
//!
//! SIPp is Debian's `sip-tester` (`/usr/bin/sipp`), installed by `scripts/install-deps`.
//! Without it these tests fail; they are never skipped.
//!
//! All numbers are synthetic: +86 171 0000 000x and +86 170 0000 0001 are on the default
//! pack's fraud list, +86 170 5555 000x on its suspect (warn) list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{invite, status, Gateway, Peer};

/// The display-name prefix the gateway puts on a warned call by default.
const MARK: &str = "[疑似诈骗]";

/// Decisions get a generous deadline here: two SIPp processes, a debug gateway and
/// another test share two cores, and a decision that fails open would turn a block into
/// a pass (the deadline itself is tested in `sip_gateway.rs`).
const GATEWAY_EXTRA: &str = "decision_deadline_us = 1000000";

const SIPP: &str = "/usr/bin/sipp";

fn sipp_bin() -> &'static Path {
    let bin = Path::new(SIPP);
    assert!(
        bin.is_file(),
        "{SIPP} is missing: these tests drive the gateway with SIPp (Debian package \
         sip-tester). Run `bash scripts/install-deps` (or `make deps`) first."
    );
    bin
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

/// A free loopback port (UDP and TCP) below the kernel's ephemeral range (32768 and up on
/// Linux), so no outgoing connection of another test can take it between the choice and
/// the bind (ports from `common::free_port` are ephemeral ones).
fn quiet_port() -> u16 {
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ N.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
    let mut x = seed | 1;
    for _ in 0..1000 {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20_000 + u16::try_from(x % 12_000).expect("port");
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    common::free_port()
}

/// Like `Gateway::start` (default pack, the same configuration plus the extras), on ports
/// below the ephemeral range, and started again on fresh ports (up to three times) when
/// one was taken between the choice and the bind; a gateway that exits at start fails at
/// once instead of after the readiness timeout.
fn start_gateway(name: &str, gateway_extra: &str, sip_extra: &str) -> Gateway {
    let dir = common::scratch(name);
    common::copy_dir(&common::root().join("rules"), &dir.join("rules"));
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_start_gateway(&dir, gateway_extra, sip_extra) {
            Ok(gw) => return gw,
            Err(log) if attempt < 3 && log.contains("Address already in use") => continue,
            Err(log) => panic!("gateway did not start (attempt {attempt}); log:\n{log}"),
        }
    }
}

fn try_start_gateway(dir: &Path, gateway_extra: &str, sip_extra: &str) -> Result<Gateway, String> {
    let port = quiet_port();
    let hop = quiet_port();
    let metrics_port = quiet_port();
    let records = dir.join("records.jsonl");
    let config = format!(
        "[gateway]\nrules = {rules:?}\n{gateway_extra}\n\
         [sip]\nlisten_udp = \"127.0.0.1:{port}\"\nlisten_tcp = \"127.0.0.1:{port}\"\n\
         next_hop = \"127.0.0.1:{hop}\"\nworkers = 2\n{sip_extra}\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
         [records]\npath = {records:?}\ninclude_text = true\n",
        rules = dir.join("rules").display().to_string(),
        records = records.display().to_string(),
    );
    let config_path = dir.join("interdict.toml");
    std::fs::write(&config_path, config).expect("write config");
    let log = std::fs::File::create(dir.join("gateway.log")).expect("log file");
    let child = Command::new(common::interdict())
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start interdict serve");
    let mut gw = Gateway {
        child,
        sip: SocketAddr::from(([127, 0, 0, 1], port)),
        metrics: SocketAddr::from(([127, 0, 0, 1], metrics_port)),
        next_hop: SocketAddr::from(([127, 0, 0, 1], hop)),
        dir: dir.to_path_buf(),
        records,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if common::http_get(gw.metrics, "/readyz").is_some_and(|(code, _)| code == 200) {
            return Ok(gw);
        }
        if let Ok(Some(status)) = gw.child.try_wait() {
            return Err(format!("(exited: {status})\n{}", gw.log()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("(not ready after 60 s)\n{}", gw.log()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn sipp_args(self) -> &'static [&'static str] {
        match self {
            Transport::Udp => &["-t", "u1"],
            Transport::Tcp => &["-t", "t1"],
        }
    }
}

/// One call of an injection CSV.
#[derive(Debug, Clone)]
struct Call {
    caller: String,
    callee: String,
    /// 200, or the block code the gateway answers with.
    expect: u16,
}

fn read_csv(path: &Path) -> Vec<Call> {
    std::fs::read_to_string(path)
        .expect("read csv")
        .lines()
        .filter(|l| l.starts_with('+'))
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            Call {
                caller: f[0].to_string(),
                callee: f[1].to_string(),
                expect: f[2].parse().expect("expected code"),
            }
        })
        .collect()
}

fn write_csv(path: &Path, calls: &[Call]) {
    let mut text = String::from("SEQUENTIAL\n");
    for c in calls {
        writeln!(text, "{};{};{};", c.caller, c.callee, c.expect).unwrap();
    }
    std::fs::write(path, text).expect("write csv");
}

/// The bundled mix (ordinary, listed, suspect callers), blocked calls expecting `code`.
fn bundled_calls(code: u16) -> Vec<Call> {
    read_csv(&scenarios().join("calls.csv"))
        .into_iter()
        .map(|mut c| {
            if c.expect != 200 {
                c.expect = code;
            }
            c
        })
        .collect()
}

/// `n` calls from distinct ordinary callers to scattered callees, every tenth from a
/// listed caller (blocked with 608) and every twenty-fifth from a suspect one.
fn generated_calls(n: usize) -> Vec<Call> {
    const LISTED: [&str; 6] = [
        "+8617100000001",
        "+8617100000002",
        "+8617100000003",
        "+8617100000004",
        "+8617100000005",
        "+8617000000001",
    ];
    const SUSPECT: [&str; 2] = ["+8617055550001", "+8617055550002"];
    (0..n)
        .map(|i| {
            // Callees far apart (no sequential dialling even across callers).
            let callee = format!(
                "+86139{:08}",
                10_000_000 + (i as u64 * 7_919_993) % 89_999_999
            );
            let (caller, expect) = if i % 10 == 9 {
                (LISTED[(i / 10) % LISTED.len()].to_string(), 608)
            } else if i % 25 == 12 {
                (SUSPECT[(i / 25) % SUSPECT.len()].to_string(), 200)
            } else {
                (format!("+86135{:08}", 20_000_000 + i * 131), 200)
            };
            Call {
                caller,
                callee,
                expect,
            }
        })
        .collect()
}

fn is_suspect(number: &str) -> bool {
    number.starts_with("+86170555500")
}

/// Final statistics of a SIPp run (from its `-trace_stat` file).
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    successful: u64,
    failed: u64,
    created: u64,
}

/// A SIPp process with its trace files; killed when dropped.
struct Sipp {
    role: &'static str,
    child: Child,
    stat: PathBuf,
    errors: PathBuf,
    log: PathBuf,
    messages: PathBuf,
    screen: PathBuf,
    exit: Option<ExitStatus>,
}

impl Sipp {
    fn spawn(dir: &Path, role: &'static str, args: &[String]) -> Sipp {
        let file = |suffix: &str| dir.join(format!("sipp-{role}-{suffix}"));
        let (stat, errors, log, messages, screen) = (
            file("stat.csv"),
            file("errors.log"),
            file("actions.log"),
            file("messages.log"),
            file("screen.log"),
        );
        let screen_file = std::fs::File::create(&screen).expect("screen file");
        let mut cmd = Command::new(sipp_bin());
        cmd.current_dir(dir)
            .arg("-nostdin")
            .args(args)
            .args(["-trace_stat", "-fd", "1", "-stf"])
            .arg(&stat)
            .args(["-trace_err", "-error_file"])
            .arg(&errors)
            .args(["-trace_logs", "-log_file"])
            .arg(&log)
            .args(["-trace_msg", "-message_file"])
            .arg(&messages)
            .stdin(Stdio::null())
            .stderr(screen_file.try_clone().expect("screen file"))
            .stdout(screen_file);
        let child = cmd.spawn().expect("start sipp");
        Sipp {
            role,
            child,
            stat,
            errors,
            log,
            messages,
            screen,
            exit: None,
        }
    }

    /// A UAS (the core) on the gateway's next hop, exiting after `calls` calls.
    fn uas(gw: &Gateway, transport: Transport, calls: usize) -> Sipp {
        let mut args: Vec<String> = vec![
            "-sf".into(),
            scenarios().join("uas.xml").display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            gw.next_hop.port().to_string(),
            "-m".into(),
            calls.to_string(),
            "-timeout".into(),
            "90s".into(),
        ];
        args.extend(transport.sipp_args().iter().map(|s| s.to_string()));
        let mut uas = Sipp::spawn(&gw.dir, "uas", &args);
        uas.wait_bound(gw.next_hop, transport);
        uas
    }

    /// A UAC (the border) placing the calls of `csv` through the gateway at `rate` per second.
    fn uac(gw: &Gateway, transport: Transport, csv: &Path, calls: usize, rate: u32) -> Sipp {
        let mut args: Vec<String> = vec![
            "-sf".into(),
            scenarios().join("uac.xml").display().to_string(),
            "-inf".into(),
            csv.display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            // A port of our own: by default SIPp takes the first free one from 5060 up.
            "-p".into(),
            quiet_port().to_string(),
            gw.sip.to_string(),
            "-m".into(),
            calls.to_string(),
            "-r".into(),
            rate.to_string(),
            "-l".into(),
            "200".into(),
            // A lost message fails its call within seconds instead of stalling the run.
            "-recv_timeout".into(),
            "8000".into(),
            "-timeout".into(),
            "90s".into(),
            "-timeout_error".into(),
        ];
        args.extend(transport.sipp_args().iter().map(|s| s.to_string()));
        Sipp::spawn(&gw.dir, "uac", &args)
    }

    /// Waits until the UAS has bound its port (our own bind there fails).
    fn wait_bound(&mut self, addr: SocketAddr, transport: Transport) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let free = match transport {
                Transport::Udp => UdpSocket::bind(addr).is_ok(),
                Transport::Tcp => TcpListener::bind(addr).is_ok(),
            };
            if !free {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "SIPp {} exited at start ({st}):\n{}",
                    self.role,
                    self.report()
                );
            }
            assert!(
                Instant::now() < deadline,
                "SIPp {} did not bind {addr}:\n{}",
                self.role,
                self.report()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (at most `limit`) for SIPp to exit; kills it after that. Returns its statistics.
    fn finish(&mut self, limit: Duration) -> Stats {
        let deadline = Instant::now() + limit;
        while self.exit.is_none() {
            match self.child.try_wait().expect("try_wait") {
                Some(st) => self.exit = Some(st),
                None if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let st = self.child.wait().expect("wait");
                    self.exit = Some(st);
                    panic!(
                        "SIPp {} still running after {limit:?}; killed:\n{}",
                        self.role,
                        self.report()
                    );
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        self.stats()
    }

    /// The last line of the statistics file.
    fn stats(&self) -> Stats {
        let text = std::fs::read_to_string(&self.stat).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let (Some(header), Some(last)) = (lines.first(), lines.get(1..).and_then(<[_]>::last))
        else {
            return Stats::default();
        };
        let names: Vec<&str> = header.split(';').collect();
        let values: Vec<&str> = last.split(';').collect();
        let get = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .and_then(|i| values.get(i))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Stats {
            successful: get("SuccessfulCall(C)"),
            failed: get("FailedCall(C)"),
            created: get("TotalCallCreated"),
        }
    }

    /// Lines the UAS logged, one per INVITE: `INVITE|user|From name|PAI name|Call-ID`.
    fn invites(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("INVITE|"))
            .map(|l| l.split('|').map(|f| f.trim().to_string()).collect())
            .collect()
    }

    /// Known failure patterns in the UAC's errors, named.
    fn diagnosis(&self) -> String {
        let errors = std::fs::read_to_string(&self.errors).unwrap_or_default();
        let late_ringing = errors
            .split("Aborting call on unexpected message")
            .skip(1)
            .filter(|e| e.contains("while pausing") && e.contains("received 'SIP/2.0 180"))
            .count();
        if late_ringing == 0 {
            return String::new();
        }
        format!(
            "*** {late_ringing} call(s) got the core's 180 Ringing AFTER its 200 OK: the \
             gateway forwarded the two responses out of order (the core sent 180 first; \
             see the UAS and UAC message traces) ***\n"
        )
    }

    /// Errors, the final screen and the last messages, for failure messages.
    fn report(&self) -> String {
        let tail = |p: &Path, n: usize| {
            let t = std::fs::read_to_string(p).unwrap_or_default();
            let start = t.len().saturating_sub(n);
            let start = (start..t.len())
                .find(|i| t.is_char_boundary(*i))
                .unwrap_or(t.len());
            t[start..].to_string()
        };
        format!(
            "--- SIPp {role} exit {exit:?}\n--- errors ({errors}):\n{}\n--- screen:\n{}\n--- last messages ({messages}):\n{}",
            tail(&self.errors, 4000),
            tail(&self.screen, 2500),
            tail(&self.messages, 3000),
            role = self.role,
            exit = self.exit,
            errors = self.errors.display(),
            messages = self.messages.display(),
        )
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a run must show: every call as its CSV line says.
fn check_run(gw: &Gateway, uac: &mut Sipp, uas: &mut Sipp, calls: &[Call], limit: Duration) {
    let through: Vec<&Call> = calls.iter().filter(|c| c.expect == 200).collect();
    let blocked = calls.len() - through.len();
    let uac_stats = uac.finish(limit);
    let uas_stats = uas.finish(Duration::from_secs(20));
    let context = || {
        format!(
            "{}{}\n{}\n--- gateway log (tail):\n{}",
            uac.diagnosis(),
            uac.report(),
            uas.report(),
            {
                let log = gw.log();
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            }
        )
    };
    assert_eq!(
        (uac_stats.created, uac_stats.successful, uac_stats.failed),
        (calls.len() as u64, calls.len() as u64, 0),
        "UAC: every call must get its expected answer ({uac_stats:?});\n{}",
        context()
    );
    assert_eq!(
        (uas_stats.successful, uas_stats.failed),
        (through.len() as u64, 0),
        "UAS: every call that is not blocked completes at the core ({uas_stats:?});\n{}",
        context()
    );
    assert!(
        uac.exit.is_some_and(|s| s.success()) && uas.exit.is_some_and(|s| s.success()),
        "SIPp exit codes;\n{}",
        context()
    );

    // What reached the core: exactly the calls that are not blocked, with the warn mark on
    // the suspect callers' display names and on no one else's.
    let invites = uas.invites();
    assert_eq!(
        invites.len(),
        through.len(),
        "INVITEs at the core: {invites:?}\n{}",
        context()
    );
    for c in calls.iter().filter(|c| c.expect != 200) {
        assert!(
            !invites.iter().any(|i| i[1] == c.caller),
            "a blocked caller ({}) reached the core: {invites:?}",
            c.caller
        );
    }
    let mut marked = 0;
    for inv in &invites {
        let (user, from_name, pai_name) = (&inv[1], &inv[2], &inv[3]);
        if is_suspect(user) {
            marked += 1;
            assert_eq!(
                from_name,
                &format!("{MARK}Caller"),
                "From of a suspect caller: {inv:?}"
            );
            assert_eq!(
                pai_name,
                &format!("{MARK}Caller"),
                "P-Asserted-Identity of a suspect caller: {inv:?}"
            );
        } else {
            assert_eq!(
                (from_name.as_str(), pai_name.as_str()),
                ("Caller", "Caller"),
                "an ordinary call arrives unmarked: {inv:?}"
            );
        }
    }
    let suspect = calls.iter().filter(|c| is_suspect(&c.caller)).count();
    assert_eq!(marked, suspect, "suspect calls at the core: {invites:?}");

    // The gateway's own account: one decision per call, and the ACK of every block absorbed.
    // A retransmitted INVITE (its answer late by more than 500 ms on a busy machine) is
    // counted again with its transaction's verdict and once as absorbed.
    let m = |verdict: &str| {
        gw.metric(&format!(
            "interdict_messages_total{{protocol=\"sip\",method=\"INVITE\",direction=\"to_core\",verdict=\"{verdict}\"}}"
        )) as usize
    };
    let retransmitted =
        gw.metric("interdict_absorbed_total{protocol=\"sip\",kind=\"retransmission\"}") as usize;
    let acks = gw.metric("interdict_absorbed_total{protocol=\"sip\",kind=\"ack\"}") as usize;
    let (pass, warn, block) = (m("pass"), m("warn"), m("block"));
    let within = |n: usize, expected: usize| (expected..=expected + retransmitted).contains(&n);
    assert!(
        within(pass, through.len() - suspect)
            && within(warn, suspect)
            && within(block, blocked)
            && pass + warn + block == calls.len() + retransmitted
            && within(acks, blocked),
        "INVITEs pass/warn/block {pass}/{warn}/{block}, expected {}/{suspect}/{blocked} \
         (+{retransmitted} retransmissions); ACKs absorbed {acks}, expected {blocked};\n{}",
        through.len() - suspect,
        gw.metrics()
    );
}

/// The end of a passed test: the gateway stopped and its scratch directory (rule pack,
/// logs, SIPp traces) removed. A failed test leaves it for inspection (its path is in the
/// failure message).
fn passed(gw: Gateway) {
    let dir = gw.dir.clone();
    drop(gw);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `calls` from a UAC to a UAS through `gw` and checks the outcome.
fn run_calls(gw: &Gateway, transport: Transport, calls: &[Call], rate: u32) {
    let csv = gw.dir.join("calls.csv");
    write_csv(&csv, calls);
    let through = calls.iter().filter(|c| c.expect == 200).count();
    let mut uas = Sipp::uas(gw, transport, through);
    let mut uac = Sipp::uac(gw, transport, &csv, calls.len(), rate);
    check_run(gw, &mut uac, &mut uas, calls, Duration::from_secs(60));
}

#[test]
fn udp_ordinary_calls_complete_listed_get_608_suspect_are_marked() {
    let gw = start_gateway("sipp-udp", GATEWAY_EXTRA, "");
    run_calls(&gw, Transport::Udp, &bundled_calls(608), 20);
    let records = gw.wait_records(|r| r.len() >= 10);
    let blocks: Vec<_> = records.iter().filter(|r| r["acted"] == "block").collect();
    assert_eq!(blocks.len(), 6, "{records:?}");
    assert!(
        blocks
            .iter()
            .all(|r| r["decision"]["rule"] == "caller-reported-fraud"),
        "{blocks:?}"
    );
    passed(gw);
}

#[test]
fn tcp_ordinary_calls_complete_listed_get_608_suspect_are_marked() {
    let gw = start_gateway("sipp-tcp", GATEWAY_EXTRA, "next_hop_transport = \"tcp\"");
    run_calls(&gw, Transport::Tcp, &bundled_calls(608), 20);
    passed(gw);
}

#[test]
fn block_code_603_and_607_reach_the_caller() {
    for code in [603, 607] {
        let gw = start_gateway(
            &format!("sipp-{code}"),
            GATEWAY_EXTRA,
            &format!("block_code = {code}"),
        );
        run_calls(&gw, Transport::Udp, &bundled_calls(code), 25);
        passed(gw);
    }
}

#[test]
fn a_malformed_request_gets_400_during_a_run_that_loses_no_call() {
    let gw = start_gateway("sipp-malformed", GATEWAY_EXTRA, "");
    let calls = generated_calls(120);
    let csv = gw.dir.join("calls.csv");
    write_csv(&csv, &calls);
    let through = calls.iter().filter(|c| c.expect == 200).count();
    let mut uas = Sipp::uas(&gw, Transport::Udp, through);
    let mut uac = Sipp::uac(&gw, Transport::Udp, &csv, calls.len(), 30);
    // Let the run get going, then a few broken requests from a plain socket.
    std::thread::sleep(Duration::from_millis(1500));
    let border = Peer::any();
    for i in 0..3 {
        let req = String::from_utf8(invite(
            "INVITE",
            "+8613800000001",
            "+8613800000002",
            border.port(),
            "",
            &format!("sipp-bad-{i}"),
        ))
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: one INVITE");
        border.send(gw.sip, req.as_bytes());
        let (answer, _) = border
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("no answer to a broken CSeq; log:\n{}", gw.log()));
        assert_eq!(
            status(&answer),
            Some(400),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        uac.child.try_wait().expect("try_wait").is_none(),
        "the broken requests must arrive while the run is in progress"
    );
    check_run(&gw, &mut uac, &mut uas, &calls, Duration::from_secs(60));
    assert!(
        gw.metric("interdict_parse_errors_total{protocol=\"sip\"") >= 1.0,
        "{}",
        gw.metrics()
    );
    passed(gw);
}

#[test]
fn reloads_under_load_lose_no_call() {
    let gw = start_gateway("sipp-reload", GATEWAY_EXTRA, "");
    let calls = generated_calls(540);
    let csv = gw.dir.join("calls.csv");
    write_csv(&csv, &calls);
    let through = calls.iter().filter(|c| c.expect == 200).count();
    let mut uas = Sipp::uas(&gw, Transport::Udp, through);
    let mut uac = Sipp::uac(&gw, Transport::Udp, &csv, calls.len(), 30);
    // 540 calls at 30/s: about eighteen seconds. Three reloads one after the other (a
    // debug build compiles a pack in a few seconds), each swapped in while calls go on.
    let ok = "interdict_reloads_total{result=\"ok\"}";
    for n in 1..=3 {
        std::thread::sleep(Duration::from_millis(1000));
        gw.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(30);
        while gw.metric(ok) < f64::from(n) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            gw.metric(ok),
            f64::from(n),
            "{}\n{}",
            gw.metrics(),
            gw.log()
        );
        assert!(
            uac.child.try_wait().expect("try_wait").is_none(),
            "reload {n} must be swapped in while the run is in progress"
        );
    }
    check_run(&gw, &mut uac, &mut uas, &calls, Duration::from_secs(90));
    assert_eq!(gw.metric(ok), 3.0, "{}", gw.metrics());
    assert_eq!(
        gw.metric("interdict_reloads_total{result=\"refused\"}"),
        0.0,
        "{}",
        gw.metrics()
    );
    passed(gw);
}
