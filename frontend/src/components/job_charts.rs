//! Throughput and busy-time charts of a job's vertices over the last minutes.

use leptos::prelude::*;

use crate::components::error_notice::ErrorNotice;
use crate::components::line_chart::{LineChart, Series};
use crate::format::{load_percent, now_ms, rate};
use crate::metrics::{MetricsFeed, SAMPLE_EVERY, WINDOW_MS};
use crate::session::use_session;

/// Records in per second, and busy / back-pressured time, per vertex.
#[component]
pub fn JobCharts(
    /// The samples to draw.
    feed: MetricsFeed,
    /// The job's vertices: id and name, in graph order.
    vertices: Vec<(String, String)>,
) -> impl IntoView {
    let session = use_session();
    let series_of =
        move |pick: fn(&rescaler_shared::api::VertexLoad) -> Option<f64>, scale: f64, dashed: bool, suffix: &str| {
            let suffix = suffix.to_owned();
            let vertices = vertices.clone();
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
        };
    let series_of = StoredValue::new(series_of);
    view! {
        <section class="panel" aria-labelledby="charts-title">
            <h2 id="charts-title">"Load over the last minutes"</h2>
            {move || {
                if !session.metrics_supported.get() {
                    return view! {
                        <p class="empty">"This backend does not report vertex metrics, so there is nothing to chart."</p>
                    }.into_any();
                }
                let failure = feed.failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Sampling metrics"/> });
                let sample_count = feed.samples.with(Vec::len);
                if sample_count == 0 {
                    return view! { {failure} <p class="loading">"Sampling…"</p> }.into_any();
                }
                let now = now_ms();
                let throughput = series_of.with_value(|series_of| series_of(|load| load.num_records_in_per_second, 1.0, false, ""));
                let mut busy = series_of.with_value(|series_of| series_of(|load| load.busy_time_ms_per_second, 0.1, false, " busy"));
                busy.extend(series_of.with_value(|series_of| series_of(|load| load.backpressured_time_ms_per_second, 0.1, true, " back-pressured")));
                view! {
                    {failure}
                    <div class="charts">
                        <LineChart title="Records in per second" series=throughput format_value=|value| rate(Some(value)) now_ms=now window_ms=WINDOW_MS/>
                        <LineChart title="Busy and back-pressured time (% of each second)" series=busy y_max=100.0 format_value=|value| load_percent(Some(value * 10.0)) now_ms=now window_ms=WINDOW_MS/>
                    </div>
                    <p class="muted small">{format!(
                        "{sample_count} sample{}, one every {} s; kept in this page only.",
                        if sample_count == 1 { "" } else { "s" },
                        SAMPLE_EVERY.as_secs()
                    )}</p>
                }.into_any()
            }}
        </section>
    }
}
