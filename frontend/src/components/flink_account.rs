//! Flink's own account of an in-place request: each rescale Flink 2.3's adaptive scheduler
//! recorded within the request's execution, with its trigger, the scheduler's states and their
//! times, its outcome and each vertex's parallelism before and after; or why there is none.

use leptos::prelude::*;
use rescaler_shared::flink_rescales::{FlinkAccountStatus, FlinkRescale, FlinkRescaleAccount, SchedulerStateSpan};
use rescaler_shared::phase::PhaseName;

use crate::components::error_notice::capitalize;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format;
use crate::session::use_session;

/// The "Flink's account" panel of an in-place request, read again when the request's phase
/// changes (Flink lists a rescale once it has ended).
#[component]
pub fn FlinkAccount(
    /// The request.
    operation_id: String,
    /// Its phase now; a change reads the account again.
    phase: Memo<PhaseName>,
) -> impl IntoView {
    let session = use_session();
    let account = Fetch::new(move || {
        phase.track();
        session.client().flink_rescales(&operation_id)
    });
    view! {
        <section class="panel" aria-labelledby="flink-account-title" id="flink-account">
            <h2 id="flink-account-title">"Flink's account"</h2>
            {move || match account.get() {
                Some(Err(failure)) if failure.is_missing_endpoint() => {
                    view! { <p class="muted">"This backend does not read Flink's rescale history."</p> }.into_any()
                }
                state => loaded(state, "Flink's account", account_view),
            }}
        </section>
    }
}

fn account_view(account: FlinkRescaleAccount) -> AnyView {
    if account.status != FlinkAccountStatus::Recorded {
        let reason = account.reason.unwrap_or_else(|| "Flink has no account of this request".to_owned());
        return view! { <p class="muted" id="flink-account-reason">{format!("{}.", capitalize(&reason))}</p> }
            .into_any();
    }
    if account.rescales.is_empty() {
        return view! {
            <p class="muted" id="flink-account-reason">"Flink has recorded no rescale of this request yet: it lists a rescale once it has ended."</p>
        }
        .into_any();
    }
    let rescales = account.rescales.into_iter().map(rescale_view).collect_view();
    view! { <ol class="timeline" id="flink-rescales">{rescales}</ol> }.into_any()
}

fn rescale_view(rescale: FlinkRescale) -> impl IntoView + use<> {
    let tone = match rescale.outcome.as_deref() {
        Some("COMPLETED") => "tone-good",
        Some("FAILED") => "tone-bad",
        Some(_) => "tone-warn",
        None => "tone-active",
    };
    let took = rescale
        .ended_at_ms
        .map(|ended_at_ms| format!(", took {}", format::duration(ended_at_ms.saturating_sub(rescale.started_at_ms))))
        .unwrap_or_default();
    let vertices = rescale
        .vertices
        .iter()
        .map(|vertex| {
            let before = vertex.before.map_or_else(|| "—".to_owned(), |before| before.to_string());
            let after = vertex.after.map_or_else(|| "—".to_owned(), |after| after.to_string());
            view! { <li class:changed=vertex.before != vertex.after><span title=vertex.id.clone()>{vertex.name.clone()}</span>{format!(": {before} → {after}")}</li> }
        })
        .collect_view();
    let states = rescale.scheduler_states.iter().map(state_view).collect_view();
    view! {
        <li class="event flink-rescale" data-outcome=rescale.outcome.clone().unwrap_or_default()>
            <time class="event-time mono" title=format::time(rescale.started_at_ms)>{format::clock(rescale.started_at_ms)}</time>
            <span class=format!("pill {tone}")>{rescale.outcome_label()}</span>
            <p class="event-message">{format!("Triggered by {}{took}", rescale.trigger_label())}</p>
            {(!rescale.vertices.is_empty()).then(|| view! { <ul class="plan">{vertices}</ul> })}
            {(!rescale.scheduler_states.is_empty()).then(|| view! { <ol class="plan small">{states}</ol> })}
        </li>
    }
}

fn state_view(span: &SchedulerStateSpan) -> impl IntoView + use<> {
    let lasted = span
        .left_at_ms
        .map(|left_at_ms| format!(" ({})", format::duration(left_at_ms.saturating_sub(span.entered_at_ms))))
        .unwrap_or_default();
    let exception =
        span.exception.clone().map(|exception| view! { <span class="notice-detail">{format!(": {exception}")}</span> });
    view! {
        <li>
            <time class="mono" title=format::time(span.entered_at_ms)>{format::clock(span.entered_at_ms)}</time>
            {format!(" {}{lasted}", span.state)}
            {exception}
        </li>
    }
}
