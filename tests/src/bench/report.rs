//! Figures: medians and percentiles, durations in milliseconds, the printed table and the
//! machine the figures were measured on.

use std::time::Duration;

use serde::Serialize;

/// Milliseconds, with microsecond precision.
pub fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// Rounds to a tenth, for printed and stored figures.
pub fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        f64::midpoint(sorted[middle - 1], sorted[middle])
    } else {
        sorted[middle]
    })
}

/// The `p`-th percentile (nearest rank) of `values`; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Smallest, median and largest of some samples.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Self> {
        let median = median(values)?;
        Some(Self {
            n: values.len(),
            min: round1(values.iter().copied().fold(f64::INFINITY, f64::min)),
            median: round1(median),
            max: round1(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        })
    }
}

/// One line of the printed table.
pub struct Row {
    pub part: String,
    pub figure: String,
    pub value: String,
    pub target: String,
}

impl Row {
    pub fn new(part: &str, figure: &str, value: impl Into<String>, target: &str) -> Self {
        Self { part: part.to_owned(), figure: figure.to_owned(), value: value.into(), target: target.to_owned() }
    }
}

/// The table of every row, aligned.
pub fn table(rows: &[Row]) -> String {
    let headers = ["part", "figure", "value", "target"];
    let cells: Vec<[&str; 4]> = rows
        .iter()
        .map(|row| [row.part.as_str(), row.figure.as_str(), row.value.as_str(), row.target.as_str()])
        .collect();
    let mut widths = headers.map(str::len);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |line: [&str; 4]| {
        let mut text = String::new();
        for (index, (cell, width)) in line.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            text.push_str(cell);
            if index + 1 < line.len() {
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = render(headers);
    out.push('\n');
    out.push_str(&widths.iter().map(|width| "-".repeat(*width)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for line in cells {
        out.push_str(&render(line));
        out.push('\n');
    }
    out
}

/// Formats milliseconds for the table.
pub fn show_ms(value: f64) -> String {
    if value >= 10_000.0 { format!("{:.1} s", value / 1000.0) } else { format!("{value:.0} ms") }
}

/// Formats a byte count for the table.
pub fn show_bytes(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// The machine and the moment.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub date_utc: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_total: String,
    pub kernel: String,
    /// 1, 5 and 15 minute load averages when the bench started: other work on the machine.
    pub load_average_at_start: String,
    /// The cargo profile the bench binary (and so the in-process backend) was built with.
    pub profile: &'static str,
    pub flink_version: String,
}

impl Machine {
    pub fn now() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, v)| v.trim())
            })
            .unwrap_or("unknown")
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_total = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "unknown".to_owned());
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load_average_at_start = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
        Self {
            date_utc: command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
            cpus: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            cpu_model,
            memory_total,
            kernel,
            load_average_at_start,
            profile: if cfg!(debug_assertions) { "dev" } else { "release" },
            flink_version: harness::paths::default_flink_version(),
        }
    }
}

/// A command's trimmed standard output, or an empty string.
pub fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{median, percentile};

    #[test]
    fn median_and_percentiles_of_small_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), Some(50.0));
        assert_eq!(percentile(&hundred, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }
}
