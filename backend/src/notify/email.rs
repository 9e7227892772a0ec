//! The `email` channel: one plain-text mail per delivery to the recipients stored on it, over
//! SMTP (lettre) or Amazon SES (`SendRawEmail`, the same MIME message). The subject is the
//! notification's headline; the body says who asked and why, the event's sentence (a
//! failure's savepoint location included) and the console link. `X-Rescaler-Delivery` carries
//! the idempotency key and the `Message-ID` is derived from it, so a receiver can dedupe.

use aws_sdk_ses::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rescaler_shared::notify::{Delivery, Notification};
use tokio::sync::OnceCell;

use super::SEND_TIMEOUT;
use super::sign::DELIVERY_HEADER;
use crate::config::{ChannelConfig, EmailTransport};
use crate::store::{S3StoreConfig, aws_sdk_config};

/// How one email channel sends.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// The SES client is made at the first mail (loading the AWS chain is asynchronous).
    Ses {
        aws: S3StoreConfig,
        client: OnceCell<aws_sdk_ses::Client>,
    },
}

/// The `X-Rescaler-Delivery` header.
#[derive(Debug, Clone)]
struct DeliveryId(String);

impl Header for DeliveryId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(DELIVERY_HEADER)
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(text.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

impl Mailer {
    /// The mailer of an `email` channel; `None` for another kind or an unusable `smtp_url`
    /// (the configuration's check refuses both).
    pub fn of(channel: &ChannelConfig) -> Option<Self> {
        match channel.transport? {
            EmailTransport::Smtp => {
                let url = channel.smtp_url.as_deref()?;
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).ok()?;
                Some(Self::Smtp(builder.timeout(Some(SEND_TIMEOUT)).build()))
            }
            EmailTransport::Ses => Some(Self::Ses {
                aws: S3StoreConfig {
                    region: channel.region.clone(),
                    endpoint: channel.endpoint_url.clone(),
                    access_key_id: channel.access_key_id.clone(),
                    secret_access_key: channel.secret_access_key.clone(),
                    ..S3StoreConfig::default()
                },
                client: OnceCell::new(),
            }),
        }
    }

    /// Sends the delivery's mail; the error says why not (the server's answer, never a
    /// credential).
    pub async fn send(&self, from: &str, delivery: &Delivery) -> Result<(), String> {
        let message = message(from, &delivery.recipients, &delivery.notification)?;
        match self {
            Self::Smtp(transport) => transport.send(message).await.map(|_| ()).map_err(|error| error.to_string()),
            Self::Ses { aws, client } => {
                let client =
                    client.get_or_init(|| async { aws_sdk_ses::Client::new(&aws_sdk_config(aws).await) }).await;
                let raw =
                    RawMessage::builder().data(Blob::new(message.formatted())).build().map_err(|e| e.to_string())?;
                // The bare address: what SES checks against its verified identities and IAM's
                // `ses:FromAddress`.
                let source =
                    from.parse::<Mailbox>().map(|mailbox| mailbox.email.to_string()).map_err(|e| e.to_string())?;
                let mut request = client.send_raw_email().source(source).raw_message(raw);
                for recipient in &delivery.recipients {
                    request = request.destinations(recipient);
                }
                request.send().await.map(|_| ()).map_err(|error| match (error.code(), error.message()) {
                    (Some(code), Some(text)) => format!("SES: {code}: {text}"),
                    _ => format!("SES: {}", DisplayErrorContext(error)),
                })
            }
        }
    }
}

/// The mail of a notification to `recipients`.
pub fn message(from: &str, recipients: &[String], notification: &Notification) -> Result<Message, String> {
    let mailbox =
        |address: &str| address.parse::<Mailbox>().map_err(|_| format!("{address:?} is not an email address"));
    let mut builder = Message::builder()
        .from(mailbox(from)?)
        .subject(notification.headline())
        .message_id(Some(message_id(&notification.delivery_id)))
        .header(DeliveryId(notification.delivery_id.clone()))
        .header(ContentType::TEXT_PLAIN);
    for recipient in recipients {
        builder = builder.to(mailbox(recipient)?);
    }
    builder.body(body(notification)).map_err(|error| format!("cannot build the mail: {error}"))
}

/// `<delivery id@rescaler>`: the same for every attempt of one delivery.
pub fn message_id(delivery_id: &str) -> String {
    format!("<{delivery_id}@rescaler>")
}

/// The plain-text body: the headline, who asked and why, who acted, the event's sentence, and
/// the link to the request.
pub fn body(notification: &Notification) -> String {
    let mut text = format!("{}\n\n", notification.headline());
    for (label, value) in notification.details() {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text.push_str(&format!("\n{}\n", notification.message));
    if let Some(url) = &notification.console_url {
        text.push_str(&format!("\n{}: {url}\n", notification.link_label()));
    }
    text.push_str(&format!("\n-- \nRescaler notification {}\n", notification.delivery_id));
    text
}

#[cfg(test)]
mod tests {
    use rescaler_shared::notify::{Notification, NotifyEvent};

    use super::{body, message};

    fn failed() -> Notification {
        Notification {
            delivery_id: "op1-0007-mail".into(),
            event: NotifyEvent::Failed,
            operation_id: "op1".into(),
            schedule_id: None,
            cluster_id: "prod".into(),
            job_id: "j1".into(),
            job_name: "counter".into(),
            target: "parallelism 4".into(),
            reason: "traffic peak".into(),
            requested_by: "alice".into(),
            actor: None,
            message: "the job did not restart; its savepoint is at s3://sp/op1/savepoint-1".into(),
            at_ms: 1,
            console_url: Some("https://console.example/rescales/op1".into()),
        }
    }

    #[test]
    fn the_mail_has_the_headline_the_key_and_the_savepoint() {
        let to = ["bob@example.com".to_owned(), "Carol <carol@example.com>".to_owned()];
        let mail = message("Rescaler <rescaler@example.com>", &to, &failed()).expect("valid");
        let text = String::from_utf8(mail.formatted()).expect("utf-8");
        let subject = mail.headers().get_raw("Subject");
        assert_eq!(subject, Some("Rescale failed: job counter on cluster prod → parallelism 4"), "{text}");
        assert!(text.contains("X-Rescaler-Delivery: op1-0007-mail\r\n"), "{text}");
        assert!(text.contains("Message-ID: <op1-0007-mail@rescaler>\r\n"), "{text}");
        assert!(text.contains("To: bob@example.com, Carol <carol@example.com>\r\n"), "{text}");
        assert!(text.contains("From: Rescaler <rescaler@example.com>\r\n"), "{text}");
        let envelope: Vec<_> = mail.envelope().to().iter().map(ToString::to_string).collect();
        assert_eq!(envelope, ["bob@example.com", "carol@example.com"]);
        let plain = body(&failed());
        assert!(plain.contains("Requested by: alice\nReason: traffic peak\n"), "{plain}");
        assert!(plain.contains("s3://sp/op1/savepoint-1"), "{plain}");
        assert!(plain.contains("Open the request in the console: https://console.example/rescales/op1"), "{plain}");
        assert!(!plain.contains("By: "), "no actor, no line: {plain}");
    }

    #[test]
    fn a_bad_address_is_an_error_not_a_panic() {
        let error = message("rescaler@example.com", &["not an address".to_owned()], &failed()).expect_err("refused");
        assert!(error.contains("not an address"), "{error}");
        assert!(message("", &[], &failed()).is_err());
    }
}
