//! The target of a rescale: the same parallelism for every vertex, or one per vertex.

use std::collections::BTreeMap;

use leptos::prelude::*;
use rescaler_shared::operation::Target;
use rescaler_shared::preflight::{Limits, VertexLimit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Uniform,
    PerVertex,
}

/// What the user typed for the target, as signals.
#[derive(Clone, Copy)]
pub struct TargetInputs {
    pub kind: RwSignal<TargetKind>,
    pub uniform: RwSignal<String>,
    /// Each vertex with its input, starting at its current parallelism.
    pub per_vertex: StoredValue<Vec<(VertexLimit, RwSignal<String>)>>,
}

/// The highest parallelism of any vertex now (1 without vertices).
pub fn current_max(limits: &Limits) -> u32 {
    limits.vertices.iter().map(|vertex| vertex.current_parallelism).max().unwrap_or(1)
}

impl TargetInputs {
    /// Uniform, one above the current parallelism when the slots allow it.
    pub fn new(limits: &Limits) -> Self {
        let suggested = current_max(limits).saturating_add(1).min(limits.max_uniform_parallelism.max(1));
        let per_vertex = limits
            .vertices
            .iter()
            .map(|vertex| (vertex.clone(), RwSignal::new(vertex.current_parallelism.to_string())))
            .collect();
        Self {
            kind: RwSignal::new(TargetKind::Uniform),
            uniform: RwSignal::new(suggested.to_string()),
            per_vertex: StoredValue::new(per_vertex),
        }
    }

    /// Fills the inputs with `targets` by vertex id: per vertex, every other vertex at its
    /// current parallelism; or, when only a uniform target is possible, the highest of them.
    pub fn prefill(self, targets: &BTreeMap<String, u32>, uniform_only: bool) {
        if uniform_only {
            if let Some(highest) = targets.values().max() {
                self.uniform.set(highest.to_string());
            }
            self.kind.set(TargetKind::Uniform);
            return;
        }
        self.per_vertex.with_value(|per_vertex| {
            for (vertex, input) in per_vertex {
                let parallelism = targets.get(&vertex.vertex_id).copied().unwrap_or(vertex.current_parallelism);
                input.set(parallelism.to_string());
            }
        });
        self.kind.set(TargetKind::PerVertex);
    }

    /// The target the inputs describe, or why they do not describe one; tracked.
    pub fn target(self) -> Result<Target, String> {
        match self.kind.get() {
            TargetKind::Uniform => {
                let parallelism = self
                    .uniform
                    .with(|text| text.trim().parse::<u32>())
                    .map_err(|_| "Enter the new parallelism, a whole number.".to_owned())?;
                Ok(Target::Uniform { parallelism })
            }
            TargetKind::PerVertex => {
                let mut changed = BTreeMap::new();
                for (vertex, input) in self.per_vertex.get_value() {
                    let parallelism = input
                        .with(|text| text.trim().parse::<u32>())
                        .map_err(|_| format!("Enter a whole number for {}.", vertex.vertex_name))?;
                    if parallelism != vertex.current_parallelism {
                        changed.insert(vertex.vertex_id.clone(), parallelism);
                    }
                }
                if changed.is_empty() {
                    return Err("Change at least one vertex's parallelism.".to_owned());
                }
                Ok(Target::PerVertex { parallelism: changed })
            }
        }
    }
}

/// The target fieldset: the kind, then the uniform input or the per-vertex table.
#[component]
pub fn TargetPicker(
    /// Where the inputs go.
    inputs: TargetInputs,
    /// The job's limits, for the bounds and the hint.
    limits: Limits,
) -> impl IntoView {
    let TargetInputs { kind, uniform, per_vertex } = inputs;
    let vertex_rows = per_vertex
        .get_value()
        .into_iter()
        .enumerate()
        .map(|(index, (vertex, input))| vertex_row(index, vertex, input))
        .collect_view();
    // An MSF application has one parallelism: no per-vertex target, KPUs bound it.
    let hint = match &limits.kpus {
        Some(kpus) => format!(
            "Now {}. At most {} here: {} KPUs at {} per KPU (the application's limit); it uses {} now.",
            current_max(&limits),
            limits.max_uniform_parallelism,
            kpus.limit,
            kpus.parallelism_per_kpu,
            kpus.in_use
        ),
        None => format!(
            "Now {}. At most {} here: {} task slots are usable (free ones plus the job's own).",
            current_max(&limits),
            limits.max_uniform_parallelism,
            limits.slots_usable
        ),
    };
    let segments = limits.kpus.is_none().then(|| {
        view! {
            <div class="segmented" role="radiogroup" aria-label="Target kind">
                {kind_segment(kind, TargetKind::Uniform)}
                {kind_segment(kind, TargetKind::PerVertex)}
            </div>
        }
    });
    view! {
        <fieldset class="field">
            <legend>"Target"</legend>
            {segments}
            <div class="target-uniform" hidden=move || kind.get() != TargetKind::Uniform>
                <label for="uniform-parallelism">"New parallelism"</label>
                <input type="number" id="uniform-parallelism" class="input input-narrow" min="1"
                    max=limits.max_uniform_parallelism bind:value=uniform aria-describedby="uniform-hint"/>
                <p id="uniform-hint" class="hint">{hint}</p>
            </div>
            <div class="target-per-vertex" hidden=move || kind.get() != TargetKind::PerVertex>
                <table class="table table-compact">
                    <thead>
                        <tr>
                            <th scope="col">"Vertex"</th>
                            <th scope="col" class="num">"Now"</th>
                            <th scope="col">"New"</th>
                            <th scope="col" class="num">"At most"</th>
                        </tr>
                    </thead>
                    <tbody>{vertex_rows}</tbody>
                </table>
            </div>
        </fieldset>
    }
}

/// The radio button of one target kind.
fn kind_segment(kind: RwSignal<TargetKind>, this_kind: TargetKind) -> impl IntoView {
    let (id, label) = match this_kind {
        TargetKind::Uniform => ("target-kind-uniform", "Same parallelism for every vertex"),
        TargetKind::PerVertex => ("target-kind-per-vertex", "Per vertex"),
    };
    view! {
        <label class="segment">
            <input type="radio" name="target-kind" id=id
                prop:checked=move || kind.get() == this_kind
                on:change=move |_| kind.set(this_kind)/>
            {label}
        </label>
    }
}

fn vertex_row(index: usize, vertex: VertexLimit, input: RwSignal<String>) -> impl IntoView {
    let id = format!("vertex-parallelism-{index}");
    view! {
        <tr>
            <th scope="row"><label for=id.clone()>{vertex.vertex_name.clone()}</label></th>
            <td class="num">{vertex.current_parallelism}</td>
            <td>
                <input
                    type="number"
                    id=id
                    class="input input-narrow"
                    data-vertex-id=vertex.vertex_id.clone()
                    min="1"
                    max=vertex.max_achievable_parallelism
                    bind:value=input
                />
            </td>
            <td class="num muted">{vertex.max_achievable_parallelism}</td>
        </tr>
    }
}
