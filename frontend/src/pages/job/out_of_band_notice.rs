//! A change made to the job outside the product: Flink's own Web UI, or someone with access to
//! its REST API.

use leptos::prelude::*;
use rescaler_shared::deployment::Deployment;
use rescaler_shared::drift::OutOfBand;

use crate::format;

/// The warning on a job whose deployment changed outside the product.
#[component]
pub fn OutOfBandNotice(
    /// The job's deployment.
    deployment: Deployment,
    /// Its latest change made outside the product.
    out_of_band: OutOfBand,
) -> impl IntoView {
    let approved = deployment.approved.as_ref().filter(|approved| !approved.is_unknown()).map(|approved| {
        let parallelism = approved.parallelism.values().map(u32::to_string).collect::<Vec<_>>().join(", ");
        format!("The product last approved job {} at parallelism {parallelism}.", approved.job_id)
    });
    view! {
        <div class="notice notice-warn" role="alert" id="out-of-band-notice">
            <p><strong>"Changed outside this console"</strong>{format!(" · noticed {}", format::time(out_of_band.at_ms))}</p>
            <p id="out-of-band-message">{out_of_band.message.clone()}</p>
            {approved.map(|approved| view! { <p class="notice-detail">{approved}</p> })}
            <p class="notice-detail">
                "Nobody approved this change. See the "<a href="/audit">"audit log"</a>
                "; a rescale request through this console makes what runs approved again."
            </p>
        </div>
    }
}
