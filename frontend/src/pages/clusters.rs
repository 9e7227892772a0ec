//! Clusters and their jobs: state, parallelism per vertex, scheduler, load at a glance.

use leptos::prelude::*;

use crate::components::cluster_card::ClusterCard;
use crate::components::loaded::loaded;
use crate::fetch::Fetch;
use crate::session::use_session;

/// The home page.
#[component]
pub fn ClustersPage() -> impl IntoView {
    let session = use_session();
    let clusters = Fetch::new(move || session.client().clusters());
    view! {
        <div class="page-head">
            <h1>"Clusters and jobs"</h1>
            <button type="button" class="button" on:click=move |_| clusters.refetch()>"Refresh"</button>
        </div>
        {move || loaded(clusters.get(), "clusters", |clusters| {
            if clusters.is_empty() {
                return view! { <p class="empty">"No cluster is configured, or none is visible to you."</p> }.into_any();
            }
            clusters.into_iter().map(|cluster| view! { <ClusterCard cluster=cluster/> }).collect_view().into_any()
        })}
    }
}
