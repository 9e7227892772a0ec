//! The application shell: navigation, the signed-in pages behind client-side routes, and the
//! backend status in the footer.

use leptos::prelude::*;

use crate::components::backend_status::BackendStatus;
use crate::components::error_notice::ErrorNotice;
use crate::components::nav_bar::NavBar;
use crate::pages::artifacts::ArtifactsPage;
use crate::pages::audit::AuditPage;
use crate::pages::clusters::ClustersPage;
use crate::pages::inbox::InboxPage;
use crate::pages::job::JobPage;
use crate::pages::not_found::NotFoundPage;
use crate::pages::request::RequestPage;
use crate::pages::requests::RequestsPage;
use crate::pages::savepoints::SavepointsPage;
use crate::pages::schedules::SchedulesPage;
use crate::pages::schedules::detail::SchedulePage;
use crate::pages::sign_in::SignInPage;
use crate::router::{Route, Router};
use crate::session::{Session, SignIn};

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    let session = Session::restore();
    provide_context(session);
    let status = Memo::new(move |_| session.status());
    let router = Router::provide();
    let route = Memo::new(move |_| Route::of(&router.path()));
    view! {
        <NavBar/>
        <main id="main" class="page">
            {move || match status.get() {
                SignIn::SignedOut => view! { <SignInPage/> }.into_any(),
                SignIn::Checking => view! { <p class="loading">"Signing in…"</p> }.into_any(),
                SignIn::Unchecked(failure) => view! {
                    <section class="panel">
                        <h1>"Cannot check your sign-in"</h1>
                        <ErrorNotice failure=failure/>
                        <div class="form-actions">
                            <button type="button" class="button button-primary" on:click=move |_| session.check()>"Try again"</button>
                            <button type="button" class="button" on:click=move |_| session.sign_out()>"Sign out"</button>
                        </div>
                    </section>
                }.into_any(),
                SignIn::SignedIn => (move || page(route.get())).into_any(),
            }}
        </main>
        <footer class="footer">
            <BackendStatus/>
        </footer>
    }
}

/// The page of `route`; built again when the route or its parameters change.
fn page(route: Route) -> AnyView {
    match route {
        Route::Clusters => view! { <ClustersPage/> }.into_any(),
        Route::Job { cluster_id, job_id } => view! { <JobPage cluster_id=cluster_id job_id=job_id/> }.into_any(),
        Route::Requests => view! { <RequestsPage/> }.into_any(),
        Route::Request { id } => view! { <RequestPage id=id/> }.into_any(),
        Route::Inbox => view! { <InboxPage/> }.into_any(),
        Route::Schedules => view! { <SchedulesPage/> }.into_any(),
        Route::Schedule { id } => view! { <SchedulePage id=id/> }.into_any(),
        Route::Savepoints => view! { <SavepointsPage/> }.into_any(),
        Route::Artifacts => view! { <ArtifactsPage/> }.into_any(),
        Route::Audit => view! { <AuditPage/> }.into_any(),
        Route::NotFound => view! { <NotFoundPage/> }.into_any(),
    }
}
