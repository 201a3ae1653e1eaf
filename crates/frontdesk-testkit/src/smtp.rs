//! A real SMTP server for tests, on `127.0.0.1` and a free port: it keeps every message it
//! accepts so a test can read what was sent.
//!
//! It speaks the commands a client needs to deliver mail (EHLO/HELO, AUTH PLAIN/LOGIN, MAIL FROM,
//! RCPT TO, DATA, RSET, NOOP, QUIT), answers anything else with 500, and has no TLS: point a
//! mailer at it with security `none`. [`SmtpSink::start_failing`] makes it refuse the first DATA
//! commands with a transient 451, to test retries.

use base64::Engine as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The server's name in its greeting.
const NAME: &str = "frontdesk-testkit.localhost";
/// Longest command line or message accepted; longer ones close the connection.
const MAX_LINE: usize = 64 * 1024;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// One accepted message, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// Headers and body after dot-unstuffing, lines ending in CRLF, without the final `.` line.
    pub data: String,
}

impl ReceivedMail {
    /// The header block and the raw (still transfer-encoded) body.
    fn split(&self) -> (&str, &str) {
        if let Some(at) = self.data.find("\r\n\r\n") {
            (&self.data[..at], &self.data[at + 4..])
        } else if let Some(at) = self.data.find("\n\n") {
            (&self.data[..at], &self.data[at + 2..])
        } else {
            (self.data.as_str(), "")
        }
    }

