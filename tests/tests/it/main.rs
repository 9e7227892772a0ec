//! The integration tests: one binary, one module per capability, all on real parts.

/// The HTTP API end to end: request, refused self-approval, approval, execution, audit.
mod api_flow;
/// Schemathesis fuzzes the running backend from its OpenAPI document, on real Flink: no 5xx.
mod api_fuzz;
/// Jars in parts straight to the store (LocalStack presigned URLs, the embedded store's signed URLs), streamed to real Flink.
mod jar_upload;
/// The inbox badge's document: kept current by writers, rebuilt from the index, on both stores.
mod awaiting_view;
/// OIDC sign-in: real RS256 tokens and a JWKS on loopback, checked by the backend.
mod auth_oidc;
/// Headless Chromium loads the console served by the local binary and reads it.
mod browser_console;
/// One job, one history: two savepoint rescales, three Flink job ids, one job in the console.
mod console_deployment;
/// The console in two browsers: alice requests, bob approves from his inbox, both watch it complete.
mod console_e2e;
/// An MSF application beside a Flink cluster in the console: requested, approved and watched in two browsers.
mod console_msf;
/// Load history and the recommendation on the job page, on real Flink: a saturated job's scale-up requested from the panel, approved, then no change.
mod console_recommendation;
/// Sign-in through a real OpenID Provider (oidc-provider) in headless Chromium: PKCE, roles from groups, reload, renewal, sign-out.
mod console_sign_in;
/// SIGKILL after each side effect, restart: the operation completes exactly once (2.3 and 1.20).
mod crash_recovery;
/// Predicted downtime on real Flink: per strategy in pre-flight, kept on the request, learned from the job's earlier rescales, measured after.
mod downtime_prediction;
/// Scale-down damping on real Flink: an overprovisioned vertex's scale-down held back until its lower need held for the interval.
mod load_scale_down;
/// Email notifications: SMTP on loopback (aiosmtpd) to the approvers and the requester, and Amazon SES through LocalStack.
mod email;
/// Faults on real Flink: forgotten triggers, unreachable JobManagers, failing restores.
mod faults;
/// The REST Flink client against real clusters of 2.3.0, 1.20.5 and 1.18.1.
mod flink_client;
/// The harness itself: a real Flink cluster runs the sample job submitted over REST.
mod flink_harness;
/// The approvals inbox follows the one permission rule: no expired request in anyone's inbox.
mod inbox;
/// The listing index: pages newest first with a cursor, by phase group and job, the badge's count, the backfill (directory store and LocalStack).
mod listing_index;
/// API Gateway v2 events through lambda_http reach the same Router with the same answers.
mod lambda_adapter;
/// The packaged Lambda bootstraps answer real events through a local Runtime API.
mod lambda_bootstrap;
/// The reconcile Lambda ends its invocation while requests only wait, and runs them once their window opens.
mod lambda_reconcile_wait;
/// Load history per deployment: two hours as sampled, five-minute points for a day, across rescales, on both stores.
mod load_history;
/// The loop samples a running job on real Flink; the job page's history and recommendation endpoints read it.
mod load_recommendation;
/// `request` mode on real Flink: one recommended request per sustained overload, the rate limit, a crashed filing completed.
mod load_request_mode;
/// A self-run cluster's job graph and load samples on real Flink: the sample job's known rate.
mod load_sample;
/// The load-test job on real Flink: busy time and throughput as its rate and cost per record predict; back-pressure once the rate outgrows one subtask.
mod load_test_job;
/// The local MSF endpoint on real Flink, through the real AWS SDK: snapshots, rescale with state, refusals, rollback.
mod msf_standin;
/// MSF applications rescaled by the product on the stand-in: approval, snapshot, update under the token, rollback, crashes.
mod msf_rescale;
/// Notifications: signed webhooks from the outbox, retried with back-off, once per event even with two reconcilers.
mod notifications;
/// A delivery cut off mid-send: sent again with its idempotency key once its claim lapses, processed once.
mod notify_crash;
/// Changes made outside the product: a rescale through Flink's REST API, audited once, on the job page.
mod out_of_band;
/// A recurring schedule approved once: each occurrence its own request on real Flink, one skipped by its pre-flight.
mod recurring;
/// The rescale engine: savepoint and in-place rescales, rollback, on real Flink and S3.
mod rescale_engine;
/// Flink 2.3's own account of an in-place rescale (its rescale history), through the API.
mod rescale_history;
/// Roles × endpoints, cell by cell.
mod role_matrix;
/// Scheduled starts: a not-before and a maintenance window 15 s ahead hold an approved request, then it runs.
mod schedule;
/// A cluster's auth header read from an SSM SecureString (real LocalStack) at start, sent to Flink.
mod secrets;
/// The store contract, on a directory and on the real S3 server, races included.
mod store_contract;
/// Two reconcilers on one store: every operation's action reaches Flink once.
mod two_reconcilers;
/// Savepoint, in place and `auto` with the state kept, on 1.18, 1.20 and 2.3, both schedulers.
mod version_matrix;
/// The per-user write limit: two binaries over one LocalStack bucket count a user's writes together; 429 past it, others unaffected.
mod write_limit;
