//! Builds `web/` with npm into OUT_DIR and generates `assets.rs`, which embeds every file the
//! build's `manifest.json` lists. `npm ci` runs only when `node_modules` is missing or older than
//! the lock file; `npm run build` runs whenever cargo sees a web source change.
//!
//! `FRONTDESK_WEB_DIST=<dir>` uses an already built directory instead (no Node needed).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

#[derive(serde::Deserialize)]
struct Manifest {
    loader: Loader,
    assets: Vec<Asset>,
}

#[derive(serde::Deserialize)]
struct Loader {
    file: String,
    sri: String,
    hashed: String,
}

#[derive(serde::Deserialize)]
struct Asset {
    name: String,
    file: String,
    sri: String,
    content_type: String,
}

fn main() {
    if let Err(message) = run() {
        // A clear, single message instead of a backtrace.
        eprintln!("\nfrontdesk-web: {message}\n");
        panic!("frontdesk-web: {message}");
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let web = manifest_dir.join("../../web");
    println!("cargo:rerun-if-env-changed=FRONTDESK_WEB_DIST");
    for watched in ["src", "package.json", "package-lock.json", "build.mjs", "tsconfig.json"] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }

    let dist = match std::env::var_os("FRONTDESK_WEB_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dist = out_dir.join("web");
            npm_build(&web, &dist)?;
            dist
        }
    };
    let text = std::fs::read_to_string(dist.join("manifest.json"))
        .map_err(|e| format!("cannot read {}: {e}", dist.join("manifest.json").display()))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| format!("bad manifest.json: {e}"))?;

    let mut code = String::new();
    let lit = |s: &str| format!("{s:?}");
    let path_lit = |p: &Path| format!("{:?}", p.display().to_string());
    writeln!(code, "pub const LOADER_JS: &[u8] = include_bytes!({});", path_lit(&dist.join(&manifest.loader.file)))
        .map_err(|e| e.to_string())?;
    writeln!(code, "pub const LOADER_SRI: &str = {};", lit(&manifest.loader.sri)).map_err(|e| e.to_string())?;
    writeln!(code, "pub const LOADER_HASHED: &str = {};", lit(&manifest.loader.hashed)).map_err(|e| e.to_string())?;
    writeln!(code, "pub static ASSETS: &[Asset] = &[").map_err(|e| e.to_string())?;
    for a in &manifest.assets {
        writeln!(
            code,
            "    Asset {{ name: {}, file: {}, sri: {}, content_type: {}, bytes: include_bytes!({}) }},",
            lit(&a.name),
            lit(&a.file),
            lit(&a.sri),
            lit(&a.content_type),
            path_lit(&dist.join("assets").join(&a.file)),
        )
        .map_err(|e| e.to_string())?;
    }
    writeln!(code, "];").map_err(|e| e.to_string())?;
    std::fs::write(out_dir.join("assets.rs"), code).map_err(|e| format!("cannot write assets.rs: {e}"))
}

fn npm_build(web: &Path, dist: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let found = Command::new(npm).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found || !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Err("Node.js and npm are needed to build the web assets (web/): install Node 20 or newer \
             (e.g. `apt-get install nodejs npm`), or set FRONTDESK_WEB_DIST to an already built directory \
             (`npm --prefix web run build -- --outdir DIR`)."
            .to_owned());
    }
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    if modified(&installed).is_none() || modified(&installed) < modified(&lock) {
        run_npm(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(web), "npm ci")?;
    }
    run_npm(
        Command::new(npm).args(["run", "--silent", "build", "--", "--outdir"]).arg(dist).current_dir(web),
        "npm run build",
    )
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn run_npm(cmd: &mut Command, what: &str) -> Result<(), String> {
    cmd.env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let output = cmd.output().map_err(|e| format!("cannot run `{what}`: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{what}` failed in web/ ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
