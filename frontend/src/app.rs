//! The application shell: navigation, the signed-in pages behind client-side routes, and the
//! backend status in the footer.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

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
use crate::session::{Session, SignIn};

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    let session = Session::restore();
    provide_context(session);
    let status = Memo::new(move |_| session.status());
    view! {
        <Router>
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
                    SignIn::SignedIn => view! {
                        <Routes fallback=NotFoundPage>
                            <Route path=path!("/") view=ClustersPage/>
                            <Route path=path!("/clusters/:cluster/jobs/:job") view=JobPage/>
                            <Route path=path!("/rescales") view=RequestsPage/>
                            <Route path=path!("/rescales/:id") view=RequestPage/>
                            <Route path=path!("/inbox") view=InboxPage/>
                            <Route path=path!("/schedules") view=SchedulesPage/>
                            <Route path=path!("/schedules/:id") view=SchedulePage/>
                            <Route path=path!("/savepoints") view=SavepointsPage/>
                            <Route path=path!("/artifacts") view=ArtifactsPage/>
                            <Route path=path!("/audit") view=AuditPage/>
                        </Routes>
                    }.into_any(),
                }}
            </main>
            <footer class="footer">
                <BackendStatus/>
            </footer>
        </Router>
    }
}
