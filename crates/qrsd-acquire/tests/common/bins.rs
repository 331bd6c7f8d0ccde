//! Locating workspace binaries from this package's tests.
//!
//! `CARGO_BIN_EXE_<name>` exists only for binaries of the package under test, so the end-to-end tests
//! build `firmware-sim` and `qrsd` themselves, once per test process: `cargo build --profile test -p
//! firmware-sim --bin firmware-sim -p qrsd --bin qrsd` (the profile `cargo test` builds those binaries
//! with, into the same target directory, so it is a no-op when `cargo test --workspace` has built them
//! already) and take them from `<target>/debug/`. The target directory is the
//! parent of `CARGO_TARGET_TMPDIR` (`<target>/tmp`), which honours `CARGO_TARGET_DIR`.
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
                "-p",
                "firmware-sim",
                "--bin",
                "firmware-sim",
                "-p",
                "qrsd",
                "--bin",
                "qrsd",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(st.success(), "cargo build of firmware-sim and qrsd failed");
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
