//! Locating workspace binaries from this package's tests.
//!
//! `CARGO_BIN_EXE_<name>` exists only for binaries of the package under test, so the end-to-end tests
//! build `firmware-sim` and `qrsd` themselves, once per test process, and take them from
//! `<target>/debug/`. The build is `cargo build --profile test --workspace --bins --tests`: the same
//! packages and targets as `cargo test --workspace`, hence the same feature resolution, so under that
//! command it finds everything built and takes < 1 s. (`-p firmware-sim -p qrsd` alone resolves the
//! features of shared dependencies differently, serde, syn, hyper, tower among them, and rebuilt a
//! good part of the dependency tree: 229 s after a cold `cargo test --workspace --no-run`, measured
//! 2026-12-06.) The target directory is the parent of `CARGO_TARGET_TMPDIR` (`<target>/tmp`), which
//! honours `CARGO_TARGET_DIR`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Paths of (firmware-sim, qrsd), built on first use.
pub fn bins() -> &'static (PathBuf, PathBuf) {
    static BINS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINS.get_or_init(|| {
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target dir")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--profile",
                "test",
                "--workspace",
                "--bins",
                "--tests",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(st.success(), "cargo build of the workspace binaries failed");
        let exe = |n: &str| {
            target
                .join("debug")
                .join(format!("{n}{}", std::env::consts::EXE_SUFFIX))
        };
        let b = (exe("firmware-sim"), exe("qrsd"));
        assert!(b.0.exists() && b.1.exists(), "{b:?}");
        b
    })
}
