//! What a request resubmits the job with — the artifact (sha256 and file name), the entry class
//! and the program arguments — so that approvers see what will run. The arguments read "hidden"
//! for roles that may not link jobs: the API withholds them (the shared rule).

use leptos::prelude::*;
use rescaler_shared::operation::ArtifactRef;

/// The code a request runs, as facts (`compact` false, with element ids) or as one sentence
/// beside the approve button.
#[component]
pub fn CodeToRun(
    /// The artifact the request resubmits, if any.
    artifact: Option<ArtifactRef>,
    /// The artifact's file name, once known.
    #[prop(into)]
    file_name: Signal<Option<String>>,
    /// The user may read program arguments.
    arguments_visible: bool,
    /// One sentence instead of the facts.
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let Some(artifact) = artifact else {
        let none = "No artifact: nothing is resubmitted (the job is rescaled in place).";
        return if compact {
            view! { <p class="hint" id="approval-code">{none}</p> }.into_any()
        } else {
            view! { <p class="muted" id="artifact-none">{none}</p> }.into_any()
        };
    };
    let entry_class = artifact.entry_class.clone().unwrap_or_else(|| "from the jar's manifest".to_owned());
    let arguments = arguments_text(&artifact.args, arguments_visible);
    if compact {
        let sha = artifact.sha256.clone();
        let entry_class = entry_class.clone();
        let sentence = move || {
            let file = file_name.get().unwrap_or_else(|| "artifact".to_owned());
            format!("Approving runs {file} (sha256 {sha}), entry class {entry_class}, arguments: {arguments}.")
        };
        return view! { <p class="hint break" id="approval-code">{sentence}</p> }.into_any();
    }
    let argument_list = match (arguments_visible, artifact.args.is_empty()) {
        (true, false) => {
            let items = artifact
                .args
                .iter()
                .map(|argument| view! { <li><code class="break">{argument.clone()}</code></li> })
                .collect_view();
            view! { <ul class="plan">{items}</ul> }.into_any()
        }
        _ => view! { <span class:muted=!arguments_visible>{arguments}</span> }.into_any(),
    };
    view! {
        <dl class="facts">
            <dt>"Artifact"</dt>
            <dd><code id="artifact-sha256" class="break">{artifact.sha256.clone()}</code></dd>
            <dt>"File"</dt>
            <dd id="artifact-file">{move || file_name.get().unwrap_or_else(|| "…".to_owned())}</dd>
            <dt>"Entry class"</dt>
            <dd id="artifact-entry-class" class="mono">{entry_class}</dd>
            <dt>"Arguments"</dt>
            <dd id="artifact-args">{argument_list}</dd>
        </dl>
    }
    .into_any()
}

/// The arguments in words: "hidden" when the user may not read them.
fn arguments_text(args: &[String], visible: bool) -> String {
    match (visible, args.is_empty()) {
        (false, _) => "hidden".to_owned(),
        (true, true) => "none".to_owned(),
        (true, false) => args.join(" "),
    }
}
