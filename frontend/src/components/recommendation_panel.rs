//! The job's recommendation: the verdict, each vertex's current and recommended parallelism with
//! the reason, the samples it rests on, and a button that fills the rescale form with it.
//! Refreshed every 30 s (new samples land that often); hidden when the cluster's mode is `off`
//! or the backend has no such endpoint.

use std::time::Duration;

use leptos::prelude::*;
use rescaler_shared::api::JobRecommendation;
use rescaler_shared::recommend::{Recommendation, RecommendationMode, Verdict, VertexRecommendation};

use crate::components::error_notice::ErrorNotice;
use crate::components::rescale_form::Prefill;
use crate::fetch::Fetch;
use crate::format::{duration, now_ms, short_id};
use crate::session::use_session;

/// How often the recommendation is read again.
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// The longest reason the rescale form takes.
const MAX_REASON_CHARS: usize = 2000;

/// The panel; `can_fill` when the rescale form is on the page for this user (may request, the
/// job runs, no request is open).
#[component]
pub fn RecommendationPanel(
    cluster_id: String,
    job_id: String,
    can_fill: bool,
    /// Where the button puts the targets and the reason for the form.
    prefill: RwSignal<Option<Prefill>>,
) -> impl IntoView {
    let session = use_session();
    let answer = Fetch::new(move || session.client().recommendation(&cluster_id, &job_id));
    if let Ok(handle) = set_interval_with_handle(move || answer.refetch(), REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }
    move || match answer.get()? {
        Err(failure) if failure.is_missing_endpoint() => None,
        Err(failure) => Some(
            view! {
                <section class="panel" id="recommendation-panel" aria-labelledby="recommendation-title">
                    <h2 id="recommendation-title">"Recommendation"</h2>
                    <ErrorNotice failure=failure context="Loading the recommendation"/>
                </section>
            }
            .into_any(),
        ),
        Ok(answer) if answer.mode == RecommendationMode::Off => None,
        Ok(answer) => Some(panel(answer, can_fill, prefill).into_any()),
    }
}

fn panel(answer: JobRecommendation, can_fill: bool, prefill: RwSignal<Option<Prefill>>) -> impl IntoView {
    let JobRecommendation { mode, recommendation, reason, samples, from_ms, open_request, .. } = answer;
    let basis = from_ms.filter(|_| samples > 0).map(|from_ms| {
        format!(
            "Based on {samples} sample{} over the last {}.",
            if samples == 1 { "" } else { "s" },
            span(now_ms().saturating_sub(from_ms))
        )
    });
    let files_itself = (mode == RecommendationMode::Request).then_some(
        "On this cluster the backend files a recommended change as a request by itself; a person still approves it.",
    );
    let open = open_request.clone().map(|id| {
        view! {
            <p class="notice notice-info">
                "A request for this job is open: "
                <a href=format!("/rescales/{id}")>{format!("request #{}", short_id(&id))}</a>
                ". No other is filed while it is."
            </p>
        }
    });
    let body = match recommendation {
        None => view! { <p id="recommendation-summary" class="empty">{reason}</p> }.into_any(),
        Some(recommendation) => {
            let button =
                (can_fill && open_request.is_none()).then(|| request_button(&recommendation, prefill)).flatten();
            recommendation_view(recommendation, button).into_any()
        }
    };
    view! {
        <section class="panel" id="recommendation-panel" aria-labelledby="recommendation-title">
            <h2 id="recommendation-title">"Recommendation"</h2>
            {body}
            {open}
            <p class="muted small">{basis}" "{files_itself}</p>
        </section>
    }
}

/// The verdict, the vertices table and the button, if any.
fn recommendation_view(recommendation: Recommendation, button: Option<impl IntoView>) -> impl IntoView {
    let Recommendation { verdict, summary, vertices } = recommendation;
    let rows = vertices.into_iter().map(vertex_row).collect_view();
    view! {
        <p id="recommendation-summary" data-verdict=verdict_code(verdict)>
            <span class=format!("pill tone-{}", verdict_tone(verdict))>{verdict_label(verdict)}</span>
            " "{summary}
        </p>
        <div class="table-wrap">
            <table class="table table-compact" id="recommendation-table">
                <thead>
                    <tr>
                        <th scope="col">"Vertex"</th>
                        <th scope="col" class="num">"Parallelism"</th>
                        <th scope="col">"Why"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {button}
    }
}

fn vertex_row(vertex: VertexRecommendation) -> impl IntoView {
    let parallelism = if vertex.target == vertex.current {
        vertex.current.to_string()
    } else {
        format!("{} → {}", vertex.current, vertex.target)
    };
    view! {
        <tr data-vertex-id=vertex.id data-current=vertex.current data-target=vertex.target>
            <th scope="row">{vertex.name}</th>
            <td class="num strong" class:recommendation-change=vertex.target != vertex.current>{parallelism}</td>
            <td class="recommendation-reason">{vertex.reason}</td>
        </tr>
    }
}

/// "Request this rescale", when the recommendation changes something: it fills the form.
fn request_button(
    recommendation: &Recommendation,
    prefill: RwSignal<Option<Prefill>>,
) -> Option<impl IntoView + use<>> {
    let targets = recommendation.changes();
    if targets.is_empty() {
        return None;
    }
    let filled = Prefill { targets, reason: prefill_reason(recommendation) };
    Some(view! {
        <div class="form-actions">
            <button type="button" id="request-recommended" class="button button-primary"
                on:click=move |_| prefill.set(Some(filled.clone()))>
                "Request this rescale"
            </button>
            <span class="hint">"Fills in the form below; you check it, and an approver decides."</span>
        </div>
    })
}

/// The reason a request from the recommendation starts with: its summary, then why each changed
/// vertex changes, within the form's limit.
pub fn prefill_reason(recommendation: &Recommendation) -> String {
    let mut reason = format!("Recommended: {}.", recommendation.summary.trim_end_matches('.'));
    for vertex in recommendation.vertices.iter().filter(|vertex| vertex.target != vertex.current) {
        reason.push('\n');
        reason.push_str(&vertex.reason);
    }
    match reason.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => reason[..end].to_owned(),
        None => reason,
    }
}

/// A span of time, to the minute past one: `40 s`, `10 min`, `2 h 05 min`.
fn span(ms: u64) -> String {
    if ms < 60_000 {
        format!("{} s", ms / 1000)
    } else if ms < 3_600_000 {
        format!("{} min", ms / 60_000)
    } else {
        duration(ms)
    }
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::NoChange => "No change",
        Verdict::ScaleUp => "Scale up",
        Verdict::ScaleDown => "Scale down",
        Verdict::Rescale => "Rescale",
        Verdict::NotEnoughData => "Not enough data",
        Verdict::HeldBack => "Held back",
    }
}

/// The verdict as the API spells it, for `data-verdict`.
fn verdict_code(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::NoChange => "no_change",
        Verdict::ScaleUp => "scale_up",
        Verdict::ScaleDown => "scale_down",
        Verdict::Rescale => "rescale",
        Verdict::NotEnoughData => "not_enough_data",
        Verdict::HeldBack => "held_back",
    }
}

fn verdict_tone(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::NoChange => "good",
        Verdict::ScaleUp | Verdict::ScaleDown | Verdict::Rescale => "active",
        Verdict::HeldBack => "warn",
        Verdict::NotEnoughData => "neutral",
    }
}
