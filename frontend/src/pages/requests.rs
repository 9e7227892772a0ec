//! Every rescale request the user may see, filtered by phase and by requester, newest first, a
//! page at a time ("Older requests" loads the next).

use leptos::prelude::*;
use rescaler_shared::phase::PhaseName;

use crate::api::RescaleFilter;
use crate::components::loaded::loaded;
use crate::components::operations_table::OperationsTable;
use crate::components::pager::Pager;
use crate::fetch::Fetch;
use crate::format::phase_label;
use crate::session::use_session;

/// `/rescales`.
#[component]
pub fn RequestsPage() -> impl IntoView {
    let session = use_session();
    let phase = RwSignal::new(String::new());
    let mine = RwSignal::new(false);
    let filter = move || RescaleFilter {
        phase: PhaseName::ALL.into_iter().find(|name| phase.with(|phase| phase == name.as_str())),
        mine: mine.get(),
        ..RescaleFilter::default()
    };
    let pager = Pager::new();
    let operations = Fetch::new(move || {
        pager.reset();
        session.client().rescales_page(&filter(), None)
    });
    let load_older = move || pager.load_older(|cursor| session.client().rescales_page(&untrack(filter), Some(cursor)));
    let phase_options = PhaseName::ALL
        .into_iter()
        .map(|name| view! { <option value=name.as_str()>{phase_label(name)}</option> })
        .collect_view();
    view! {
        <div class="page-head">
            <h1>"Rescale requests"</h1>
            <button type="button" class="button" on:click=move |_| operations.refetch()>"Refresh"</button>
        </div>
        <div class="filters" role="search" aria-label="Filter requests">
            <label for="phase-filter">"Phase"</label>
            <select id="phase-filter" class="input input-auto" bind:value=phase>
                <option value="">"Any phase"</option>
                {phase_options}
            </select>
            <label class="check"><input type="checkbox" id="mine-filter" bind:checked=mine/>" Only my requests"</label>
        </div>
        {move || loaded(operations.get(), "requests", |first| view! {
            <OperationsTable operations=pager.items(first) empty="No request matches."/>
        })}
        {pager.button("older-requests", "Older requests", load_older)}
    }
}
