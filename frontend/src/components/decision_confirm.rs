//! The explicit confirmation of a decision (approve, reject, break glass): what will run if it
//! goes ahead — the target per vertex and the strategy from a pre-flight run now against the
//! live job, the artifact (sha256, file name), entry class and arguments, and where the
//! savepoint goes — with the pre-flight's result, before the decision is sent.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api::CreateRescale;
use rescaler_shared::operation::Operation;
use rescaler_shared::user_action::UserAction;

use crate::components::code_to_run::CodeToRun;
use crate::components::rescale_form::preflight_result::{Check, PreflightResult};
use crate::session::use_session;

/// The pre-flight request of a stored request: its own target, strategy and autoscaling choice.
fn preflight_request(operation: &Operation) -> CreateRescale {
    CreateRescale {
        cluster_id: operation.cluster_id.clone(),
        job_id: operation.job_id.clone(),
        target: operation.target.clone(),
        strategy: operation.requested_strategy,
        reason: String::new(),
        not_before_ms: None,
        autoscaling: operation.autoscaling,
    }
}

fn wording(action: UserAction) -> (&'static str, &'static str, &'static str) {
    match action {
        UserAction::Approve => {
            ("Approve this rescale?", "If it is the last approval needed, this runs now:", "Approve")
        }
        UserAction::Reject => ("Reject this rescale?", "Rejecting ends the request; nothing below runs:", "Reject"),
        UserAction::BreakGlass => (
            "Break glass and start now?",
            "This runs now, without the approvals still missing:",
            "Break glass and start now",
        ),
        UserAction::Cancel => {
            ("Cancel this request?", "Cancelling ends the request; nothing below runs:", "Cancel request")
        }
    }
}

/// Asks to confirm `action` on `operation`; `confirm` sends it, `back` closes the panel.
#[component]
pub fn DecisionConfirm(
    operation: Operation,
    action: UserAction,
    /// The artifact's file name, once known.
    #[prop(into)]
    file_name: Signal<Option<String>>,
    busy: RwSignal<bool>,
    confirm: Callback<()>,
    back: Callback<()>,
) -> impl IntoView {
    let session = use_session();
    let check = RwSignal::new(Check::Checking);
    let vertex_names = RwSignal::new(BTreeMap::<String, String>::new());
    let request = preflight_request(&operation);
    spawn_local(async move {
        let answer = session.client().preflight(&request).await;
        check.try_set(Check::Answered(answer));
        if let Ok(detail) = session.client().job(&request.cluster_id, &request.job_id).await {
            let names = detail.job.vertices.into_iter().map(|vertex| (vertex.id, vertex.name)).collect();
            vertex_names.try_set(names);
        }
    });
    let (title, lead, button) = wording(action);
    let arguments_visible = session.may_link_jobs(&operation.cluster_id);
    let danger = action != UserAction::Approve;
    view! {
        <section class="panel confirm" id="decision-confirm" role="dialog" aria-modal="false"
            aria-labelledby="decision-confirm-title" data-action=format!("{action:?}").to_ascii_lowercase()>
            <h3 id="decision-confirm-title">{title}</h3>
            <p class="muted">{lead}</p>
            <dl class="facts">
                <dt>"Job"</dt>
                <dd><span class="mono">{operation.job_id.clone()}</span>{format!(" on {}", operation.cluster_id)}</dd>
                <dt>"Requested"</dt>
                <dd>{format!("{} by {}, {} strategy", operation.target.describe(), operation.requested_by, operation.requested_strategy.as_str().replace('_', " "))}</dd>
            </dl>
            <h4>"Pre-flight now"</h4>
            {move || view! { <PreflightResult check=check vertex_names=vertex_names.get()/> }}
            <h4>"Code it runs"</h4>
            <CodeToRun artifact=operation.artifact.clone() file_name=file_name arguments_visible=arguments_visible/>
            <div class="form-actions">
                <button type="button" id="confirm-decision" class="button"
                    class:button-primary=!danger class:button-danger=danger
                    disabled=move || busy.get() || check.with(|check| matches!(check, Check::Checking))
                    on:click=move |_| confirm.run(())>{button}</button>
                <button type="button" id="confirm-back" class="button" disabled=busy on:click=move |_| back.run(())>
                    "Back"
                </button>
            </div>
        </section>
    }
}
