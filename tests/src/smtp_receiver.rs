//! A real SMTP server on loopback: Python's `aiosmtpd` (pinned by `scripts/setup.sh` in a venv
//! under the cache) with a small handler that writes each message it accepts to a folder as
//! JSON — envelope sender and recipients, the headers a receiver dedupes by, the decoded
//! subject and plain-text body — which [`SmtpReceiver::received`] reads back. It can be
//! stopped (connections refused) and started again on the same port.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::paths::{cache_dir, scratch_dir};
use crate::ports::free_port;
use crate::process::{ChildGuard, log_tail};

/// The handler (`-c rescaler_mailbox.Mailbox <folder>`), and `--parse`, which decodes one
/// message from stdin the same way (for the raw mails LocalStack's SES keeps).
const HANDLER: &str = r#"
import email, email.policy, json, os, sys, uuid

def describe(raw, mail_from="", rcpt_tos=()):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return {
        "mail_from": mail_from,
        "rcpt_tos": list(rcpt_tos),
        "from": str(msg["from"] or ""),
        "to": str(msg["to"] or ""),
        "subject": str(msg["subject"] or ""),
        "message_id": str(msg["message-id"] or ""),
        "delivery_id": str(msg["x-rescaler-delivery"] or ""),
        "body": msg.get_content().replace("\r\n", "\n"),
    }

class Mailbox:
    def __init__(self, folder):
        self.folder = folder

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(*args)

    async def handle_DATA(self, server, session, envelope):
        record = describe(envelope.original_content or envelope.content, envelope.mail_from, envelope.rcpt_tos)
        name = uuid.uuid4().hex
        temporary = os.path.join(self.folder, name + ".tmp")
        with open(temporary, "w") as out:
            json.dump(record, out)
        os.rename(temporary, os.path.join(self.folder, name + ".json"))
        return "250 Message accepted for delivery"

if __name__ == "__main__" and sys.argv[1:] == ["--parse"]:
    print(json.dumps(describe(sys.stdin.buffer.read())))
"#;

/// One message the server accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    /// The envelope's sender and recipients (what the server delivers to).
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    /// `X-Rescaler-Delivery`.
    pub delivery_id: String,
    pub body: String,
}

/// A running (or stopped) server; dropping it kills the server.
pub struct SmtpReceiver {
    port: u16,
    folder: PathBuf,
    scratch: PathBuf,
    server: Option<ChildGuard>,
}

fn python() -> anyhow::Result<PathBuf> {
    let python = cache_dir().join("aiosmtpd-venv/bin/python");
    anyhow::ensure!(python.exists(), "aiosmtpd is not set up at {}: run scripts/setup.sh", python.display());
    Ok(python)
}

impl SmtpReceiver {
    /// Starts a server on a free loopback port and waits for its greeting.
    pub async fn start() -> anyhow::Result<Self> {
        let scratch = scratch_dir("smtp")?;
        let folder = scratch.join("mailbox");
        std::fs::create_dir_all(&folder)?;
        std::fs::write(scratch.join("rescaler_mailbox.py"), HANDLER)?;
        let mut receiver = Self { port: free_port()?, folder, scratch, server: None };
        receiver.start_again().await?;
        Ok(receiver)
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the server: connections are refused until [`SmtpReceiver::start_again`].
    pub fn stop(&mut self) {
        self.server = None;
    }

    /// Starts the server again on the same port, keeping what it received.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let log_file = self.scratch.join("aiosmtpd.log");
        let mut command = Command::new(python()?);
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c", "rescaler_mailbox.Mailbox"])
            .arg(&self.folder)
            .env("PYTHONPATH", &self.scratch)
            .current_dir(&self.scratch);
        self.server = Some(ChildGuard::spawn("aiosmtpd", command, &log_file)?);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if greets(self.port).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!("aiosmtpd did not greet within 20 s:\n{}", log_tail(&log_file, 30));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message accepted so far (in no particular order).
    pub fn received(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.folder) else { return Vec::new() };
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
            .filter_map(|path| serde_json::from_slice(&std::fs::read(path).ok()?).ok())
            .collect()
    }
}

/// Whether a server on the port answers with SMTP's `220` greeting.
async fn greets(port: u16) -> bool {
    use tokio::io::AsyncReadExt;
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let mut greeting = [0u8; 3];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut greeting)).await;
    matches!(read, Ok(Ok(_))) && &greeting == b"220"
}

/// Decodes one raw message (RFC 5322 text) as the server's handler does.
pub fn parse(raw: &str) -> anyhow::Result<Mail> {
    use std::io::Write;
    let scratch = scratch_dir("mail-parse")?;
    std::fs::write(scratch.join("rescaler_mailbox.py"), HANDLER)?;
    let mut child = Command::new(python()?)
        .arg(scratch.join("rescaler_mailbox.py"))
        .arg("--parse")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?.write_all(raw.as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "the mail parser failed");
    Ok(serde_json::from_slice(&output.stdout)?)
}
