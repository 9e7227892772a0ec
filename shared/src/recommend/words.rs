//! Figures in the words an operator reads: `1.4k rec/s`, `92 %`, `5 min`, `3 subtasks`.

/// A count with a k/M suffix: `950`, `1.4k`, `12k`, `2.5M`.
pub(super) fn count(value: f64) -> String {
    let value = value.max(0.0);
    let (scaled, suffix) = match value {
        v if v >= 1_000_000.0 => (v / 1_000_000.0, "M"),
        v if v >= 1_000.0 => (v / 1_000.0, "k"),
        v => return format!("{v:.0}"),
    };
    if scaled < 10.0 {
        let text = format!("{scaled:.1}");
        format!("{}{suffix}", text.strip_suffix(".0").unwrap_or(&text))
    } else {
        format!("{scaled:.0}{suffix}")
    }
}

/// Records per second: `1.4k rec/s`.
pub(super) fn rate(records_per_s: f64) -> String {
    format!("{} rec/s", count(records_per_s))
}

/// A ratio as a whole percentage: `0.613` → `61 %`.
pub(super) fn percent(ratio: f64) -> String {
    format!("{:.0} %", (ratio * 100.0).max(0.0))
}

/// A duration, rounded: `45 s`, `90 s`, `20 min`, `1 h`.
pub(super) fn duration(ms: u64) -> String {
    let seconds = ms.saturating_add(500) / 1000;
    if seconds < 120 && !seconds.is_multiple_of(60) {
        return format!("{seconds} s");
    }
    let minutes = (seconds + 30) / 60;
    if minutes >= 60 && minutes.is_multiple_of(60) { format!("{} h", minutes / 60) } else { format!("{minutes} min") }
}

/// A number of subtasks: `1 subtask`, `3 subtasks`.
pub(super) fn subtasks(count: u32) -> String {
    if count == 1 { "1 subtask".to_owned() } else { format!("{count} subtasks") }
}
