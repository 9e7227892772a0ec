//! The form that proposes a recurring schedule: cluster and job, steps as rows (days, time of
//! day, UTC offset, parallelism, strategy), a reason. The API checks it (steps against the live
//! job) and answers the schedule, awaiting approval.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::operation::{Strategy, Target};
use rescaler_shared::recurring::{CreateSchedule, Step};
use rescaler_shared::schedule::{ClockTime, UtcOffset, Weekday};

use crate::api::ApiFailure;
use crate::components::error_notice::ErrorNotice;
use crate::fetch::Fetch;
use crate::session::use_session;

/// One step row as typed.
#[derive(Clone, Copy)]
struct StepRow {
    days: RwSignal<Vec<Weekday>>,
    at: RwSignal<String>,
    offset: RwSignal<String>,
    parallelism: RwSignal<String>,
    strategy: RwSignal<Strategy>,
}

impl StepRow {
    fn new(at: &str, parallelism: &str) -> Self {
        Self {
            days: RwSignal::new(Weekday::ALL[..5].to_vec()),
            at: RwSignal::new(at.to_owned()),
            offset: RwSignal::new("+00:00".to_owned()),
            parallelism: RwSignal::new(parallelism.to_owned()),
            strategy: RwSignal::new(Strategy::Auto),
        }
    }

    /// The step, or what is wrong with the row.
    fn step(&self, index: usize) -> Result<Step, String> {
        let row = index + 1;
        let at = ClockTime::try_from(self.at.get()).map_err(|error| format!("step {row}: {error}"))?;
        let offset = UtcOffset::try_from(self.offset.get()).map_err(|error| format!("step {row}: {error}"))?;
        let parallelism: u32 =
            self.parallelism.get().trim().parse().map_err(|_| format!("step {row}: give a parallelism"))?;
        Ok(Step {
            days: self.days.get(),
            at,
            utc_offset: Some(offset),
            time_zone: None,
            target: Target::Uniform { parallelism },
            strategy: self.strategy.get(),
        })
    }
}

/// The proposal form; `on_done` closes it.
#[component]
pub fn ScheduleForm(
    /// Called when the user closes the form.
    on_done: Callback<()>,
) -> impl IntoView {
    let session = use_session();
    let router = crate::router::use_router();
    let cluster = RwSignal::new(String::new());
    let job = RwSignal::new(String::new());
    let rows = RwSignal::new(vec![StepRow::new("22:00", "2"), StepRow::new("07:00", "6")]);
    let reason = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<ApiFailure>);
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let steps: Result<Vec<Step>, String> =
            rows.get_untracked().iter().enumerate().map(|(index, row)| row.step(index)).collect();
        let steps = match steps {
            Ok(steps) => steps,
            Err(error) => return problem.set(Some(error)),
        };
        problem.set(None);
        failure.set(None);
        busy.set(true);
        let request = CreateSchedule {
            cluster_id: cluster.get_untracked(),
            job_id: job.get_untracked(),
            steps,
            reason: reason.get_untracked(),
        };
        spawn_local(async move {
            let answer = session.client().create_schedule(&request).await;
            busy.try_set(false);
            match answer {
                Ok(schedule) => router.navigate(&rescaler_shared::console_path::schedule(&schedule.id), false),
                Err(error) => drop(failure.try_set(Some(error))),
            }
        });
    };
    view! {
        <form class="panel" id="schedule-form" on:submit=on_submit>
            <h2>"Propose a schedule"</h2>
            <JobPicker cluster=cluster job=job/>
            <fieldset class="field">
                <legend>"Steps"</legend>
                {move || rows.get().into_iter().enumerate().map(|(index, row)| step_row(index, row, rows)).collect_view()}
                <button type="button" id="add-step" class="button" on:click=move |_| rows.update(|rows| rows.push(StepRow::new("12:00", "2")))>"Add a step"</button>
            </fieldset>
            <div class="field">
                <label for="schedule-reason">"Reason"</label>
                <textarea id="schedule-reason" class="input" rows="2" maxlength="2000" bind:value=reason></textarea>
            </div>
            {move || problem.get().map(|problem| view! { <p class="notice notice-error">{problem}</p> })}
            {move || failure.get().map(|failure| view! { <ErrorNotice failure=failure context="Proposing the schedule"/> })}
            <div class="form-actions">
                <button type="submit" id="submit-schedule" class="button button-primary" disabled=busy>"Propose"</button>
                <button type="button" class="button" on:click=move |_| on_done.run(())>"Close"</button>
            </div>
        </form>
    }
}

