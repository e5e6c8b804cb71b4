//! Embeds the web client into the binary.
//!
//! Every asset under `web/` (and the pinned browser builds of
//! `socket.io-client` and `markdown-it` from `web/node_modules`, see
//! `VENDOR`) becomes a static byte slice. They are served
//! under `/assets/<hash>/`, where the hash covers all of them: a new build
//! gets new URLs, so browsers may cache assets forever and never run stale
//! code. `index.html` gets `%ASSETS%` replaced by that prefix.

#![allow(clippy::expect_used, clippy::panic)] // a build script fails loudly

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use sha2::{Digest, Sha256};

const EXTENSIONS: [&str; 9] = [
    "html",
    "js",
    "css",
    "svg",
    "png",
    "ico",
    "webmanifest",
    "json",
    "woff2",
];
/// (file under `web/`, path it is served at under the prefix): the
/// self-contained ES module builds of the page's npm dependencies, pinned in
/// `web/package-lock.json`. The page imports them from `vendor/`.
const VENDOR: [(&str, &str); 2] = [
    (
        "node_modules/socket.io-client/dist/socket.io.esm.min.js",
        "vendor/socket.io.esm.min.js",
    ),
    (
        "node_modules/markdown-it/dist/browser/markdown-it.esm.min.mjs",
        "vendor/markdown-it.esm.min.js",
    ),
];

fn main() {
    let web = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("web");
    println!("cargo:rerun-if-changed=web");
    // `sqlx::migrate!` embeds the migrations: a new file must rebuild.
    println!("cargo:rerun-if-changed=migrations");
    install_npm_packages(&web);

    let mut files = BTreeMap::new();
    collect(&web, &web, &mut files);
    for (file, route) in VENDOR {
        let vendor = web.join(file);
        if vendor.exists() {
            files.insert(route.to_owned(), vendor);
        }
    }

    let mut hasher = Sha256::new();
    for (route, path) in &files {
        hasher.update(route.as_bytes());
        hasher.update(fs::read(path).expect("read asset"));
    }
    let digest = hasher.finalize();
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let prefix = format!("/assets/{hash}");

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let index = fs::read_to_string(web.join("index.html")).expect("web/index.html exists");
    fs::write(out.join("index.html"), index.replace("%ASSETS%", &prefix)).expect("write index");

    let mut code = String::new();
    writeln!(code, "/// Where the embedded assets are served.").ok();
    writeln!(code, "pub const PREFIX: &str = {prefix:?};").ok();
    writeln!(code, "/// The page, with asset URLs filled in.").ok();
    writeln!(
        code,
        "pub static INDEX_HTML: &str = include_str!(concat!(env!(\"OUT_DIR\"), \"/index.html\"));"
    )
    .ok();
    writeln!(code, "/// (path under the prefix, contents, content type)").ok();
    writeln!(code, "pub static FILES: &[(&str, &[u8], &str)] = &[").ok();
    for (route, path) in files.iter().filter(|(r, _)| r.as_str() != "index.html") {
        let mime = content_type(path);
        writeln!(
            code,
            "    ({route:?}, include_bytes!({:?}), {mime:?}),",
            path.display()
        )
        .ok();
    }
    writeln!(code, "];").ok();
    fs::write(out.join("assets.rs"), code).expect("write assets.rs");
}

/// Installs the pinned npm packages if they are missing, so that a fresh
/// clone builds with `cargo build` alone (Node.js and npm must be present).
fn install_npm_packages(web: &Path) {
    let lock = web.join("package-lock.json");
    // A checkout that had the packages of an older lock file gets the new ones.
    if !lock.exists() || VENDOR.iter().all(|(file, _)| web.join(file).exists()) {
        return;
    }
    println!("cargo:warning=installing web/ npm packages (npm ci)");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(web)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("`npm ci` in web/ failed with {s}"),
        Err(e) => panic!("cannot run npm to install web/ packages (is Node.js installed?): {e}"),
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "node_modules" || name.starts_with('.') || name.starts_with("package") {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if EXTENSIONS.contains(&ext) {
            println!("cargo:rerun-if-changed={}", path.display());
            let route = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(route, path);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}
