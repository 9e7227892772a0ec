//! What can go wrong talking to Flink, and how Flink's error answers are read.
//!
//! The text of a [`FlinkError`] reaches anyone who may view the cluster (API errors, the
//! cluster list, an operation's events and reasons), so it never carries where the cluster
//! lives: [`redact_addresses`] takes URLs, RPC addresses, IP addresses and `host:port` pairs
//! out of everything read from the transport or from Flink's answers, and the REST client takes
//! its own host name out of transport errors ([`FlinkError::without_host`]). The full detail is
//! logged where the error is made.

use reqwest::StatusCode;

use super::wire::ErrorBody;

/// A failed exchange with Flink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlinkError {
    /// Flink does not know the thing asked about (job, jar, vertex).
    #[error("flink does not know {what}")]
    NotFound { what: String },
    /// Flink could not be reached or could not answer now: worth retrying.
    #[error("flink is unavailable: {message}")]
    Unavailable { message: String },
    /// Flink refused the request. `message` is Flink's own error line(s), without stack trace.
    #[error("flink rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// Flink answered something this client cannot read.
    #[error("could not decode flink's answer to {what}: {detail}")]
    Undecodable { what: String, detail: String },
    /// A job with this id was already submitted (it may be running or finished): a retried
    /// submission that already went through.
    #[error("flink already has a job {job_id}")]
    DuplicateJob { job_id: String },
}

impl FlinkError {
    /// Trying the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Rejected { status, .. } => *status == 429,
            Self::NotFound { .. } | Self::Undecodable { .. } | Self::DuplicateJob { .. } => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub(super) fn undecodable(what: &str, detail: impl std::fmt::Display) -> Self {
        Self::Undecodable { what: what.to_owned(), detail: detail.to_string() }
    }

    /// A transport failure: nothing, or nothing complete, came back. The request's URL is not
    /// part of the message.
    pub(super) fn from_transport(what: &str, error: reqwest::Error) -> Self {
        let error = error.without_url();
        if error.is_decode() {
            return Self::undecodable(what, redact_addresses(&error_chain(&error)));
        }
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        Self::Unavailable { message: format!("{what}: {kind}: {}", redact_addresses(&error_chain(&error))) }
    }

    /// The same error without the host name of `base_url` anywhere in its text (a TLS or name
    /// resolution failure may spell it out bare).
    pub(super) fn without_host(self, base_url: &str) -> Self {
        let Some(host) = reqwest::Url::parse(base_url).ok().and_then(|url| url.host_str().map(str::to_owned)) else {
            return self;
        };
        let scrub = |text: String| if host.is_empty() { text } else { text.replace(&host, ADDRESS) };
        match self {
            Self::Unavailable { message } => Self::Unavailable { message: scrub(message) },
            Self::Undecodable { what, detail } => Self::Undecodable { what, detail: scrub(detail) },
            Self::Rejected { status, message } => Self::Rejected { status, message: scrub(message) },
            other => other,
        }
    }

    /// An error status from Flink, read from its `{"errors": [...]}` body.
    pub(super) fn from_status(what: &str, status: StatusCode, body: &str) -> Self {
        let errors = flink_errors(body);
        let message = redact_addresses(&summarize_errors(&errors));
        let mentions = |needle: &str| errors.iter().any(|error| error.contains(needle));
        let code = status.as_u16();
        if code == 404 || (code == 500 && mentions("NotFoundException")) {
            return Self::NotFound { what: what.to_owned() };
        }
        let unavailable = matches!(code, 502..=504)
            || (status.is_server_error()
                && (mentions("java.util.concurrent.TimeoutException")
                    || mentions("RecipientUnreachableException")
                    || mentions("RpcConnectionException")));
        if unavailable {
            return Self::Unavailable { message: format!("{what}: {code}: {message}") };
        }
        Self::Rejected { status: code, message }
    }
}

/// What stands in for an address taken out of error text.
const ADDRESS: &str = "<address>";

/// `text` without the addresses in it: http(s), ws(s), akka and pekko URLs (the REST endpoint,
/// the JobManager's and TaskManagers' RPC addresses), `actor@host:port` addresses, IPv4
/// addresses and `host:port` pairs, each replaced by `<address>`. Storage locations
/// (`s3://`, `file:/`, `hdfs://` paths) stay: an operator needs them to restore a job.
pub fn redact_addresses(text: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        redacted.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        redacted.push_str(&redact_word(&rest[..end]));
        rest = &rest[end..];
    }
    redacted.push_str(rest);
    redacted
}

/// One whitespace-free word, with the punctuation around it kept.
fn redact_word(word: &str) -> String {
    let is_edge = |c: char| matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '{' | '}' | '"' | '\'' | ',' | ';' | '`');
    let core = word.trim_start_matches(is_edge);
    let lead = &word[..word.len() - core.len()];
    let core = core.trim_end_matches(|c: char| is_edge(c) || c == '.' || c == ':');
    let trail = &word[lead.len() + core.len()..];
    if core.is_empty() || !is_address(core) {
        return word.to_owned();
    }
    format!("{lead}{ADDRESS}{trail}")
}

fn is_address(word: &str) -> bool {
    if let Some((scheme, _)) = word.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let base = scheme.split('.').next().unwrap_or_default();
        return matches!(base, "http" | "https" | "ws" | "wss" | "akka" | "pekko");
    }
    // `flink@10.0.0.5:6123/user/rpc/…`, `10.0.0.5:6123`, `taskmanager-2:6122`, `10.0.0.5`.
    let authority = word.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match host_port.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) => {
            is_ipv4(host) || is_host_name(host)
        }
        Some(_) => false,
        None => is_ipv4(host_port),
    }
}

