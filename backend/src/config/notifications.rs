//! The `[notifications]` part of the configuration: channels (signed webhooks, Slack incoming
//! webhooks, email over SMTP or Amazon SES) and the routes that say which events on which
//! clusters go to them (`notify.rs`).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Notification channels and which events on which clusters go to them (`notify.rs`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// The console's address, for the link to the request in every message.
    #[serde(default)]
    pub console_url: Option<String>,
    /// Seconds between failed attempts; given up after one attempt more than there are delays.
    #[serde(default = "default_retry_delays")]
    pub retry_delays_secs: Vec<u64>,
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    #[serde(default)]
    pub routes: Vec<rescaler_shared::notify::Route>,
}

fn default_retry_delays() -> Vec<u64> {
    rescaler_shared::notify::DEFAULT_RETRY_DELAYS_SECS.to_vec()
}

/// One place notifications go to.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Letters, digits, - or _; part of every delivery's idempotency key.
    pub id: String,
    pub kind: ChannelKind,
    /// Where a `webhook` or `slack` channel POSTs (required for those, unused by `email`).
    #[serde(default)]
    pub url: String,
    /// The HMAC-SHA256 key of a `webhook` channel's signature.
    #[serde(default)]
    pub secret: Option<String>,
    /// The same key kept in an SSM SecureString, by parameter name; read once at start.
    #[serde(default)]
    pub secret_ssm: Option<String>,
    /// How an `email` channel's mail leaves: `smtp` or `ses`.
    #[serde(default)]
    pub transport: Option<EmailTransport>,
    /// The SMTP server of `transport = "smtp"`: `smtp://host:port` (plain; `?tls=required`
    /// for STARTTLS), `smtps://host:port` (TLS), credentials as `smtp://user:password@host`.
    #[serde(default)]
    pub smtp_url: Option<String>,
    /// The sender of an `email` channel, e.g. `Rescaler <rescaler@example.com>`.
    #[serde(default)]
    pub from: Option<String>,
    /// Fixed recipients of an `email` channel: every event routed to it goes to them.
    #[serde(default)]
    pub to: Vec<String>,
    /// Whether an `email` channel also writes to the people an event concerns: `requested`
    /// to those who may approve it, `approved`/`rejected`/`cancelled`/`expired` to the
    /// requester, `started`/`completed`/`rolled_back`/`failed` to both (addresses from the
    /// identity provider's `email` claim, or a `tokens` user's `email`).
    #[serde(default)]
    pub to_people: bool,
    /// The AWS region of `transport = "ses"` (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Another SES endpoint (LocalStack); unset: the region's.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Static keys for `transport = "ses"` (a test server); unset: the AWS default chain (the
    /// Lambda's role).
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

/// A channel's wire format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// The notification's JSON, signed (`X-Rescaler-Signature`).
    #[default]
    Webhook,
    /// A Slack incoming webhook's `{"text", "blocks"}`.
    Slack,
    /// A plain-text mail, over SMTP or Amazon SES (`transport`).
    Email,
}

/// How an `email` channel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTransport {
    /// An SMTP server (`smtp_url`).
    Smtp,
    /// Amazon SES (`region`, `endpoint_url`), `SendRawEmail`.
    Ses,
}

impl NotificationsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut ids = std::collections::BTreeSet::new();
        for channel in &self.channels {
            let id_ok = !channel.id.is_empty()
                && channel.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok || !ids.insert(channel.id.as_str()) {
                return invalid(format!("channel id {:?} must be unique letters, digits, - or _", channel.id));
            }
            channel.validate().map_err(|problem| ConfigError::Invalid(format!("channel {}: {problem}", channel.id)))?;
        }
        for route in &self.routes {
            if let Some(event) = rescaler_shared::notify::unknown_event(route) {
                return invalid(format!("a notification route names unknown event {event:?}"));
            }
            if let Some(channel) = route.channels.iter().find(|channel| !ids.contains(channel.as_str())) {
                return invalid(format!("a notification route names unknown channel {channel:?}"));
            }
        }
        Ok(())
    }
}

