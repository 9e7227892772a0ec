//! Approve, reject, cancel (with a comment) and break-glass: only what the user's role and the
//! request's phase allow.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;

use crate::api::{ApiFailure, UserAction};
use crate::components::error_notice::ErrorNotice;
use crate::session::{Role, Session, use_session};

/// What the signed-in user may do to a request now, and why not when nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub approve: bool,
    pub reject: bool,
    pub cancel: bool,
    pub break_glass: bool,
    /// Shown when no action is allowed.
    pub why_none: String,
}

impl Allowed {
    pub fn of(operation: &Operation, session: Session, now_ms: u64) -> Self {
        let user = session.user_name().unwrap_or_default();
        let cluster = operation.cluster_id.as_str();
        let phase = operation.phase.name();
        let awaiting = phase == PhaseName::AwaitingApproval;
        let open = awaiting && now_ms < operation.expires_at_ms;
        let own = operation.requested_by.trim().eq_ignore_ascii_case(user.trim());
        let approved_already =
            operation.approvals.iter().any(|approval| approval.by.trim().eq_ignore_ascii_case(user.trim()));
        let approver = session.can(cluster, Role::Approver);
        let cancel_role = if own { session.can(cluster, Role::Requester) } else { approver };
        let allowed = Self {
            approve: open && approver && !own && !approved_already,
            reject: awaiting && approver,
            cancel: matches!(phase, PhaseName::AwaitingApproval | PhaseName::Approved) && cancel_role,
            break_glass: open && session.can(cluster, Role::Admin) && operation.break_glass.is_none(),
            why_none: String::new(),
        };
        let why_none = if phase.is_terminal() {
            "This request has ended; nothing more can be done to it.".to_owned()
        } else if !awaiting && phase != PhaseName::Approved {
            "The rescale is running; it can no longer be cancelled. The backend rolls back by itself if it fails."
                .to_owned()
        } else if awaiting && !open {
            "The approval window has closed; the request expires at the next check.".to_owned()
        } else if own {
            "You asked for this rescale; someone else must approve it.".to_owned()
        } else if approved_already {
            "You approved this request; it waits for more approvals.".to_owned()
        } else {
            let role = session.role_on(cluster).map_or("no role", Role::as_str);
            format!("Your role on {cluster} ({role}) cannot act on this request.")
        };
        Self { why_none, ..allowed }
    }

    fn any(&self) -> bool {
        self.approve || self.reject || self.cancel || self.break_glass
    }
}

/// The action buttons for one request; after an action, `shown` holds the request as the server
/// left it.
#[component]
pub fn OperationActions(
    /// The request's id.
    operation_id: String,
    /// What the user may do.
    allowed: Allowed,
    /// The request as the page shows it.
    shown: RwSignal<Option<Operation>>,
) -> impl IntoView {
    let session = use_session();
    if !allowed.any() {
        return view! { <p class="empty" id="no-actions">{allowed.why_none}</p> }.into_any();
    }
    let comment = RwSignal::new(String::new());
    let glass_reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failure = RwSignal::new(None::<ApiFailure>);
    let operation_id = StoredValue::new(operation_id);

    let finish = move |result: Result<Operation, ApiFailure>| {
        busy.try_set(false);
        match result {
            Ok(operation) => {
                session.inbox_version.update(|version| *version += 1);
                // The page may be gone by now: then there is nothing to show it on.
                shown.try_set(Some(operation));
            }
            Err(error) => {
                failure.try_set(Some(error));
            }
        }
    };
    let act = move |action: UserAction| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        let id = operation_id.get_value();
        let text = comment.get_untracked().trim().to_owned();
        spawn_local(async move { finish(session.client().act(&id, action, text).await) });
    };
    let break_glass = move |_| {
        let reason = glass_reason.get_untracked().trim().to_owned();
        if busy.get_untracked() || reason.is_empty() {
            return;
        }
        busy.set(true);
        failure.set(None);
        let id = operation_id.get_value();
        spawn_local(async move { finish(session.client().break_glass(&id, reason).await) });
    };

    view! {
        <div class="actions">
            <div class="field">
                <label for="action-comment">"Comment"</label>
                <textarea id="action-comment" class="input" rows="2" maxlength="2000" bind:value=comment
                    placeholder="Optional; recorded with your decision"></textarea>
            </div>
            {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Acting on the request"/> })}
            <div class="form-actions">
                {allowed.approve.then(|| view! {
                    <button type="button" id="approve-button" class="button button-primary" disabled=busy on:click=move |_| act(UserAction::Approve)>"Approve"</button>
                })}
                {allowed.reject.then(|| view! {
                    <button type="button" id="reject-button" class="button button-danger" disabled=busy on:click=move |_| act(UserAction::Reject)>"Reject"</button>
                })}
                {allowed.cancel.then(|| view! {
                    <button type="button" id="cancel-button" class="button" disabled=busy on:click=move |_| act(UserAction::Cancel)>"Cancel request"</button>
                })}
            </div>
            {allowed.break_glass.then(|| view! {
                <details class="break-glass">
                    <summary>"Break glass (admin)"</summary>
                    <p class="hint">"Starts the rescale without the required approvals. Use only in an emergency; it is audited."</p>
                    <div class="field">
                        <label for="break-glass-reason">"Emergency reason (required)"</label>
                        <input id="break-glass-reason" class="input" type="text" maxlength="2000" bind:value=glass_reason/>
                    </div>
                    <button type="button" id="break-glass-button" class="button button-danger"
                        disabled=move || busy.get() || glass_reason.with(|reason| reason.trim().is_empty())
                        on:click=break_glass>"Break glass and start now"</button>
                </details>
            })}
        </div>
    }
    .into_any()
}
