//! Build script: the git commit the `qrsd` binary is built from, as `QRSD_COMMIT`, so that
//! `qrsd --version`, the analyze JSON, every procedure and its report, and every recording name the
//! exact code that produced them.
//!
//! `QRSD_COMMIT` is the short hash of HEAD (12 digits), with `-dirty` when the sources under `crates/`
//! or the Cargo manifests differ from it, or `unknown` without git or outside a work tree (a source tarball); `QRSD_BUILD_COMMIT` in the
//! environment overrides it (a packager that builds outside git).
//!
//! It lives in the binary crate only, not in a library every crate depends on: a new commit then
//! rebuilds this crate alone rather than the whole workspace. It re-runs when HEAD, the branch it
//! points to or the index move, and when a file under `crates/` or a Cargo manifest changes (the
//! sources this binary is built from), so the dirty mark follows edits too.
use std::path::{Path, PathBuf};
use std::process::Command;

/// `git ARGS` in this crate's folder; its trimmed stdout when it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        // `git status` must not rewrite the index: that would re-run this script on the next build.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

/// Ask cargo to re-run this script when `path` changes (only if it exists: a missing path would make
/// cargo re-run it on every build).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=QRSD_BUILD_COMMIT");
    let commit = match std::env::var("QRSD_BUILD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => from_git().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=QRSD_COMMIT={commit}");
}

fn from_git() -> Option<String> {
    let hash = git(&["rev-parse", "--short=12", "HEAD"]).filter(|h| !h.is_empty())?;
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // Git's own files that move with a commit or checkout (worktrees keep HEAD and the index apart
    // from the refs, so ask git where each one is).
    let mut git_files = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]).filter(|r| !r.is_empty()) {
        git_files.push(r);
    }
    for f in &git_files {
        if let Some(p) = git(&["rev-parse", "--git-path", f]) {
            watch(&manifest.join(p));
        }
    }
    // The sources (a directory is scanned recursively by cargo).
    let root = manifest.join("../..");
    for p in ["crates", "Cargo.toml", "Cargo.lock"] {
        watch(&root.join(p));
    }
    // Dirty: anything in those sources that differs from HEAD, new files included (a new module not
    // yet added is part of the build all the same); docs and scripts do not make the binary differ.
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        ":/crates",
        ":/Cargo.toml",
        ":/Cargo.lock",
    ])
    .map(|s| !s.is_empty())
    .unwrap_or(false);
    Some(if dirty { format!("{hash}-dirty") } else { hash })
}
