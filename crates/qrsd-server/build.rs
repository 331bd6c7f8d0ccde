//! Embeds every file under `ui/` (the operator page's static assets) into the binary: the lab has no
//! internet and the service is one file. Generates `$OUT_DIR/assets.rs` with one
//! `(url_path, bytes, content_type)` row per file; `src/assets.rs` serves them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
        {
            out.push(p);
        }
    }
}

fn mime(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" | "LICENSE" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("ui");
    println!("cargo:rerun-if-changed=ui");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut src = String::from("/// Embedded `ui/` files: (URL path, bytes, content type).\npub static ASSETS: &[(&str, &[u8], &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            src,
            "    ({:?}, include_bytes!({:?}), {:?}),",
            format!("/{rel}"),
            f.display().to_string(),
            mime(f)
        );
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("assets.rs");
    if let Err(e) = std::fs::write(&out, src) {
        panic!("writing {}: {e}", out.display());
    }
}
