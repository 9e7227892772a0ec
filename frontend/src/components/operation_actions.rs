//! Approve, reject, cancel (with a comment) and break-glass: only what the user's role and the
//! request's phase allow. Approve, reject and break glass are confirmed first, with what will
//! run in front of the user (`decision_confirm`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::operation::Operation;
use rescaler_shared::user_action::{Permitted, UserAction};

use crate::api::ApiFailure;
use crate::components::decision_confirm::DecisionConfirm;
use crate::components::error_notice::ErrorNotice;
use crate::session::use_session;

/// The action buttons for one request; after an action, `shown` holds the request as the server
/// left it.
#[component]
pub fn OperationActions(
    /// The request's id.
    operation_id: String,
    /// What the user may do ([`Permitted::of`]).
    permitted: Permitted,
    /// The request as the page shows it.
    shown: RwSignal<Option<Operation>>,
    /// The artifact's file name, once known.
    #[prop(into)]
    file_name: Signal<Option<String>>,
) -> impl IntoView {
    let session = use_session();
    if !permitted.any() {
        return view! { <p class="empty" id="no-actions">{permitted.why_none}</p> }.into_any();
    }
    let comment = RwSignal::new(String::new());
    let glass_reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failure = RwSignal::new(None::<ApiFailure>);
    // The decision waiting for its confirmation.
    let pending = RwSignal::new(None::<UserAction>);
    let operation_id = StoredValue::new(operation_id);

    let act = move |action: UserAction| {
        let text = if action == UserAction::BreakGlass { glass_reason } else { comment };
        let text = text.get_untracked().trim().to_owned();
        // A break-glass needs a reason; a comment is optional.
        if busy.get_untracked() || (action == UserAction::BreakGlass && text.is_empty()) {
            return;
        }
        busy.set(true);
        failure.set(None);
        let id = operation_id.get_value();
        spawn_local(async move {
            let result = session.client().act(&id, action, text).await;
            busy.try_set(false);
            pending.try_set(None);
            match result {
                Ok(operation) => {
                    session.inbox_version.update(|version| *version += 1);
                    // The page may be gone by now: then there is nothing to show it on.
                    shown.try_set(Some(operation));
                }
                Err(error) => _ = failure.try_set(Some(error)),
            }
        });
    };
    let ask = move |action: UserAction| {
        failure.set(None);
        pending.set(Some(action));
    };
    let confirmation = move || {
        let (action, operation) = (pending.get()?, shown.get_untracked()?);
        let confirm = Callback::new(move |()| act(action));
        let back = Callback::new(move |()| pending.set(None));
        Some(view! { <DecisionConfirm operation action file_name busy confirm back/> })
    };

    view! {
        <div class="actions">
            <div class="field">
                <label for="action-comment">"Comment"</label>
                <textarea id="action-comment" class="input" rows="2" maxlength="2000" bind:value=comment
                    placeholder="Optional; recorded with your decision"></textarea>
            </div>
            {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Acting on the request"/> })}
            {buttons(&permitted, busy, pending, ask, act)}
            {permitted.break_glass.then(|| break_glass(busy, glass_reason, ask))}
            {confirmation}
        </div>
    }
    .into_any()
}

/// Break glass (admins): a required reason, then the confirmation like any decision.
fn break_glass(
    busy: RwSignal<bool>,
    glass_reason: RwSignal<String>,
    ask: impl Fn(UserAction) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
                <details class="break-glass">
                    <summary>"Break glass (admin)"</summary>
                    <p class="hint">"Starts the rescale without the required approvals. Use only in an emergency; it is audited."</p>
                    <div class="field">
                        <label for="break-glass-reason">"Emergency reason (required)"</label>
                        <input id="break-glass-reason" class="input" type="text" maxlength="2000" bind:value=glass_reason/>
                    </div>
                    <button type="button" id="break-glass-button" class="button button-danger"
                        disabled=move || busy.get() || glass_reason.with(|reason| reason.trim().is_empty())
                        on:click=move |_| ask(UserAction::BreakGlass)>"Break glass and start now…"</button>
                </details>
    }
}

/// Approve and reject ask for the confirmation first; cancelling the request does not.
fn buttons(
    permitted: &Permitted,
    busy: RwSignal<bool>,
    pending: RwSignal<Option<UserAction>>,
    ask: impl Fn(UserAction) + Copy + Send + Sync + 'static,
    act: impl Fn(UserAction) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
            <div class="form-actions">
                {permitted.approve.then(|| view! {
                    <button type="button" id="approve-button" class="button button-primary" disabled=move || busy.get() || pending.with(Option::is_some) on:click=move |_| ask(UserAction::Approve)>"Approve…"</button>
                })}
                {permitted.reject.then(|| view! {
                    <button type="button" id="reject-button" class="button button-danger" disabled=move || busy.get() || pending.with(Option::is_some) on:click=move |_| ask(UserAction::Reject)>"Reject…"</button>
                })}
                {permitted.cancel.then(|| view! {
                    <button type="button" id="cancel-button" class="button" disabled=busy on:click=move |_| act(UserAction::Cancel)>"Cancel request"</button>
                })}
            </div>
    }
}
