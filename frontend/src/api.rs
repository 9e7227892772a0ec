//! Typed calls to the backend's HTTP API (`/api/v1`, Bearer token); errors decode the API's
//! JSON envelope and say whether the server was reached at all.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use gloo_net::http::{Method, Request, RequestBuilder, Response};
use rescaler_shared::api::{
    Artifact, AuditEvent, BeginUpload, BreakGlassBody, ClusterSummary, CommentBody, CompleteUpload, CreateRescale,
    ErrorEnvelope, Health, JobDetailResponse, JobListEntry, JobLoadHistory, JobRecommendation, Me, PreflightResponse,
    SavepointRecord, SignInSettings, UploadPlan, VertexLoad,
};
use rescaler_shared::api_page::{AwaitingCount, NEXT_CURSOR_HEADER, Page};
use rescaler_shared::flink_rescales::FlinkRescaleAccount;
use rescaler_shared::notify::Delivery;
use rescaler_shared::operation::Operation;
use rescaler_shared::phase::PhaseName;
use rescaler_shared::recurring::{CreateSchedule, RecurringSchedule};
use rescaler_shared::user_action::{ScheduleAction, UserAction};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call failed, as the user needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    /// No answer: the server or the network is down. Nothing is known about the outcome.
    Network { detail: String },
    /// The API answered with an error: its envelope's code and message.
    Api { status: u16, code: String, message: String },
    /// The answer could not be read (a proxy page, a version mismatch).
    Undecodable { detail: String },
}

impl ApiFailure {
    /// The API answered with this HTTP status.
    pub fn is_status(&self, expected: u16) -> bool {
        matches!(self, Self::Api { status, .. } if *status == expected)
    }

    /// The backend has no such endpoint (an older backend), as opposed to a missing object.
    pub fn is_missing_endpoint(&self) -> bool {
        matches!(self, Self::Api { status: 404, message, .. } if message.contains("no such API endpoint"))
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network { detail } => write!(formatter, "cannot reach the server: {detail}"),
            Self::Api { message, .. } => formatter.write_str(message),
            Self::Undecodable { detail } => write!(formatter, "unexpected answer from the server: {detail}"),
        }
    }
}

/// Filters of the request list (`GET /api/v1/rescales`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RescaleFilter {
    pub phase: Option<PhaseName>,
    pub cluster: Option<String>,
    pub job: Option<String>,
    /// A deployment: its requests under every Flink job id it has had.
    pub deployment: Option<String>,
    pub mine: bool,
    pub awaiting_me: bool,
}

impl RescaleFilter {
    fn query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(phase) = self.phase {
            pairs.push(format!("phase={}", phase.as_str()));
        }
        if let Some(cluster) = &self.cluster {
            pairs.push(format!("cluster={}", encode(cluster)));
        }
        if let Some(job) = &self.job {
            pairs.push(format!("job={}", encode(job)));
        }
        if let Some(deployment) = &self.deployment {
            pairs.push(format!("deployment={}", encode(deployment)));
        }
        if self.mine {
            pairs.push("mine=true".to_owned());
        }
        if self.awaiting_me {
            pairs.push("awaiting_me=true".to_owned());
        }
        if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
    }
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    String::from(web_sys::js_sys::encode_uri_component(text))
}

/// What every call returns: a boxed future, so that the transport is compiled once rather than
/// once per endpoint and caller (it keeps the wasm small).
pub type ApiFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiFailure>>>>;

/// Told the token the server refused with a 401.
type OnRefusedToken = Rc<dyn Fn(&str)>;

/// The API as one user sees it: a token (the session's, or one being tried at sign-in) and what
/// to do when the server refuses it.
#[derive(Clone)]
pub struct Client {
    token: Option<String>,
    on_refused_token: Option<OnRefusedToken>,
}

impl Client {
    /// Calls with `token` (none: unauthenticated); a refused token only fails the call.
    pub fn new(token: Option<String>) -> Self {
        Self { token, on_refused_token: None }
    }

    /// Also calls `on_refused_token` with the token when the server answers 401 to it.
    pub fn on_refused_token(self, on_refused_token: impl Fn(&str) + 'static) -> Self {
        Self { on_refused_token: Some(Rc::new(on_refused_token)), ..self }
    }

