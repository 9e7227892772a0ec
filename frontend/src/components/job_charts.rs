//! Throughput and busy-time charts of a job's vertices: the stored history plus live samples,
//! over a window the user picks, with the rescales marked on the time axis.

use leptos::prelude::*;
use rescaler_shared::api::VertexLoad;
use rescaler_shared::recommend::Rescale;

use crate::components::error_notice::ErrorNotice;
use crate::components::line_chart::{LineChart, Marker, Series, window_label};
use crate::format::{clock, load_percent, now_ms, rate, short_id};
use crate::metrics::{MetricsFeed, SAMPLE_EVERY};

/// The windows offered; until the user picks one, the smallest that shows every sample.
const WINDOWS_MS: [u64; 4] = [10 * 60_000, 60 * 60_000, 6 * 60 * 60_000, 24 * 60 * 60_000];

/// Records in per second, and busy / back-pressured time, per vertex.
#[component]
pub fn JobCharts(
    /// The samples to draw.
    feed: MetricsFeed,
    /// The job's vertices: id and name, in graph order.
    vertices: Vec<(String, String)>,
) -> impl IntoView {
    let session = crate::session::use_session();
    let picked = RwSignal::new(None::<u64>);
    let window_ms = Memo::new(move |_| {
        picked.get().unwrap_or_else(|| fitting_window(feed.samples.with(|samples| samples.first().map(|s| s.at_ms))))
    });
    let vertices = StoredValue::new(vertices);
    let series_of = move |pick: fn(&VertexLoad) -> Option<f64>, scale: f64, dashed: bool, suffix: &str| {
        vertices.with_value(|vertices| {
            feed.samples.with(|samples| {
                vertices
                    .iter()
                    .enumerate()
                    .map(|(index, (vertex_id, name))| Series {
                        label: format!("{name}{suffix}"),
                        color: index,
                        dashed,
                        points: samples
                            .iter()
                            .filter_map(|sample| {
                                let load = sample.loads.iter().find(|load| &load.vertex_id == vertex_id)?;
                                pick(load).filter(|value| value.is_finite()).map(|value| (sample.at_ms, value * scale))
                            })
                            .collect(),
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    view! {
        <section class="panel" aria-labelledby="charts-title">
            <div class="panel-head">
                <h2 id="charts-title">"Load"</h2>
                <div class="segmented" role="radiogroup" aria-label="Time window">
                    {WINDOWS_MS.into_iter().map(|choice| window_segment(window_ms, picked, choice)).collect_view()}
                </div>
            </div>
            {move || {
                if !session.metrics_supported.get() {
                    return view! {
                        <p class="empty">"This backend does not report vertex metrics, so there is nothing to chart."</p>
                    }.into_any();
                }
                let failure = feed.failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Sampling metrics"/> });
                if feed.samples.with(Vec::is_empty) {
                    return view! { {failure} <p class="loading">"Sampling…"</p> }.into_any();
                }
                let (now, window) = (now_ms(), window_ms.get());
                let shown = feed.samples.with(|samples| samples.iter().filter(|sample| sample.at_ms + window >= now).count());
                let markers = vertices.with_value(|vertices| {
                    feed.rescales.with(|rescales| rescales.iter().map(|rescale| marker(rescale, vertices)).collect::<Vec<_>>())
                });
                let throughput = series_of(|load| load.num_records_in_per_second, 1.0, false, "");
                let mut busy = series_of(|load| load.busy_time_ms_per_second, 0.1, false, " busy");
                busy.extend(series_of(|load| load.backpressured_time_ms_per_second, 0.1, true, " back-pressured"));
                view! {
                    {failure}
                    <div class="charts">
                        <LineChart title="Records in per second" id="chart-throughput" series=throughput format_value=|value| rate(Some(value))
                            now_ms=now window_ms=window markers=markers.clone()/>
                        <LineChart title="Busy and back-pressured time (% of each second, busiest subtask)" id="chart-busy" series=busy y_max=100.0
                            format_value=|value| load_percent(Some(value * 10.0)) now_ms=now window_ms=window markers=markers/>
                    </div>
                    <p class="muted small">{source_note(feed.stored_every_ms.get(), shown)}</p>
                }.into_any()
            }}
        </section>
    }
}

/// The radio button of one window.
fn window_segment(shown: Memo<u64>, picked: RwSignal<Option<u64>>, choice: u64) -> impl IntoView {
    view! {
        <label class="segment">
            <input type="radio" name="chart-window" id=format!("chart-window-{}", choice / 60_000)
                prop:checked=move || shown.get() == choice
                on:change=move |_| picked.set(Some(choice))/>
            {window_label(choice)}
        </label>
    }
}

/// The smallest window that reaches back to `oldest_ms` (the longest when none does).
fn fitting_window(oldest_ms: Option<u64>) -> u64 {
    let age_ms = oldest_ms.map_or(0, |oldest_ms| now_ms().saturating_sub(oldest_ms));
    WINDOWS_MS.into_iter().find(|window_ms| *window_ms >= age_ms).unwrap_or(WINDOWS_MS[WINDOWS_MS.len() - 1])
}

/// Where the lines come from: the stored history (when the backend keeps one) and live samples.
fn source_note(stored_every_ms: Option<u64>, shown: usize) -> String {
    let live = format!("live samples every {} s", SAMPLE_EVERY.as_secs());
    let plural = if shown == 1 { "" } else { "s" };
    match stored_every_ms {
        Some(every_ms) => format!(
            "The backend's stored history (a sample every {} s, five-minute points after two hours) plus {live}; \
             {shown} sample{plural} in this window.",
            every_ms / 1000
        ),
        None => {
            format!("The backend has stored no history of this job yet: {live}; {shown} sample{plural} in this window.")
        }
    }
}

/// A rescale's marker: `2→3` (each distinct change, the first two), and the vertices it changed.
fn marker(rescale: &Rescale, vertices: &[(String, String)]) -> Marker {
    let change = |before: u32, after: u32| format!("{before}→{after}");
    let mut pairs: Vec<String> = Vec::new();
    for vertex in rescale.vertices.values() {
        let pair = change(vertex.before, vertex.after);
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    let label = if pairs.len() > 2 { format!("{}, {}, …", pairs[0], pairs[1]) } else { pairs.join(", ") };
    let named = rescale
        .vertices
        .iter()
        .map(|(id, vertex)| {
            let name = vertices.iter().find(|(vertex_id, _)| vertex_id == id).map_or(short_id(id), |(_, name)| name);
            format!("{name} {}", change(vertex.before, vertex.after))
        })
        .collect::<Vec<_>>();
    Marker { at_ms: rescale.at_ms, label, title: format!("Rescaled at {}: {}", clock(rescale.at_ms), named.join(", ")) }
}