fn invalid(text: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(text))
}

impl ChannelConfig {
    fn validate(&self) -> Result<(), String> {
        if self.secret.is_some() && self.secret_ssm.is_some() {
            return Err("both secret and secret_ssm: give one".to_owned());
        }
        if self.kind != ChannelKind::Email {
            return if self.url.is_empty() { Err("a webhook or slack channel needs a url".to_owned()) } else { Ok(()) };
        }
        let from = self.from.as_deref().ok_or("an email channel needs from (the sender's address)")?;
        for address in std::iter::once(from).chain(self.to.iter().map(String::as_str)) {
            address.parse::<lettre::message::Mailbox>().map_err(|_| format!("{address:?} is not an email address"))?;
        }
        match (self.transport, &self.smtp_url) {
            (None, _) => Err("an email channel needs transport = \"smtp\" or \"ses\"".to_owned()),
            (Some(EmailTransport::Smtp), None) => Err("transport = \"smtp\" needs smtp_url".to_owned()),
            (Some(EmailTransport::Smtp), Some(url)) => {
                // Not the URL itself in the error: it may hold a password.
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                    .map(|_| ())
                    .map_err(|_| "smtp_url is not a usable smtp:// or smtps:// address".to_owned())
            }
            (Some(EmailTransport::Ses), _) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ChannelKind, EmailTransport};
    use crate::config::Config;

    const BASE: &str =
        "[store]\nkind = \"dir\"\npath = \"/tmp/x\"\n[[notifications.channels]]\nid = \"mail\"\nkind = \"email\"\n";

    fn error(channel: &str) -> String {
        Config::parse(&format!("{BASE}{channel}")).expect_err("invalid").to_string()
    }

    #[test]
    fn email_channels_are_read_and_checked() {
        let smtp = "transport = \"smtp\"\nsmtp_url = \"smtp://127.0.0.1:2525\"\nfrom = \"Rescaler <r@example.com>\"\nto = [\"ops@example.com\"]\nto_people = true\n";
        let config = Config::parse(&format!("{BASE}{smtp}")).expect("valid");
        let channel = &config.notifications.channels[0];
        assert_eq!((channel.kind, channel.transport), (ChannelKind::Email, Some(EmailTransport::Smtp)));
        assert!(channel.to_people);
        let ses = "transport = \"ses\"\nregion = \"eu-west-1\"\nfrom = \"r@example.com\"\n";
        let config = Config::parse(&format!("{BASE}{ses}")).expect("valid: people without any source of addresses");
        assert_eq!(config.notifications.channels[0].transport, Some(EmailTransport::Ses));

        assert!(error("transport = \"pigeon\"\nfrom = \"r@example.com\"\n").contains("unknown variant `pigeon`"));
        assert!(error("transport = \"ses\"\n").contains("channel mail: an email channel needs from"));
        assert!(error("from = \"r@example.com\"\n").contains("needs transport"));
        assert!(error("transport = \"smtp\"\nfrom = \"r@example.com\"\n").contains("needs smtp_url"));
        let bad_url = error("transport = \"smtp\"\nsmtp_url = \"http://user:hunter2@h\"\nfrom = \"r@example.com\"\n");
        assert!(bad_url.contains("smtp_url is not a usable") && !bad_url.contains("hunter2"), "{bad_url}");
        assert!(error("transport = \"ses\"\nfrom = \"nobody\"\n").contains("\"nobody\" is not an email address"));
        assert!(
            error("transport = \"ses\"\nfrom = \"r@example.com\"\nto = [\"x y\"]\n").contains("not an email address")
        );
        let hook = BASE.replace("kind = \"email\"", "kind = \"webhook\"");
        let no_url = Config::parse(&hook).expect_err("invalid").to_string();
        assert!(no_url.contains("needs a url"), "{no_url}");
    }
}