    /// Sends a request and answers the body of a successful response, with the cursor of the
    /// next page when it is one of a paged listing. Not generic on purpose.
    async fn send(
        self,
        method: Method,
        path: String,
        body: Option<String>,
    ) -> Result<(String, Option<String>), ApiFailure> {
        let url = format!("/api/v1{path}");
        let mut builder = RequestBuilder::new(&url).method(method);
        if let Some(token) = &self.token {
            builder = builder.header("Authorization", &format!("Bearer {token}"));
        }
        let request = match body {
            Some(json) => builder.header("Content-Type", "application/json").body(json),
            None => builder.build(),
        }
        .map_err(network)?;
        let response = request.send().await.map_err(network)?;
        if !response.ok() {
            let failure = failure_of(response).await;
            if failure.is_status(401)
                && let (Some(token), Some(on_refused_token)) = (&self.token, &self.on_refused_token)
            {
                on_refused_token(token);
            }
            return Err(failure);
        }
        let next = response.headers().get(NEXT_CURSOR_HEADER);
        Ok((response.text().await.map_err(network)?, next))
    }

    fn call<T: DeserializeOwned + 'static>(self, method: Method, path: String, body: Option<String>) -> ApiFuture<T> {
        let answer = Box::pin(self.send(method, path, body));
        Box::pin(async move { decode(&answer.await?.0) })
    }

    /// A page of a paged listing: the items and the cursor of the next page.
    fn get_page<T: DeserializeOwned + 'static>(self, path: String) -> ApiFuture<Page<T>> {
        let answer = Box::pin(self.send(Method::GET, path, None));
        Box::pin(async move {
            let (body, next) = answer.await?;
            Ok(Page { items: decode(&body)?, next })
        })
    }

    fn get<T: DeserializeOwned + 'static>(self, path: String) -> ApiFuture<T> {
        self.call(Method::GET, path, None)
    }

    fn post<T: DeserializeOwned + 'static>(self, path: String, body: &impl Serialize) -> ApiFuture<T> {
        match serde_json::to_string(body) {
            Ok(json) => self.call(Method::POST, path, Some(json)),
            Err(error) => Box::pin(std::future::ready(Err(ApiFailure::Undecodable { detail: error.to_string() }))),
        }
    }

    /// `GET /api/v1/auth/config`: how to sign in (no token needed).
    pub fn sign_in_settings(self) -> ApiFuture<SignInSettings> {
        self.get("/auth/config".to_owned())
    }

    /// `GET /api/v1/me`.
    pub fn me(self) -> ApiFuture<Me> {
        self.get("/me".to_owned())
    }

    /// `GET /api/v1/clusters`.
    pub fn clusters(self) -> ApiFuture<Vec<ClusterSummary>> {
        self.get("/clusters".to_owned())
    }

    /// `GET /api/v1/clusters/{cluster}/jobs`.
    pub fn jobs(self, cluster_id: &str) -> ApiFuture<Vec<JobListEntry>> {
        self.get(format!("/clusters/{}/jobs", encode(cluster_id)))
    }

    /// `GET /api/v1/clusters/{cluster}/jobs/{job}`.
    pub fn job(self, cluster_id: &str, job_id: &str) -> ApiFuture<JobDetailResponse> {
        self.get(format!("/clusters/{}/jobs/{}", encode(cluster_id), encode(job_id)))
    }

    /// `GET /api/v1/clusters/{cluster}/jobs/{job}/savepoints`.
    pub fn savepoints(self, cluster_id: &str, job_id: &str) -> ApiFuture<Vec<SavepointRecord>> {
        self.get(format!("/clusters/{}/jobs/{}/savepoints", encode(cluster_id), encode(job_id)))
    }

    /// `GET /api/v1/clusters/{cluster}/jobs/{job}/metrics`: per-vertex load now. An older
    /// backend lacks it; see [`ApiFailure::is_missing_endpoint`].
    pub fn metrics(self, cluster_id: &str, job_id: &str) -> ApiFuture<Vec<VertexLoad>> {
        self.get(format!("/clusters/{}/jobs/{}/metrics", encode(cluster_id), encode(job_id)))
    }

    /// `GET /api/v1/clusters/{cluster}/jobs/{job}/history`: the load the backend stored, oldest
    /// first, with the rescales within it. An older backend lacks it.
    pub fn history(self, cluster_id: &str, job_id: &str) -> ApiFuture<JobLoadHistory> {
        self.get(format!("/clusters/{}/jobs/{}/history", encode(cluster_id), encode(job_id)))
    }

    /// `GET /api/v1/clusters/{cluster}/jobs/{job}/recommendation`: the recommended parallelism
    /// of each vertex, or why there is none. An older backend lacks it.
    pub fn recommendation(self, cluster_id: &str, job_id: &str) -> ApiFuture<JobRecommendation> {
        self.get(format!("/clusters/{}/jobs/{}/recommendation", encode(cluster_id), encode(job_id)))
    }

    /// `POST /api/v1/artifacts/uploads`: where to put each part of a jar.
    pub fn begin_upload(self, request: &BeginUpload) -> ApiFuture<UploadPlan> {
        self.post("/artifacts/uploads".to_owned(), request)
    }

    /// `POST /api/v1/artifacts/uploads/{id}/complete`: the artifact the parts make.
    pub fn complete_upload(self, upload_id: &str, request: &CompleteUpload) -> ApiFuture<Artifact> {
        self.post(format!("/artifacts/uploads/{}/complete", encode(upload_id)), request)
    }

    /// `GET /api/v1/artifacts`: the stored jars, with their file names.
    pub fn artifacts(self) -> ApiFuture<Vec<Artifact>> {
        self.get("/artifacts".to_owned())
    }

    /// `POST /api/v1/preflight`.
    pub fn preflight(self, request: &CreateRescale) -> ApiFuture<PreflightResponse> {
        self.post("/preflight".to_owned(), request)
    }

    /// `POST /api/v1/rescales`.
    pub fn create_rescale(self, request: &CreateRescale) -> ApiFuture<Operation> {
        self.post("/rescales".to_owned(), request)
    }

    /// `GET /api/v1/rescales`, newest first.
    pub fn rescales(self, filter: &RescaleFilter) -> ApiFuture<Vec<Operation>> {
        let answer = self.get::<Vec<Operation>>(format!("/rescales{}", filter.query()));
        Box::pin(async move { Ok(newest_first(answer.await?, |operation| operation.created_at_ms)) })
    }

    /// `GET /api/v1/rescales` from `cursor` (the first page without one), newest first.
    pub fn rescales_page(self, filter: &RescaleFilter, cursor: Option<&str>) -> ApiFuture<Page<Operation>> {
        let query = filter.query();
        let path = match cursor {
            Some(cursor) => {
                format!("/rescales{}{}cursor={}", query, if query.is_empty() { "?" } else { "&" }, encode(cursor))
            }
            None => format!("/rescales{query}"),
        };
        self.get_page(path)
    }

    /// `GET /api/v1/rescales/awaiting-me/count`: what the inbox badge shows.
    pub fn awaiting_me_count(self) -> ApiFuture<AwaitingCount> {
        self.get("/rescales/awaiting-me/count".to_owned())
    }

    /// `GET /api/v1/rescales/{id}`.
    pub fn rescale(self, id: &str) -> ApiFuture<Operation> {
        self.get(format!("/rescales/{}", encode(id)))
    }

    /// `GET /api/v1/rescales/{id}/flink-rescales`: what Flink recorded of an in-place request. An
    /// older backend lacks it; see [`ApiFailure::is_missing_endpoint`].
    pub fn flink_rescales(self, id: &str) -> ApiFuture<FlinkRescaleAccount> {
        self.get(format!("/rescales/{}/flink-rescales", encode(id)))
    }

    /// `GET /api/v1/rescales/{id}/deliveries`: the request's notification delivery log.
    pub fn deliveries(self, id: &str) -> ApiFuture<Vec<Delivery>> {
        self.get(format!("/rescales/{}/deliveries", encode(id)))
    }

    /// `POST /api/v1/rescales/{id}/approve|reject|cancel|break-glass`; `text` is the comment, or
    /// the reason of a break-glass.
    pub fn act(self, id: &str, action: UserAction, text: String) -> ApiFuture<Operation> {
        let path = format!("/rescales/{}/{}", encode(id), action_segment(action));
        match action {
            UserAction::BreakGlass => self.post(path, &BreakGlassBody { reason: text }),
            UserAction::Approve | UserAction::Reject | UserAction::Cancel => {
                self.post(path, &CommentBody { comment: text })
            }
        }
    }

    /// `GET /api/v1/schedules`, newest first.
    pub fn schedules(self) -> ApiFuture<Vec<RecurringSchedule>> {
        self.get("/schedules".to_owned())
    }

    /// `GET /api/v1/schedules?awaiting_me=true`: the schedules the user could approve now.
    pub fn schedules_awaiting_me(self) -> ApiFuture<Vec<RecurringSchedule>> {
        self.get("/schedules?awaiting_me=true".to_owned())
    }

    /// `GET /api/v1/schedules/{id}`.
    pub fn schedule(self, id: &str) -> ApiFuture<RecurringSchedule> {
        self.get(format!("/schedules/{}", encode(id)))
    }

    /// `POST /api/v1/schedules`.
    pub fn create_schedule(self, request: &CreateSchedule) -> ApiFuture<RecurringSchedule> {
        self.post("/schedules".to_owned(), request)
    }

    /// `POST /api/v1/schedules/{id}/approve|reject|cancel` with a comment.
    pub fn act_on_schedule(self, id: &str, action: ScheduleAction, comment: String) -> ApiFuture<RecurringSchedule> {
        let segment = match action {
            ScheduleAction::Approve => "approve",
            ScheduleAction::Reject => "reject",
            ScheduleAction::Cancel => "cancel",
            ScheduleAction::Request => {
                let detail = "requesting is create_schedule, not an action".to_owned();
                return Box::pin(std::future::ready(Err(ApiFailure::Undecodable { detail })));
            }
        };
        self.post(format!("/schedules/{}/{segment}", encode(id)), &CommentBody { comment })
    }

    /// `GET /api/v1/audit?limit=N` from `cursor` (the newest without one), newest first.
    pub fn audit_page(self, limit: usize, cursor: Option<&str>) -> ApiFuture<Page<AuditEvent>> {
        let cursor = cursor.map(|cursor| format!("&cursor={}", encode(cursor))).unwrap_or_default();
        self.get_page(format!("/audit?limit={limit}{cursor}"))
    }
}