/// The cluster and job selects: the caller's clusters, then the current jobs of the one chosen.
#[component]
fn JobPicker(
    /// The chosen cluster id.
    cluster: RwSignal<String>,
    /// The chosen job id.
    job: RwSignal<String>,
) -> impl IntoView {
    let session = use_session();
    let clusters = Fetch::new(move || session.client().clusters());
    let jobs = Fetch::new(move || session.client().jobs(&cluster.get()));
    let cluster_options = move || {
        let clusters = clusters.get().and_then(Result::ok).unwrap_or_default();
        if cluster.with_untracked(String::is_empty)
            && let Some(first) = clusters.first()
        {
            cluster.set(first.id.clone());
        }
        clusters.into_iter().map(|c| view! { <option value=c.id.clone()>{c.name}</option> }).collect_view()
    };
    let job_options = move || {
        let jobs = jobs.get().and_then(Result::ok).unwrap_or_default();
        let jobs: Vec<_> = jobs.into_iter().filter(|job| job.superseded_by.is_none()).collect();
        if !jobs.iter().any(|entry| job.with_untracked(|id| *id == entry.id))
            && let Some(first) = jobs.first()
        {
            job.set(first.id.clone());
        }
        jobs.into_iter()
            .map(|j| view! { <option value=j.id.clone()>{format!("{} ({})", j.name, j.id)}</option> })
            .collect_view()
    };
    view! {
            <div class="field">
                <label for="schedule-cluster">"Cluster"</label>
                <select id="schedule-cluster" class="input" prop:value=cluster on:change=move |ev| cluster.set(event_target_value(&ev))>{cluster_options}</select>
            </div>
            <div class="field">
                <label for="schedule-job">"Job"</label>
                <select id="schedule-job" class="input" prop:value=job on:change=move |ev| job.set(event_target_value(&ev))>{job_options}</select>
            </div>
    }
}

/// One row: the day checkboxes, the time (to the second), the offset, the parallelism, the
/// strategy, and a remove button.
fn step_row(index: usize, row: StepRow, rows: RwSignal<Vec<StepRow>>) -> impl IntoView {
    let days = Weekday::ALL.into_iter().map(move |day| {
        let label = format!("{day:?}");
        let checked = move || row.days.with(|days| days.contains(&day));
        let toggle = move |_| {
            row.days.update(|days| if days.contains(&day) { days.retain(|d| *d != day) } else { days.push(day) })
        };
        view! { <label class="day"><input type="checkbox" prop:checked=checked on:change=toggle/>{label}</label> }
    });
    let strategy_of = |text: String| match text.as_str() {
        "savepoint" => Strategy::Savepoint,
        "in_place" => Strategy::InPlace,
        _ => Strategy::Auto,
    };
    view! {
        <div class="step-row" data-step=index>
            <span class="days">{days.collect_view()}</span>
            <input type="time" step="1" class="input" aria-label="Time of day" bind:value=row.at/>
            <input type="text" class="input input-short" aria-label="UTC offset" bind:value=row.offset/>
            <input type="number" min="1" class="input input-short" aria-label="Parallelism" bind:value=row.parallelism/>
            <select class="input" aria-label="Strategy" on:change=move |ev| row.strategy.set(strategy_of(event_target_value(&ev)))>
                <option value="auto">"auto"</option>
                <option value="savepoint">"savepoint"</option>
                <option value="in_place">"in place"</option>
            </select>
            <button type="button" class="button button-quiet" on:click=move |_| rows.update(|rows| { rows.remove(index); })>"Remove"</button>
        </div>
    }
}
