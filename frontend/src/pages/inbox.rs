//! The approvals inbox: requests the user could approve now.

use leptos::prelude::*;

use crate::api::RescaleFilter;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::format::{self, now_ms, short_id};
use crate::session::use_session;

/// `/inbox`.
#[component]
pub fn InboxPage() -> impl IntoView {
    let session = use_session();
    let operations = Fetch::new(move || {
        session.inbox_version.track();
        session.client().rescales(&RescaleFilter { awaiting_me: true, ..RescaleFilter::default() })
    });
    view! {
        <div class="page-head">
            <h1>"Awaiting your approval"</h1>
            <button type="button" class="button" on:click=move |_| operations.refetch()>"Refresh"</button>
        </div>
        {move || loaded(operations.get(), "the inbox", |operations| {
            if operations.is_empty() {
                return view! { <p class="empty" id="inbox-empty">"Nothing awaits your approval."</p> }.into_any();
            }
            let now = now_ms();
            operations.into_iter().map(|operation| {
                let job = if operation.job_name.is_empty() { short_id(&operation.job_id).to_owned() } else { operation.job_name.clone() };
                view! {
                    <article class="panel inbox-item" data-inbox-operation=operation.id.clone()>
                        <div class="panel-head">
                            <h2>
                                <a href=format!("/rescales/{}", operation.id) data-operation-id=operation.id.clone()>
                                    {format!("Rescale {job} to {}", operation.target.describe())}
                                </a>
                            </h2>
                            <span class="muted small">{format!("expires in {}", format::duration(operation.expires_at_ms.saturating_sub(now)))}</span>
                        </div>
                        <p class="quote">{operation.reason.clone()}</p>
                        <p class="meta">
                            <span>{format!("by {}", operation.requested_by)}</span>
                            <span>{format::ago(operation.created_at_ms, now)}</span>
                            <span>{format!("{} on {}", short_id(&operation.job_id), operation.cluster_id)}</span>
                            <span>{format!("{} strategy", format::operation_strategy(&operation))}</span>
                            <span>{format!("{} of {} approvals", operation.approvals.len(), operation.required_approvals)}</span>
                        </p>
                    </article>
                }
            }).collect_view().into_any()
        })}
    }
}
