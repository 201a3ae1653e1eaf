//! The kernel's floor for the fan-out scenario: what one delivery costs a process that does nothing
//! but write it. A child process (this binary, `floor-writer`) accepts the receiving connections and
//! writes one pre-built WebSocket frame per delivery with a plain blocking `write` from one thread —
//! no runtime, no queue, no framing work, no parsing of what agents send. The load generator holds
//! the receiving ends like in `fanout` (one tokio task per connection, the same runtime) and reads
//! the child's CPU time from `/proc`. Whatever a server does per delivery, it pays at least this
//! (on loopback, the receiver's side of TCP and its wake-up are charged to the writer).

use super::{Recorder, TICKS_PER_SEC, open_all, own_cpu_ticks, proc_cpu_ticks};
use anyhow::{Context, Result, bail};
use futures::StreamExt;
use std::io::{BufRead, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The payload of a server `typing` frame is about this long (`{"v":1,"type":"typing",…}`).
const PAYLOAD: usize = 100;
/// A binary WebSocket frame from a server: FIN + opcode 2, unmasked 7-bit length, then the payload.
const FRAME: usize = PAYLOAD + 2;

/// Wall-clock nanoseconds: the writer stamps each frame and the receiver, another process on the same
/// machine, subtracts, so both need one clock that crosses processes (`Instant` does not).
#[allow(clippy::disallowed_methods)]
fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The child: accepts `connections`, prints its port and then `ready`; each stdin line
/// `<deliveries/s> <size> <millis>` writes that many deliveries (one frame to each of `size`
/// consecutive connections per publish, paced every millisecond) and prints `done`.
pub fn writer(connections: usize) -> Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", listener.local_addr()?.port())?;
    out.flush()?;
    let mut sockets = Vec::with_capacity(connections);
    while sockets.len() < connections {
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        sockets.push(socket);
    }
    writeln!(out, "ready")?;
    out.flush()?;
    let mut frame = [b'x'; FRAME];
    frame[0] = 0x82;
    frame[1] = PAYLOAD as u8;
    let mut next = 0usize;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let numbers: Vec<u64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        let &[rate, size, millis] = numbers.as_slice() else {
            bail!("expected `<rate> <size> <millis>`, got {line:?}")
        };
        let publishes_per_sec = rate as f64 / size as f64;
        let begin = Instant::now();
        let duration = Duration::from_millis(millis);
        let mut published = 0u64;
        while begin.elapsed() < duration {
            let due = (begin.elapsed().as_secs_f64() * publishes_per_sec) as u64;
            while published < due {
                frame[2..10].copy_from_slice(&now_nanos().to_le_bytes());
                for _ in 0..size {
                    let socket = &mut sockets[next % connections];
                    next += 1;
                    std::io::Write::write_all(socket, &frame)?;
                }
                published += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        writeln!(out, "done")?;
        out.flush()?;
    }
    Ok(())
}

/// The parent: the same receivers and rates as `fanout`, against the bare writer.
pub async fn run(conversations: usize, size: usize, rates: &[u64], secs: u64) -> Result<()> {
    let connections = conversations * size;
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args(["floor-writer", "--connections", &connections.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the writer")?;
    let pid = child.id().context("the writer's pid")?;
    let mut lines = BufReader::new(child.stdout.take().context("the writer's stdout")?).lines();
    let mut stdin = child.stdin.take().context("the writer's stdin")?;
    let port: u16 = lines.next_line().await?.context("the writer's port")?.parse()?;

    let recorder = Arc::new(Recorder::default());
    let delivered = Arc::new(AtomicU64::new(0));
    open_all(futures::stream::iter(0..connections).map(|_| {
        let (recorder, delivered) = (recorder.clone(), delivered.clone());
        async move {
            let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            tokio::spawn(async move {
                let mut frame = [0u8; FRAME];
                while socket.read_exact(&mut frame).await.is_ok() {
                    let mut stamp = [0u8; 8];
                    stamp.copy_from_slice(&frame[2..10]);
                    let sent = u64::from_le_bytes(stamp);
                    recorder.record(Duration::from_nanos(now_nanos().saturating_sub(sent)));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            });
            Ok(())
        }
    }))
    .await?;
    if lines.next_line().await?.as_deref() != Some("ready") {
        bail!("the writer did not accept every connection");
    }

    let writer_ticks = || proc_cpu_ticks(&format!("/proc/{pid}/stat")).unwrap_or(0);
    let mut rows = Vec::new();
    for &rate in rates {
        for (measured, millis) in [(false, 1000), (true, secs * 1000)] {
            if measured {
                recorder.start();
            }
            let (writer_before, own_before, at) = (writer_ticks(), own_cpu_ticks(), Instant::now());
            let before = delivered.load(Ordering::Relaxed);
            tokio::io::AsyncWriteExt::write_all(&mut stdin, format!("{rate} {size} {millis}\n").as_bytes()).await?;
            if lines.next_line().await?.as_deref() != Some("done") {
                bail!("the writer stopped");
            }
            // Let the last deliveries land.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if measured {
                let elapsed = at.elapsed().as_secs_f64();
                let pct = |ticks: u64| ticks as f64 / TICKS_PER_SEC / elapsed * 100.0;
                let (_, p50, p99, max) = recorder.stop();
                let got = delivered.load(Ordering::Relaxed) - before;
                let achieved = got as f64 / (elapsed - 0.2);
                rows.push(format!(
                    "| {rate} | {achieved:.0} | {p50:.2} ms | {p99:.2} ms | {max:.1} ms | {:.0}% | {:.0}% |",
                    pct(writer_ticks().saturating_sub(writer_before)),
                    pct(own_cpu_ticks().saturating_sub(own_before)),
                ));
            }
        }
    }
    drop(stdin);
    let _ = child.wait().await;
    println!();
    println!("## Kernel floor: a bare writer, {connections} connections in groups of {size} ({FRAME}-byte frames)");
    println!();
    println!("| target deliveries/s | measured deliveries/s | p50 | p99 | max | writer CPU | load generator CPU |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}