/// Letters, digits, dots and hyphens, with at least one letter or dot (not a bare number).
fn is_host_name(host: &str) -> bool {
    let allowed = host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    allowed && host.bytes().any(|b| b.is_ascii_alphabetic() || b == b'.')
}

fn is_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4 && parts.iter().all(|part| !part.is_empty() && part.len() <= 3 && part.parse::<u8>().is_ok())
}

/// The `errors` of Flink's error body, or the raw body when it is not one.
pub(super) fn flink_errors(body: &str) -> Vec<String> {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(parsed) if !parsed.errors.is_empty() => parsed.errors,
        _ => {
            let trimmed = body.trim();
            if trimmed.is_empty() { Vec::new() } else { vec![truncate(trimmed, 500)] }
        }
    }
}

/// Flink's error text without stack traces: the first line, and the root cause when the text
/// has `Caused by:` lines; qualified Java class names are shortened to their simple names.
pub(super) fn summarize_errors(errors: &[String]) -> String {
    let mut lines = errors
        .iter()
        .flat_map(|error| error.lines())
        .map(str::trim)
        .filter(|line| is_message_line(line))
        .collect::<Vec<_>>();
    // "Internal server error." comes before the interesting part on 500s.
    if lines.len() > 1 && lines[0] == "Internal server error." {
        lines.remove(0);
    }
    let Some(first) = lines.first() else {
        return "no error message".to_owned();
    };
    let headline = simplify_exception_line(first.strip_prefix("Caused by: ").unwrap_or(first));
    let root = lines.iter().rev().find_map(|line| line.strip_prefix("Caused by: ")).map(simplify_exception_line);
    match root {
        Some(root) if root != headline && !headline.contains(&root) => {
            format!("{headline} (caused by {root})")
        }
        _ => headline,
    }
}

fn is_message_line(line: &str) -> bool {
    !(line.is_empty()
        || line.starts_with("at ")
        || line.starts_with("...")
        || line.starts_with("<Exception on server side")
        || line.starts_with("End of exception on server side"))
}

/// `java.util.concurrent.CompletionException: org.x.FooException: text` becomes
/// `CompletionException: FooException: text`.
pub(super) fn simplify_exception_line(line: &str) -> String {
    line.split(": ")
        .map(|segment| {
            let looks_like_class = !segment.is_empty()
                && segment.contains('.')
                && !segment.contains(char::is_whitespace)
                && segment
                    .rsplit('.')
                    .next()
                    .is_some_and(|simple| simple.starts_with(|c: char| c.is_ascii_uppercase()));
            if looks_like_class { segment.rsplit('.').next().unwrap_or(segment) } else { segment }
        })
        .collect::<Vec<_>>()
        .join(": ")
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let cut = text.chars().take(max_chars).collect::<String>();
        format!("{cut}…")
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::redact_addresses;
    use crate::flink::{FlinkClient, RestFlinkClient, RestFlinkClientConfig};

    #[test]
    fn addresses_leave_error_text_and_storage_locations_stay() {
        let cases = [
            (
                "could not send message to akka.tcp://flink@10.1.2.3:6123/user/rpc/dispatcher_1 (timeout)",
                "could not send message to <address> (timeout)",
            ),
            ("Connection refused: taskmanager-2.flink.svc:6122", "Connection refused: <address>"),
            ("peer 10.0.0.5 closed; see http://jobmanager:8081/jobs.", "peer <address> closed; see <address>."),
            ("rpc at pekko://flink@[fd00::5]:6123/user", "rpc at <address>"),
            ("'flink@jm.internal:6123/user/rpc'", "'<address>'"),
            (
                "savepoint s3://bucket/sp/savepoint-1 and file:///tmp/sp-2 at 12:30:45, vertex map:",
                "savepoint s3://bucket/sp/savepoint-1 and file:///tmp/sp-2 at 12:30:45, vertex map:",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(redact_addresses(text), expected, "{text}");
        }
    }

    /// Nobody listens on a port that was free a moment ago.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    }

    #[tokio::test]
    async fn an_unreachable_cluster_is_unavailable_without_its_url_in_the_text() {
        let port = closed_port();
        let client = RestFlinkClient::new(RestFlinkClientConfig::new(format!("http://127.0.0.1:{port}/flink-jm")))
            .expect("client");
        let text = client.cluster_overview().await.expect_err("nobody listens").to_string();
        assert!(text.starts_with("flink is unavailable"), "{text}");
        for leaked in ["127.0.0.1", &format!(":{port}"), "http://", "flink-jm"] {
            assert!(!text.contains(leaked), "{leaked:?} in {text:?}");
        }
    }

    #[tokio::test]
    async fn an_unresolvable_host_name_stays_out_of_the_text() {
        let mut config = RestFlinkClientConfig::new("https://jobmanager-7.flink.invalid:8081");
        config.connect_timeout = Duration::from_secs(2);
        config.request_timeout = Duration::from_secs(3);
        let client = RestFlinkClient::new(config).expect("client");
        let text = client.list_jobs().await.expect_err("no such host").to_string();
        assert!(text.starts_with("flink is unavailable"), "{text}");
        assert!(!text.contains("jobmanager-7") && !text.contains("8081"), "{text}");
    }
}