/// `items` by descending time. Sorts (time, index) pairs, so that one sort is compiled for every
/// item type.
pub fn newest_first<T>(items: Vec<T>, at_ms: impl Fn(&T) -> u64) -> Vec<T> {
    let mut order: Vec<(u64, usize)> = items.iter().enumerate().map(|(index, item)| (at_ms(item), index)).collect();
    order.sort_unstable_by(|left, right| right.cmp(left));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|(_, index)| slots[index].take()).collect()
}

fn network(error: gloo_net::Error) -> ApiFailure {
    ApiFailure::Network { detail: error.to_string() }
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ApiFailure> {
    serde_json::from_str(text).map_err(|error| ApiFailure::Undecodable { detail: error.to_string() })
}

/// The last segment of an action's path, `/rescales/{id}/<segment>`.
fn action_segment(action: UserAction) -> &'static str {
    match action {
        UserAction::Approve => "approve",
        UserAction::Reject => "reject",
        UserAction::Cancel => "cancel",
        UserAction::BreakGlass => "break-glass",
    }
}

async fn failure_of(response: Response) -> ApiFailure {
    let status = response.status();
    let envelope = match response.text().await {
        Ok(text) => decode::<ErrorEnvelope>(&text),
        Err(error) => Err(network(error)),
    };
    match envelope {
        Ok(envelope) => ApiFailure::Api { status, code: envelope.error.code, message: envelope.error.message },
        Err(_) => ApiFailure::Api {
            status,
            code: "http_status".to_owned(),
            message: format!("the server answered {status} {}", response.status_text()),
        },
    }
}

/// `GET /healthz` (no token).
pub fn health() -> ApiFuture<Health> {
    Box::pin(async {
        let response = Request::get("/healthz").send().await.map_err(network)?;
        if !response.ok() {
            return Err(failure_of(response).await);
        }
        decode(&response.text().await.map_err(network)?)
    })
}
