//! A table of rescale requests, newest first, each linking to its page.

use leptos::prelude::*;
use rescaler_shared::operation::Operation;

use crate::components::phase_badge::PhaseBadge;
use crate::format::{self, now_ms, short_id};

/// Requests with their job, target, strategy, phase, requester and approvals.
#[component]
pub fn OperationsTable(
    /// The requests to list.
    operations: Vec<Operation>,
    /// Shown when there is none.
    #[prop(into)]
    empty: String,
) -> impl IntoView {
    if operations.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let now = now_ms();
    let rows = operations
        .into_iter()
        .map(|operation| {
            let href = rescaler_shared::console_path::request(&operation.id);
            let job_label = if operation.job_name.is_empty() { short_id(&operation.job_id).to_owned() } else { operation.job_name.clone() };
            view! {
                <tr>
                    <td>
                        <a href=href data-operation-id=operation.id.clone()>{format!("#{}", short_id(&operation.id))}</a>
                    </td>
                    <td title=format::time(operation.created_at_ms)>{format::ago(operation.created_at_ms, now)}</td>
                    <td>
                        <span class="cell-main">{job_label}</span>
                        <span class="cell-sub mono">{format!("{} · {}", operation.cluster_id, short_id(&operation.job_id))}</span>
                    </td>
                    <td>{operation.target.describe()}</td>
                    <td>{format::operation_strategy(&operation)}</td>
                    <td><PhaseBadge phase=operation.phase.name()/></td>
                    <td>{operation.requested_by.clone()}</td>
                    <td class="num">{format!("{} / {}", operation.approvals.len(), operation.required_approvals)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Request"</th>
                        <th scope="col">"Requested"</th>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Strategy"</th>
                        <th scope="col">"Phase"</th>
                        <th scope="col">"By"</th>
                        <th scope="col" class="num">"Approvals"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
