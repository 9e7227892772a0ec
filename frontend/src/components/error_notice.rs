//! An error said plainly: a network failure (the outcome is unknown) or the API's own message.

use leptos::prelude::*;

use crate::api::ApiFailure;

/// A failed call, as an alert.
#[component]
pub fn ErrorNotice(
    /// What failed.
    failure: ApiFailure,
    /// What the user was doing, e.g. "Loading the job".
    #[prop(optional, into)]
    context: Option<String>,
) -> impl IntoView {
    let (kind, title, detail) = match &failure {
        ApiFailure::Network { .. } => (
            "network",
            "Cannot reach the server",
            "Check the connection or the backend. If you were submitting something, reload to see whether it went through.".to_owned(),
        ),
        ApiFailure::Api { status, code, .. } => ("api", "The server refused", format!("HTTP {status} · {code}")),
        ApiFailure::Undecodable { .. } => ("undecodable", "Unexpected answer", "The server's answer could not be read.".to_owned()),
    };
    let message = match &failure {
        ApiFailure::Api { message, .. } => capitalize(message),
        other => capitalize(&other.to_string()),
    };
    view! {
        <div class="notice notice-error" role="alert" data-failure=kind>
            <strong>{context.map(|context| format!("{context}: ")).unwrap_or_default()}{title}</strong>
            <p class="notice-message">{message}</p>
            <p class="notice-detail">{detail}</p>
        </div>
    }
}

/// The API's messages are lowercase sentences without a period; on screen they start a line.
/// The browser capitalises (its Unicode case tables, not a copy of them in the wasm).
pub fn capitalize(message: &str) -> String {
    let mut characters = message.chars();
    match characters.next() {
        Some(first) if first.is_ascii() => first.to_ascii_uppercase().to_string() + characters.as_str(),
        Some(first) => {
            let first = web_sys::js_sys::JsString::from(first).to_upper_case();
            String::from(first) + characters.as_str()
        }
        None => String::new(),
    }
}
