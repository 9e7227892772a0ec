//! An Amazon Managed Service for Apache Flink application's own facts, where a Flink job shows
//! its vertices: status, runtime, parallelism and KPUs, autoscaling, snapshots, what it restores
//! from.

use leptos::prelude::*;
use rescaler_shared::flink::msf::{MsfApplication, MsfRestore, MsfSnapshot};

use crate::format;

/// The MSF panel of the job page.
#[component]
pub fn MsfPanel(
    /// The application as MSF described it.
    application: MsfApplication,
) -> impl IntoView {
    let on_off = |on: bool| if on { "on" } else { "off" };
    let restore = match &application.restore {
        MsfRestore::SkipRestoreFromSnapshot => "no snapshot (state not restored)".to_owned(),
        MsfRestore::RestoreFromLatestSnapshot => "its latest snapshot".to_owned(),
        MsfRestore::RestoreFromCustomSnapshot { snapshot_name } => format!("snapshot {snapshot_name}"),
    };
    let rows = [
        ("MSF status", application.status.label().to_owned()),
        ("Runtime", format!("{} (Flink {})", application.runtime, application.flink_version())),
        ("Application version", application.version_id.to_string()),
        ("Parallelism", format!("{} configured, {} running", application.parallelism, application.current_parallelism)),
        ("Parallelism per KPU", application.parallelism_per_kpu.to_string()),
        (
            "KPUs",
            format!(
                "{} in use of {} (at most parallelism {})",
                application.kpus_in_use(),
                application.kpu_limit,
                application.max_parallelism()
            ),
        ),
        ("Autoscaling", on_off(application.autoscaling).to_owned()),
        ("Snapshots", on_off(application.snapshots_enabled).to_owned()),
        ("System rollback", on_off(application.system_rollback).to_owned()),
        ("Restores from", restore),
    ];
    let rows = rows
        .into_iter()
        .map(|(label, value)| view! { <tr><th scope="row">{label}</th><td>{value}</td></tr> })
        .collect_view();
    let snapshots = latest_snapshots(&application.latest_snapshots);
    view! {
        <section class="panel" aria-labelledby="msf-title" id="msf-panel">
            <h2 id="msf-title">"Managed Service for Apache Flink"</h2>
            <p class="hint mono break">{application.arn.clone()}</p>
            <table class="table table-compact"><tbody>{rows}</tbody></table>
            {snapshots}
        </section>
    }
}

/// The application's newest snapshots, as MSF lists them.
fn latest_snapshots(snapshots: &[MsfSnapshot]) -> AnyView {
    if snapshots.is_empty() {
        return view! { <p class="empty">"MSF lists no snapshot of this application."</p> }.into_any();
    }
    let rows = snapshots
        .iter()
        .map(|snapshot| {
            view! {
                <tr data-snapshot=snapshot.name.clone()>
                    <td class="mono break">{snapshot.name.clone()}</td>
                    <td>{format!("{:?}", snapshot.status).to_ascii_uppercase()}</td>
                    <td class="num">{snapshot.version_id}</td>
                    <td>{snapshot.created_at_ms.map_or_else(|| "–".to_owned(), format::time)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3>"Latest snapshots"</h3>
        <table class="table table-compact" id="msf-snapshots">
            <thead><tr><th scope="col">"Snapshot"</th><th scope="col">"Status"</th><th scope="col" class="num">"Version"</th><th scope="col">"Taken"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
