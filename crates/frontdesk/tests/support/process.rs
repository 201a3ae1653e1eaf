//! Running the real `frontdesk` binary from the tests: shared by `cli.rs` and `nodes.rs`.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A fresh directory under the system's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "frontdesk-cli-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `frontdesk <storage…>` with settings only from the test, never from the developer's environment.
pub fn frontdesk(storage: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FRONTDESK_") && !key.starts_with("FRONTDESK_TEST_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(storage).env("FRONTDESK_LOG_LEVEL", "warn").kill_on_drop(true);
    cmd
}

/// Runs a CLI command with `--json` and returns its output.
pub async fn cli_json(storage: &[String], args: &[&str]) -> Value {
    let out = frontdesk(storage).args(args).arg("--json").output().await.expect("run frontdesk");
    assert!(out.status.success(), "frontdesk {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Spawns a server command and waits for its "listening" line; returns the process and its URL.
pub async fn spawn_listening(mut cmd: Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn frontdesk");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(url) = line.trim().strip_prefix("Frontdesk listening on ") {
                return url.to_owned();
            }
        }
        panic!("frontdesk exited before listening");
    })
    .await
    .expect("frontdesk listens within a minute");
    // Keep draining stdout so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}