    /// A header's value (the first, case-insensitive name), unfolded and with RFC 2047 encoded
    /// words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let mut fields: Vec<String> = Vec::new();
        for line in head.split('\n').map(|l| l.trim_end_matches('\r')) {
            match fields.last_mut() {
                Some(last) if line.starts_with([' ', '\t']) => {
                    last.push(' ');
                    last.push_str(line.trim_start());
                }
                _ => fields.push(line.to_owned()),
            }
        }
        fields.iter().find_map(|f| {
            let (n, v) = f.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| decode_words(v.trim()))
        })
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body decoded from its Content-Transfer-Encoding (quoted-printable, base64, or none),
    /// with line ends as `\n`.
    pub fn body_text(&self) -> String {
        let (_, body) = self.split();
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
        let bytes = match encoding.trim() {
            "quoted-printable" => decode_quoted_printable(body),
            "base64" => {
                let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD.decode(compact).unwrap_or_else(|_| body.as_bytes().to_vec())
            }
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

/// Decodes `=?charset?B?…?=` and `=?charset?Q?…?=` words (UTF-8 and ASCII charsets); the
/// whitespace between two adjacent encoded words is dropped, as RFC 2047 says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let decoded = rest[start + 2..].split_once("?=").and_then(|(inner, after)| {
            let mut parts = inner.splitn(3, '?');
            let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
            let bytes = match encoding {
                "B" | "b" => base64::engine::general_purpose::STANDARD.decode(text).ok()?,
                "Q" | "q" => decode_quoted_printable(&text.replace('_', " ")),
                _ => return None,
            };
            Some((String::from_utf8_lossy(&bytes).into_owned(), after))
        });
        match decoded {
            Some((word, after)) => {
                let between = &rest[..start];
                if !(last_was_word && between.trim().is_empty()) {
                    out.push_str(between);
                }
                out.push_str(&word);
                rest = after;
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            // A soft line break joins two lines.
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// What the connections share with the handle.
struct Shared {
    messages: Mutex<Vec<ReceivedMail>>,
    /// The number of stored messages, for [`SmtpSink::wait_for`].
    count: watch::Sender<usize>,
    /// DATA commands still to refuse with 451.
    fail_data: AtomicUsize,
    refused_data: AtomicUsize,
    logins: Mutex<Vec<(String, String)>>,
    connections: AtomicUsize,
}

/// The running server; stops (with every open connection) when dropped.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts a server that accepts every message.
    pub async fn start() -> SmtpSink {
        Self::start_failing(0).await
    }

    /// Starts a server that answers the first `failing_data` DATA commands with `451` (a
    /// transient failure, which a client should retry) and accepts every message after them.
    pub async fn start_failing(failing_data: usize) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an SMTP test port on 127.0.0.1");
        let port = listener.local_addr().expect("the SMTP test port").port();
        let shared = Arc::new(Shared {
            messages: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            fail_data: AtomicUsize::new(failing_data),
            refused_data: AtomicUsize::new(0),
            logins: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        SmtpSink { port, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `n` messages arrived or `timeout` passed, and returns all of them
    /// (fewer than `n` after a timeout: the caller's assertion says what was missing).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut count = self.shared.count.subscribe();
        let _ = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        self.messages()
    }

    /// Refuses the next `n` DATA commands with 451 (on top of any still pending).
    pub fn fail_next_data(&self, n: usize) {
        self.shared.fail_data.fetch_add(n, Ordering::SeqCst);
    }

    /// How many DATA commands were refused with 451.
    pub fn refused_data(&self) -> usize {
        self.shared.refused_data.load(Ordering::SeqCst)
    }

    /// The `(username, password)` pairs clients authenticated with, in order.
    pub fn logins(&self) -> Vec<(String, String)> {
        self.shared.logins.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here, so aborting this task closes every connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                connections.spawn(session(stream, shared.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The envelope of the transaction in progress.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

/// One client connection. Any I/O error, an over-long line or QUIT ends it.
async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut envelope = Envelope::default();
    if write.write_all(format!("220 {NAME} ESMTP test sink ready\r\n").as_bytes()).await.is_err() {
        return;
    }
    while let Some(line) = read_line(&mut reader).await {
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        let reply: String = match verb.as_str() {
            "EHLO" => {
                envelope = Envelope::default();
                format!("250-{NAME} greets {arg}\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE {MAX_MESSAGE}\r\n")
            }
            "HELO" => {
                envelope = Envelope::default();
                format!("250 {NAME}\r\n")
            }
            "AUTH" => match auth(&arg, &mut reader, &mut write).await {
                Some(Some(login)) => {
                    shared.logins.lock().unwrap_or_else(|e| e.into_inner()).push(login);
                    "235 2.7.0 authenticated\r\n".to_owned()
                }
                Some(None) => "535 5.7.8 bad credentials\r\n".to_owned(),
                None => return,
            },
            "MAIL" => match path_after(&arg, "FROM:") {
                Some(from) => {
                    envelope = Envelope { from: Some(from), to: Vec::new() };
                    "250 2.1.0 sender ok\r\n".to_owned()
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".to_owned(),
            },
            "RCPT" => match (envelope.from.is_some(), path_after(&arg, "TO:")) {
                (false, _) => "503 5.5.1 MAIL first\r\n".to_owned(),
                (true, Some(to)) if !to.is_empty() => {
                    envelope.to.push(to);
                    "250 2.1.5 recipient ok\r\n".to_owned()
                }
                (true, _) => "501 5.5.4 syntax: RCPT TO:<address>\r\n".to_owned(),
            },
            "DATA" if envelope.to.is_empty() => "503 5.5.1 RCPT first\r\n".to_owned(),
            "DATA" => {
                let refuse =
                    shared.fail_data.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                if refuse {
                    shared.refused_data.fetch_add(1, Ordering::SeqCst);
                    envelope = Envelope::default();
                    "451 4.3.0 try again later\r\n".to_owned()
                } else {
                    if write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await.is_err() {
                        return;
                    }
                    let Some(data) = read_data(&mut reader).await else { return };
                    let mail = ReceivedMail {
                        from: envelope.from.take().unwrap_or_default(),
                        to: std::mem::take(&mut envelope.to),
                        data,
                    };
                    let count = {
                        let mut messages = shared.messages.lock().unwrap_or_else(|e| e.into_inner());
                        messages.push(mail);
                        messages.len()
                    };
                    shared.count.send_replace(count);
                    "250 2.0.0 queued\r\n".to_owned()
                }
            }
            "RSET" => {
                envelope = Envelope::default();
                "250 2.0.0 reset\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 ok\r\n".to_owned(),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => "500 5.5.2 command not recognized\r\n".to_owned(),
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// `FROM:<a@b.c> SIZE=…` → `a@b.c` (an empty path `<>` is allowed for MAIL FROM).
fn path_after(arg: &str, prefix: &str) -> Option<String> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let path = rest.split_whitespace().next().unwrap_or("");
    let inner = path.strip_prefix('<').and_then(|p| p.strip_suffix('>'));
    inner.map(str::to_owned)
}

/// AUTH PLAIN (with or without the initial response) and AUTH LOGIN. `None`: the connection
/// failed; `Some(None)`: malformed credentials.
async fn auth<R, W>(arg: &str, reader: &mut R, write: &mut W) -> Option<Option<(String, String)>>
where
    R: AsyncBufRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let decode = |text: &str| base64::engine::general_purpose::STANDARD.decode(text.trim()).ok();
    let mut words = arg.split_whitespace();
    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
    match mechanism.as_str() {
        "PLAIN" => {
            let initial = match words.next() {
                Some(initial) => initial.to_owned(),
                None => {
                    write.write_all(b"334 \r\n").await.ok()?;
                    read_line(reader).await?
                }
            };
            let Some(bytes) = decode(&initial) else { return Some(None) };
            let mut parts = bytes.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
            let (_authzid, user, password) = (parts.next(), parts.next(), parts.next());
            Some(user.zip(password))
        }
        "LOGIN" => {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await.ok()?;
            let user = decode(&read_line(reader).await?);
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await.ok()?;
            let password = decode(&read_line(reader).await?);
            let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
            Some(user.map(text).zip(password.map(text)))
        }
        _ => Some(None),
    }
}

/// One line without its line end; `None` at the end of the stream, on an error, or when the
/// line is too long.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut buf = Vec::new();
    let n = (&mut *reader).take(MAX_LINE as u64).read_until(b'\n', &mut buf).await.ok()?;
    if n == 0 || !buf.ends_with(b"\n") {
        return None;
    }
    let text = String::from_utf8_lossy(&buf);
    Some(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// The message after a 354, up to the line holding only `.`, with each line's leading dot
/// removed (dot-unstuffing) and CRLF line ends.
async fn read_data<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut data = String::new();
    loop {
        let line = read_line(reader).await?;
        if line == "." {
            return Some(data);
        }
        let line = line.strip_prefix('.').unwrap_or(&line);
        if data.len() + line.len() > MAX_MESSAGE {
            return None;
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one whole reply: lines up to the one whose code is followed by a space.
    async fn read_reply(reader: &mut BufReader<TcpStream>, transcript: &mut String) {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(5), read_line(reader))
                .await
                .expect("a reply in time")
                .expect("a reply line");
            transcript.push_str(&line);
            transcript.push_str("\r\n");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }

    /// Sends the script's lines one by one and collects every reply.
    async fn converse(port: u16, script: &[&str]) -> String {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        let mut reader = BufReader::new(stream);
        let mut transcript = String::new();
        read_reply(&mut reader, &mut transcript).await;
        for line in script {
            reader.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.expect("write");
            // Lines inside DATA get no reply of their own.
            if transcript.ends_with("354 end data with <CR><LF>.<CR><LF>\r\n") && *line != "." {
                continue;
            }
            read_reply(&mut reader, &mut transcript).await;
        }
        transcript
    }

    #[tokio::test]
    async fn a_raw_session_delivers_an_unstuffed_message() {
        let sink = SmtpSink::start().await;
        let transcript = converse(
            sink.port(),
            &[
                "EHLO client.test",
                "MAIL FROM:<alerts@example.com> SIZE=100",
                "RCPT TO:<ada@example.com>",
                "RCPT TO:<grace@example.com>",
                "DATA",
                "Subject: hello",
                "",
                "..hidden",
                "last line",
                ".",
                "NOOP",
                "VRFY ada",
                "QUIT",
            ],
        )
        .await;
        assert!(transcript.starts_with("220 "), "{transcript}");
        assert!(transcript.contains("250 2.0.0 queued"), "{transcript}");
        assert!(transcript.contains("500 5.5.2"), "VRFY is unknown: {transcript}");
        assert!(transcript.ends_with("221 2.0.0 bye\r\n"), "{transcript}");
        let mail = sink.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(mail.len(), 1);
        assert_eq!(mail[0].from, "alerts@example.com");
        assert_eq!(mail[0].to, ["ada@example.com", "grace@example.com"]);
        assert_eq!(mail[0].data, "Subject: hello\r\n\r\n.hidden\r\nlast line\r\n");
        assert_eq!(mail[0].subject(), "hello");
        assert_eq!(mail[0].body_text(), ".hidden\nlast line\n");
    }

    #[tokio::test]
    async fn data_can_be_refused_and_the_order_of_commands_is_checked() {
        let sink = SmtpSink::start_failing(1).await;
        let transcript = converse(
            sink.port(),
            &[
                "HELO client.test",
                "RCPT TO:<a@b.c>",
                "MAIL FROM:<x@y.z>",
                "DATA",
                "RCPT TO:<a@b.c>",
                "DATA",
                "RSET",
                "MAIL FROM:<x@y.z>",
                "RCPT TO:<a@b.c>",
                "DATA",
                ".",
                "QUIT",
            ],
        )
        .await;
        let codes: Vec<&str> = transcript.lines().map(|l| &l[..3]).collect();
        assert_eq!(codes, ["220", "250", "503", "250", "503", "250", "451", "250", "250", "250", "354", "250", "221"]);
        assert_eq!(sink.refused_data(), 1);
        assert_eq!(sink.messages().len(), 1);
        assert_eq!(sink.messages()[0].data, "");
    }

    #[tokio::test]
    async fn auth_plain_and_login_are_recorded() {
        let sink = SmtpSink::start().await;
        let plain = base64::engine::general_purpose::STANDARD.encode(b"\0ada\0s3cret");
        let user = base64::engine::general_purpose::STANDARD.encode(b"grace");
        let password = base64::engine::general_purpose::STANDARD.encode(b"pa55");
        let auth_plain = format!("AUTH PLAIN {plain}");
        let transcript = converse(sink.port(), &["EHLO c", &auth_plain, "AUTH LOGIN", &user, &password, "QUIT"]).await;
        assert_eq!(transcript.matches("235 ").count(), 2, "{transcript}");
        assert_eq!(sink.logins(), [("ada".to_owned(), "s3cret".to_owned()), ("grace".to_owned(), "pa55".to_owned())]);
    }

    #[test]
    fn encoded_headers_and_bodies_decode() {
        let mail = ReceivedMail {
            from: String::new(),
            to: Vec::new(),
            data: concat!(
                "Subject: =?utf-8?b?Q29udmVyc2F0aW9uIGVzY2FsYXRlZCDigJQg?=\r\n",
                " =?utf-8?b?U2hvcA==?=\r\n",
                "Content-Transfer-Encoding: quoted-printable\r\n",
                "\r\n",
                "caf=C3=A9 and a long=\r\n",
                " line\r\n"
            )
            .to_owned(),
        };
        assert_eq!(mail.subject(), "Conversation escalated — Shop");
        assert_eq!(mail.body_text(), "café and a long line\n");
        assert_eq!(mail.header("content-transfer-encoding").as_deref(), Some("quoted-printable"));
        assert_eq!(mail.header("X-Missing"), None);
    }
}
