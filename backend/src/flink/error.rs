//! What can go wrong talking to Flink, and how Flink's error answers are read.

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

    /// A transport failure: nothing, or nothing complete, came back.
    pub(super) fn from_transport(what: &str, error: &reqwest::Error) -> Self {
        if error.is_decode() {
            return Self::undecodable(what, error);
        }
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        Self::Unavailable { message: format!("{what}: {kind}: {}", error_chain(error)) }
    }

    /// An error status from Flink, read from its `{"errors": [...]}` body.
    pub(super) fn from_status(what: &str, status: StatusCode, body: &str) -> Self {
        let errors = flink_errors(body);
        let message = summarize_errors(&errors);
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
