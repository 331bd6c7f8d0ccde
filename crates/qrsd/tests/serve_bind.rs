//! `qrsd serve --bind` takes `ADDR` or `ADDR:PORT` (IPv6 in brackets), `--port` overrides the port, and
//! the config file's `server.bind` takes the same forms: each one actually serves where it says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

mod common;
use common::{http, spawn_serve, temp_dir, Serve};

/// `qrsd serve` on the simulator without recording, with these extra arguments.
fn serve_with(tag: &str, args: &[&str]) -> Serve {
    let data = temp_dir(tag);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qrsd"));
    cmd.args(["serve", "--no-record", "--data"])
        .arg(&data)
        .args(args);
    let (child, addr) = spawn_serve(cmd);
    Serve { child, addr }
}

/// The server answers at `addr`.
fn answers(addr: SocketAddr) {
    let (st, v) = http(addr, "GET", "/healthz", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "ok", "{v}");
}

/// A loopback port that was free a moment ago (the OS hands out a fresh one; nothing else on this
/// machine is told to take it in between).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bind_addr_port_serves_there_and_port_overrides_it() {
    let port = free_port();
    let want: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let bind = want.to_string();
    let a = serve_with("bind-port", &["--bind", &bind]);
    assert_eq!(a.addr, want, "--bind {bind} listens elsewhere");
    answers(want);

    // `--port` wins over the port in `--bind`: with the first server still holding that port, a
    // second one told `--bind 127.0.0.1:PORT --port 0` must come up on another port.
    let b = serve_with("bind-port-override", &["--bind", &bind, "--port", "0"]);
    assert_eq!(b.addr.ip(), want.ip());
    assert_ne!(b.addr.port(), port);
    answers(b.addr);

    // `--bind ADDR` alone keeps `--port`.
    let c = serve_with("bind-addr", &["--bind", "127.0.0.1", "--port", "0"]);
    assert!(c.addr.ip().is_loopback() && c.addr.port() != 0);
    answers(c.addr);
}

#[test]
fn bind_ipv6_with_port_serves() {
    let a = serve_with("bind-v6", &["--bind", "[::1]:0"]);
    assert_eq!(a.addr.ip(), "::1".parse::<std::net::IpAddr>().unwrap());
    answers(a.addr);
}

#[test]
fn config_file_bind_with_port_serves() {
    let port = free_port();
    let dir = temp_dir("bind-config");
    let cfg = dir.join("qrsd.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nbind = \"127.0.0.1:{port}\"\n\n[storage]\nrecord = false\n"),
    )
    .unwrap();
    let a = serve_with("bind-config-data", &["--config", cfg.to_str().unwrap()]);
    assert_eq!(a.addr, format!("127.0.0.1:{port}").parse().unwrap());
    answers(a.addr);
}

#[test]
fn bad_bind_is_refused_naming_the_forms() {
    let out = Command::new(env!("CARGO_BIN_EXE_qrsd"))
        .args(["serve", "--bind", "127.0.0.1:x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ADDR:PORT"), "{err}");
}
