//! Every rescale request the user may see, filtered by phase and by requester.

use leptos::prelude::*;
use rescaler_shared::phase::PhaseName;

use crate::api::RescaleFilter;
use crate::components::loaded::loaded;
use crate::components::operations_table::OperationsTable;
use crate::fetch::Fetch;
use crate::format::phase_label;
use crate::session::use_session;

/// `/rescales`.
#[component]
pub fn RequestsPage() -> impl IntoView {
    let session = use_session();
    let phase = RwSignal::new(String::new());
    let mine = RwSignal::new(false);
    let operations = Fetch::new(move || {
        let filter = RescaleFilter {
            phase: PhaseName::ALL.into_iter().find(|name| phase.with(|phase| phase == name.as_str())),
            mine: mine.get(),
            ..RescaleFilter::default()
        };
        session.client().rescales(&filter)
    });
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
        {move || loaded(operations.get(), "requests", |operations| view! {
            <OperationsTable operations=operations empty="No request matches."/>
        })}
    }
}
