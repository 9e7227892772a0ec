//! A small SVG line chart over a time window ending now, with vertical markers at moments (the
//! job's rescales).

use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;

/// One line: points are (time in ms, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Picks the colour, `series-N` in the stylesheet.
    pub color: usize,
    pub dashed: bool,
    pub points: Vec<(u64, f64)>,
}

/// A moment marked across the plot: a short label drawn at its top, a longer title for its
/// tooltip and accessible name.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at_ms: u64,
    pub label: String,
    pub title: String,
}

/// Lines over `[now - window_ms, now]`, a y axis from 0 to `y_max` (or the data's maximum).
#[component]
pub fn LineChart(
    /// What the chart shows, also its accessible name.
    #[prop(into)]
    title: String,
    /// The figure's id.
    #[prop(into)]
    id: String,
    /// The lines.
    series: Vec<Series>,
    /// The top of the y axis; `None` scales to the data.
    #[prop(optional)]
    y_max: Option<f64>,
    /// Formats a y value for the axis and the legend.
    format_value: fn(f64) -> String,
    /// The right edge of the x axis.
    now_ms: u64,
    /// The width of the x axis.
    window_ms: u64,
    /// Moments to mark; those outside the window are left out.
    #[prop(optional)]
    markers: Vec<Marker>,
) -> impl IntoView {
    let data_max = series.iter().flat_map(|line| line.points.iter().map(|point| point.1)).fold(0.0_f64, f64::max);
    let top = y_max.unwrap_or_else(|| nice_ceiling(data_max));
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let start_ms = now_ms.saturating_sub(window_ms);
    let x = move |at_ms: u64| {
        LEFT + plot_width * (at_ms.saturating_sub(start_ms) as f64 / window_ms.max(1) as f64).min(1.0)
    };
    let y = move |value: f64| TOP + plot_height * (1.0 - (value / top).clamp(0.0, 1.0));
    let grid = [0.0, 0.5, 1.0]
        .into_iter()
        .map(|fraction| {
            let level = y(top * fraction);
            view! {
                <line class="chart-grid" x1=LEFT x2=WIDTH - RIGHT y1=level y2=level></line>
                <text class="chart-axis" x=LEFT - 6.0 y=level + 4.0 text-anchor="end">{format_value(top * fraction)}</text>
            }
        })
        .collect_view();
    let lines = series.iter().map(|line| line_view(line, start_ms, x, y)).collect_view();
    let legend = series.into_iter().map(|line| legend_item(line, format_value)).collect_view();
    let markers: Vec<Marker> = markers.into_iter().filter(|marker| marker.at_ms >= start_ms).collect();
    // The svg is one image to assistive technology: its name carries the markers' titles.
    let label =
        std::iter::once(title.clone()).chain(markers.iter().map(|marker| marker.title.clone())).collect::<Vec<_>>();
    let markers = markers.into_iter().map(|marker| marker_view(x(marker.at_ms), marker)).collect_view();
    view! {
        <figure class="chart" id=id>
            <figcaption>{title}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label.join("; ")>
                {grid}
                <text class="chart-axis" x=LEFT y=HEIGHT - 6.0>{format!("−{}", window_label(window_ms))}</text>
                <text class="chart-axis" x=WIDTH - RIGHT y=HEIGHT - 6.0 text-anchor="end">"now"</text>
                {markers}
                {lines}
            </svg>
            <ul class="legend">{legend}</ul>
        </figure>
    }
}

/// One line's points from `start_ms` on (`x` and `y` place them), with the number drawn and the
/// first one's time as data attributes, and its latest reading as a dot, so that a single sample
/// shows too.
fn line_view<X: Fn(u64) -> f64, Y: Fn(f64) -> f64>(
    line: &Series,
    start_ms: u64,
    x: X,
    y: Y,
) -> impl IntoView + use<X, Y> {
    let shown: Vec<(u64, f64)> = line.points.iter().copied().filter(|point| point.0 >= start_ms).collect();
    let first_ms = shown.first().map(|point| point.0);
    let count = shown.len();
    let points =
        shown.iter().map(|&(at_ms, value)| format!("{:.1},{:.1}", x(at_ms), y(value))).collect::<Vec<_>>().join(" ");
    let last = line.points.last().map(|&(at_ms, value)| (x(at_ms), y(value)));
    let color = line.color % 6;
    view! {
        <polyline class=format!("chart-line series-{color}") class:chart-dashed=line.dashed points=points
            data-series=line.label.clone() data-points=count data-first-ms=first_ms></polyline>
        {last.map(|(cx, cy)| view! { <circle class=format!("chart-dot series-{color}") cx=cx cy=cy r="3"></circle> })}
    }
}

/// A marker's dashed line across the plot at `at` (its x), its label at the top.
fn marker_view(at: f64, marker: Marker) -> impl IntoView {
    view! {
        <g class="chart-marker" data-at-ms=marker.at_ms>
            <title>{marker.title}</title>
            <line x1=at x2=at y1=TOP y2=HEIGHT - BOTTOM></line>
            <text x=at + 3.0 y=TOP + 9.0>{marker.label}</text>
        </g>
    }
}

/// A line's swatch, label and latest value.
fn legend_item(line: Series, format_value: fn(f64) -> String) -> impl IntoView {
    let latest = line.points.last().map(|point| format_value(point.1)).unwrap_or_else(|| "–".to_owned());
    view! {
        <li>
            <span class=format!("swatch series-{}", line.color % 6) class:swatch-dashed=line.dashed aria-hidden="true"></span>
            {line.label}
            <span class="legend-value">{latest}</span>
        </li>
    }
}

/// A window's width, `10 min` or `6 h`.
pub fn window_label(window_ms: u64) -> String {
    let minutes = window_ms / 60_000;
    if minutes >= 60 && minutes.is_multiple_of(60) { format!("{} h", minutes / 60) } else { format!("{minutes} min") }
}

/// 1, 2 or 5 times a power of ten, at or above `value` (at least 1).
fn nice_ceiling(value: f64) -> f64 {
    if !(value.is_finite() && value > 1.0) {
        return 1.0;
    }
    let magnitude = 10_f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(value)
}
