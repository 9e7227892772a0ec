//! A request's phase as a coloured label.

use leptos::prelude::*;
use rescaler_shared::phase::PhaseName;

use crate::format::{phase_label, phase_tone};

/// The phase name in a pill; `data-phase` carries the API's name for tests and styles.
#[component]
pub fn PhaseBadge(
    /// The phase to show.
    phase: PhaseName,
) -> impl IntoView {
    view! {
        <span class=format!("pill tone-{}", phase_tone(phase)) data-phase=phase.as_str()>{phase_label(phase)}</span>
    }
}
