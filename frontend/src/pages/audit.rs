//! The audit log: who did what, when, newest first, a page at a time ("Older entries" loads
//! the next).

use leptos::prelude::*;

use crate::components::loaded::loaded;
use crate::components::pager::Pager;
use crate::fetch::Fetch;
use crate::format::{self, short_id};
use crate::session::use_session;

/// `/audit`.
#[component]
pub fn AuditPage() -> impl IntoView {
    let session = use_session();
    let limit = RwSignal::new("50".to_owned());
    let search = RwSignal::new(String::new());
    let page_size = move || limit.with(|limit| limit.parse::<usize>().unwrap_or(50));
    let pager = Pager::new();
    let events = Fetch::new(move || {
        pager.reset();
        session.client().audit_page(page_size(), None)
    });
    let load_older = move || pager.load_older(|cursor| session.client().audit_page(untrack(page_size), Some(cursor)));
    view! {
        <div class="page-head">
            <h1>"Audit log"</h1>
            <button type="button" class="button" on:click=move |_| events.refetch()>"Refresh"</button>
        </div>
        <div class="filters" role="search" aria-label="Filter the audit log">
            <label for="audit-search">"Contains"</label>
            <input id="audit-search" class="input" type="search" bind:value=search placeholder="user, action, job…"/>
            <label for="audit-limit">"Show"</label>
            <select id="audit-limit" class="input input-auto" bind:value=limit>
                <option value="50">"50 a page"</option>
                <option value="200">"200 a page"</option>
                <option value="1000">"1000 a page"</option>
            </select>
        </div>
        {move || loaded(events.get(), "the audit log", |first| {
            let needle = search.get().trim().to_lowercase();
            let rows = pager.items(first)
                .into_iter()
                .filter(|event| {
                    needle.is_empty()
                        || [&event.actor, &event.action, &event.message].iter().any(|text| text.to_lowercase().contains(&needle))
                        || event.job_id.as_ref().is_some_and(|job| job.contains(&needle))
                        || event.operation_id.as_ref().is_some_and(|id| id.contains(&needle))
                })
                .map(|event| view! {
                    <tr>
                        <td class="nowrap">{format::time(event.at_ms)}</td>
                        <td>{event.actor.clone()}</td>
                        <td><span class="chip chip-text">{event.action.replace('_', " ")}</span></td>
                        <td>{event.message.clone()}</td>
                        <td>{event.operation_id.clone().map(|id| view! { <a href=format!("/rescales/{id}")>{format!("#{}", short_id(&id))}</a> })}</td>
                    </tr>
                })
                .collect::<Vec<_>>();
            if rows.is_empty() {
                return view! { <p class="empty">"No audit entry matches."</p> }.into_any();
            }
            view! {
                <div class="table-wrap">
                    <table class="table" id="audit-table">
                        <thead>
                            <tr>
                                <th scope="col">"When"</th>
                                <th scope="col">"Who"</th>
                                <th scope="col">"Action"</th>
                                <th scope="col">"What"</th>
                                <th scope="col">"Request"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        })}
        {pager.button("older-audit", "Older entries", load_older)}
    }
}
