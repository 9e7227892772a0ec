//! `/artifacts`: the stored jars (sha256, file, size, who uploaded them), and uploading one
//! straight to the store in parts (`crate::upload`), with its progress.

use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::Artifact;
use rescaler_shared::user_action;

use crate::api::ApiFailure;
use crate::components::error_notice::ErrorNotice;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format;
use crate::session::use_session;
use crate::upload::{Progress, upload_jar};

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `/artifacts`.
#[component]
pub fn ArtifactsPage() -> impl IntoView {
    let session = use_session();
    let artifacts = Fetch::new(move || session.client().artifacts());
    let may_upload = move || session.me.with(|me| me.as_ref().is_some_and(user_action::may_upload_artifacts));
    view! {
        <div class="page-head">
            <h1>"Artifacts"</h1>
            <button type="button" class="button" on:click=move |_| artifacts.refetch()>"Refresh"</button>
        </div>
        <p class="muted">"The jars jobs are deployed and resubmitted from, by sha256. A jar goes from this browser straight to the records bucket, in parts."</p>
        <Show when=may_upload>
            <JarUpload on_done=Callback::new(move |()| artifacts.refetch())/>
        </Show>
        {move || loaded(artifacts.get(), "artifacts", artifacts_table)}
    }
}

fn artifacts_table(artifacts: Vec<Artifact>) -> AnyView {
    if artifacts.is_empty() {
        return view! { <p class="empty">"No jar uploaded yet."</p> }.into_any();
    }
    let rows = artifacts
        .into_iter()
        .map(|artifact| {
            let sha256 = artifact.sha256.clone();
            view! {
                <tr data-artifact-sha256=sha256>
                    <td>{artifact.file_name}</td>
                    <td class="mono break">{artifact.sha256}</td>
                    <td>{mebibytes(artifact.size_bytes)}</td>
                    <td>{artifact.uploaded_by}</td>
                    <td>{format::time(artifact.uploaded_at_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table" id="artifacts-table">
                <thead>
                    <tr>
                        <th scope="col">"File"</th>
                        <th scope="col">"sha256"</th>
                        <th scope="col">"Size"</th>
                        <th scope="col">"Uploaded by"</th>
                        <th scope="col">"When"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The upload form: a jar file, then its parts' progress, then the stored artifact.
#[component]
fn JarUpload(on_done: Callback<()>) -> impl IntoView {
    let session = use_session();
    let input = NodeRef::<Input>::new();
    let progress = RwSignal::new(None::<Progress>);
    let failure = RwSignal::new(None::<ApiFailure>);
    let done = RwSignal::new(None::<Artifact>);
    let busy = RwSignal::new(false);
    let start = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(file) = input.get().and_then(|input| input.files()).and_then(|files| files.get(0)) else { return };
        busy.set(true);
        failure.set(None);
        done.set(None);
        spawn_local(async move {
            let result = upload_jar(session.client(), file, move |step| _ = progress.try_set(Some(step))).await;
            busy.try_set(false);
            match result {
                Ok(artifact) => {
                    done.try_set(Some(artifact));
                    on_done.run(());
                }
                Err(error) => _ = failure.try_set(Some(error)),
            }
        });
    };
    let percent = move || progress.get().map_or(0, |p| (p.sent_bytes * 100).checked_div(p.total_bytes).unwrap_or(100));
    view! {
        <form class="panel form" id="jar-upload" on:submit=start>
            <h2>"Upload a jar"</h2>
            <div class="field">
                <label for="jar-file">"Jar file"</label>
                <input id="jar-file" class="input" type="file" accept=".jar" node_ref=input required/>
            </div>
            {move || progress.get().map(|step| view! {
                <p class="hint" id="upload-progress" data-percent=percent>
                    <progress max="100" value=percent></progress>
                    {format!(" {} of {} sent", mebibytes(step.sent_bytes), mebibytes(step.total_bytes))}
                </p>
            })}
            {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Uploading the jar"/> })}
            {move || done.get().map(|artifact| view! {
                <p class="notice notice-info" id="upload-done" role="status">
                    {format!("Stored {} ({}), sha256 ", artifact.file_name, mebibytes(artifact.size_bytes))}
                    <code class="break" id="uploaded-sha256">{artifact.sha256}</code>
                </p>
            })}
            <div class="form-actions">
                <button type="submit" id="upload-button" class="button button-primary" disabled=busy>
                    {move || if busy.get() { "Uploading…" } else { "Upload" }}
                </button>
            </div>
        </form>
    }
}
