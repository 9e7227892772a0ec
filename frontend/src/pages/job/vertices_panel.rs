//! The job's vertices: parallelism, status and the latest load of each.

use leptos::prelude::*;
use rescaler_shared::flink::VertexView;
use rescaler_shared::preflight::Limits;

use crate::format::{self, short_id};
use crate::metrics::MetricsFeed;

/// The vertices table, with the slots the job could use.
#[component]
pub fn VerticesPanel(
    /// The job's vertices.
    vertices: Vec<VertexView>,
    /// The job's limits, for the slots line.
    limits: Limits,
    /// The load readings.
    feed: MetricsFeed,
) -> impl IntoView {
    let vertex_rows = vertices.into_iter().map(|vertex| vertex_row(vertex, feed)).collect_view();
    view! {
        <section class="panel" aria-labelledby="vertices-title">
            <h2 id="vertices-title">"Vertices"</h2>
            <div class="table-wrap">
                <table class="table" id="vertices-table">
                    <thead>
                        <tr>
                            <th scope="col">"Vertex"</th>
                            <th scope="col" class="num">"Parallelism"</th>
                            <th scope="col" class="num">"Max"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col" class="num">"Busy"</th>
                            <th scope="col" class="num">"Back-pressure"</th>
                            <th scope="col" class="num">"Records in"</th>
                        </tr>
                    </thead>
                    <tbody>{vertex_rows}</tbody>
                </table>
            </div>
            <p class="muted small">{format!(
                "{} task slots usable for this job; highest uniform parallelism now {}.",
                limits.slots_usable, limits.max_uniform_parallelism
            )}</p>
        </section>
    }
}

fn vertex_row(vertex: VertexView, feed: MetricsFeed) -> impl IntoView {
    let vertex_id = vertex.id.clone();
    let latest = move || feed.latest(&vertex_id);
    let (busy, pressure, records) = (latest.clone(), latest.clone(), latest);
    view! {
        <tr data-vertex-id=vertex.id.clone()>
            <th scope="row">
                {vertex.name.clone()}
                <span class="cell-sub mono">{short_id(&vertex.id).to_owned()}</span>
            </th>
            <td class="num strong" data-vertex-parallelism=vertex.parallelism>{vertex.parallelism}</td>
            <td class="num">{vertex.max_parallelism}</td>
            <td>{vertex.status.label()}</td>
            <td class="num">{move || format::load_percent(busy().and_then(|load| load.busy_time_ms_per_second))}</td>
            <td class="num">{move || format::load_percent(pressure().and_then(|load| load.backpressured_time_ms_per_second))}</td>
            <td class="num">{move || format::rate(records().and_then(|load| load.num_records_in_per_second))}</td>
        </tr>
    }
}
