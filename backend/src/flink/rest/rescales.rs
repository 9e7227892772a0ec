//! The adaptive scheduler's rescale history (Flink 2.3 and later): the list of a job's ended
//! rescales and the details of one, read into [`FlinkRescale`].
//!
//! What Flink answers (verified on 2.3.0 and 1.20.5): with `web.adaptive-scheduler.rescale-history.size`
//! above 0, the history lists the rescales that have ended, newest first, without their
//! vertices and scheduler states (the details have them); with the size 0 (the default), an
//! adaptive job's history is `[]`; a job on the default scheduler answers 404
//! (`RescalesUnavailableException`), an unknown job 404, and 1.x 404 for the missing endpoint.

use rescaler_shared::flink_rescales::{FlinkRescale, RescaledVertex, SchedulerStateSpan};

use super::RestFlinkClient;
use super::http::{millis, segment};
use crate::flink::error::{redact_addresses, summarize_errors};
use crate::flink::{FlinkResult, wire};

/// The cluster option that turns the history on.
const HISTORY_SIZE_KEY: &str = "web.adaptive-scheduler.rescale-history.size";

impl RestFlinkClient {
    /// The job's ended rescales, newest first; `None` when Flink keeps no history for it (404:
    /// before 2.3, not on the adaptive scheduler, or an unknown job; `[]` with a history size of
    /// 0 in the cluster's configuration).
    pub(super) async fn fetch_rescale_history(&self, job_id: &str) -> FlinkResult<Option<Vec<FlinkRescale>>> {
        let what = format!("the rescale history of job {job_id}");
        let path = format!("/jobs/{}/rescales/history", segment(job_id));
        let Some(history) = self.get_optional::<Vec<wire::Rescale>>(&what, &path).await? else { return Ok(None) };
        if history.is_empty() && !self.keeps_rescale_history().await? {
            return Ok(None);
        }
        Ok(Some(history.into_iter().map(rescale_from_wire).collect()))
    }

    /// One rescale with its vertices and scheduler states; `None` when Flink does not know it.
    pub(super) async fn fetch_rescale_details(
        &self,
        job_id: &str,
        rescale_id: &str,
    ) -> FlinkResult<Option<FlinkRescale>> {
        let what = format!("rescale {rescale_id} of job {job_id}");
        let path = format!("/jobs/{}/rescales/details/{}", segment(job_id), segment(rescale_id));
        Ok(self.get_optional::<wire::Rescale>(&what, &path).await?.map(rescale_from_wire))
    }

    /// The cluster's configuration sets a history size above 0.
    async fn keeps_rescale_history(&self) -> FlinkResult<bool> {
        let entries: Vec<wire::ConfigEntry> = self.get("the jobmanager configuration", "/jobmanager/config").await?;
        let size = entries.iter().find(|entry| entry.key == HISTORY_SIZE_KEY).map(|entry| entry.value.trim());
        Ok(size.and_then(|size| size.parse::<u64>().ok()).is_some_and(|size| size > 0))
    }
}

fn rescale_from_wire(rescale: wire::Rescale) -> FlinkRescale {
    let scheduler_states = rescale
        .scheduler_states
        .into_iter()
        .map(|span| SchedulerStateSpan {
            state: span.state,
            entered_at_ms: span.enter_timestamp_in_millis.map(millis).unwrap_or(0),
            left_at_ms: span.leave_timestamp_in_millis.map(millis),
            // A stack trace may name hosts: its first line and root cause, without addresses.
            exception: span
                .stringified_exception
                .filter(|text| !text.trim().is_empty())
                .map(|text| redact_addresses(&summarize_errors(&[text]))),
        })
        .collect();
    let vertices = rescale
        .vertices
        .into_values()
        .map(|vertex| RescaledVertex {
            id: vertex.job_vertex_id,
            name: vertex.job_vertex_name,
            before: vertex.pre_rescale_parallelism,
            after: vertex.post_rescale_parallelism,
            desired: vertex.desired_parallelism,
        })
        .collect();
    FlinkRescale {
        id: rescale.rescale_uuid,
        attempt: rescale.rescale_attempt_id,
        trigger: rescale.trigger_cause.unwrap_or_default(),
        started_at_ms: rescale.start_timestamp_in_millis.map(millis).unwrap_or(0),
        ended_at_ms: rescale.end_timestamp_in_millis.map(millis),
        outcome: rescale.terminal_state,
        terminated_reason: rescale.terminated_reason,
        scheduler_states,
        vertices,
    }
}

#[cfg(test)]
mod tests {
    //! Against a fake Flink answering what 2.3.0 and 1.20.5 answered (captured from real
    //! clusters, stack traces shortened).

    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::flink::{FlinkClient, RestFlinkClient, RestFlinkClientConfig};

    const JOB: &str = "433afad3f3573d6e00628ff0238b9072";
    const RESCALE: &str = "6761f568559f01a8cf3df6a9646062da";

    /// `GET /jobs/:id/rescales/history` on 2.3.0 after one in-place rescale from 1 to 3.
    const HISTORY: &str = r#"[{"rescaleUuid":"6761f568559f01a8cf3df6a9646062da","resourceRequirementsUuid":"0e6f344abce07936d3974b1e006a9bdc","rescaleAttemptId":1,"vertices":{},"slots":{},"schedulerStates":[],"startTimestampInMillis":1796138464467,"endTimestampInMillis":1796138466028,"terminalState":"COMPLETED","triggerCause":"UPDATE_REQUIREMENT","terminatedReason":"SUCCEEDED"},{"rescaleUuid":"b7e7ffa42a773f32220ec39797e272ef","resourceRequirementsUuid":"4c8ef92ccbeb08aae9b2fe6110e51596","rescaleAttemptId":1,"vertices":{},"slots":{},"schedulerStates":[],"startTimestampInMillis":1796138461015,"endTimestampInMillis":1796138461443,"terminalState":"COMPLETED","triggerCause":"INITIAL_SCHEDULE","terminatedReason":"SUCCEEDED"}]"#;

    /// `GET /jobs/:id/rescales/details/:rescaleuuid` of that rescale on 2.3.0.
    const DETAILS: &str = r#"{"rescaleUuid":"6761f568559f01a8cf3df6a9646062da","resourceRequirementsUuid":"0e6f344abce07936d3974b1e006a9bdc","rescaleAttemptId":1,"vertices":{"0da08f51eaa85fc298e176a139b3649a":{"jobVertexId":"0da08f51eaa85fc298e176a139b3649a","jobVertexName":"Counter -> Milestones -> Sink: Print","slotSharingGroupId":"df33f094c1cc7d354ea9ffb8768cd716","slotSharingGroupName":"default","desiredParallelism":3,"sufficientParallelism":1,"preRescaleParallelism":1,"postRescaleParallelism":3},"f421c7059e6771b9a595acc02e87aaef":{"jobVertexId":"f421c7059e6771b9a595acc02e87aaef","jobVertexName":"Source: Sequence -> Throttle","slotSharingGroupId":"df33f094c1cc7d354ea9ffb8768cd716","slotSharingGroupName":"default","desiredParallelism":3,"sufficientParallelism":1,"preRescaleParallelism":1,"postRescaleParallelism":3}},"slots":{"df33f094c1cc7d354ea9ffb8768cd716":{"slotSharingGroupId":"df33f094c1cc7d354ea9ffb8768cd716","slotSharingGroupName":"default","requestResourceProfile":{"cpuCores":-1.0,"taskHeapMemory":-1,"taskOffHeapMemory":-1,"managedMemory":-1,"networkMemory":-1,"extendedResources":{}},"desiredSlots":3,"minimalRequiredSlots":1,"preRescaleSlots":1,"postRescaleSlots":3,"acquiredResourceProfile":{"cpuCores":1.0,"taskHeapMemory":49,"taskOffHeapMemory":0,"managedMemory":14,"networkMemory":16,"extendedResources":{}}}},"schedulerStates":[{"state":"Executing","enterTimestampInMillis":1796138461442,"leaveTimestampInMillis":1796138465931,"durationInMillis":4489,"stringifiedException":null},{"state":"Restarting","enterTimestampInMillis":1796138465931,"leaveTimestampInMillis":1796138465994,"durationInMillis":63,"stringifiedException":null},{"state":"CreatingExecutionGraph","enterTimestampInMillis":1796138466004,"leaveTimestampInMillis":1796138466028,"durationInMillis":24,"stringifiedException":null},{"state":"Executing","enterTimestampInMillis":1796138466028,"leaveTimestampInMillis":1796138466028,"durationInMillis":0,"stringifiedException":null}],"startTimestampInMillis":1796138464467,"endTimestampInMillis":1796138466028,"terminalState":"COMPLETED","triggerCause":"UPDATE_REQUIREMENT","terminatedReason":"SUCCEEDED"}"#;

    fn client(server: &MockServer) -> RestFlinkClient {
        RestFlinkClient::new(RestFlinkClientConfig::new(server.uri())).expect("client")
    }

    async fn answer(server: &MockServer, at: String, status: u16, body: &str) {
        let response = ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/json");
        Mock::given(method("GET")).and(path(at)).respond_with(response).mount(server).await;
    }

    async fn configured_history_size(server: &MockServer, size: Option<&str>) {
        let mut entries = vec![json!({"key": "jobmanager.scheduler", "value": "adaptive"})];
        if let Some(size) = size {
            entries.push(json!({"key": "web.adaptive-scheduler.rescale-history.size", "value": size}));
        }
        answer(server, "/jobmanager/config".to_owned(), 200, &serde_json::Value::from(entries).to_string()).await;
    }

    #[tokio::test]
    async fn the_history_of_2_3_lists_ended_rescales_newest_first() {
        let server = MockServer::start().await;
        answer(&server, format!("/jobs/{JOB}/rescales/history"), 200, HISTORY).await;
        let history = client(&server).rescale_history(JOB).await.expect("read").expect("kept");
        assert_eq!(history.len(), 2);
        let ours = &history[0];
        assert_eq!(ours.id, RESCALE);
        assert_eq!(ours.attempt, Some(1));
        assert_eq!(ours.trigger, "UPDATE_REQUIREMENT");
        assert_eq!((ours.started_at_ms, ours.ended_at_ms), (1_796_138_464_467, Some(1_796_138_466_028)));
        assert!(ours.is_completed());
        assert_eq!(ours.terminated_reason.as_deref(), Some("SUCCEEDED"));
        assert!(ours.vertices.is_empty() && ours.scheduler_states.is_empty(), "the list leaves them out");
        assert_eq!(history[1].trigger, "INITIAL_SCHEDULE");
    }

    #[tokio::test]
    async fn the_details_of_2_3_have_states_and_parallelism_per_vertex() {
        let server = MockServer::start().await;
        answer(&server, format!("/jobs/{JOB}/rescales/details/{RESCALE}"), 200, DETAILS).await;
        let rescale = client(&server).rescale_details(JOB, RESCALE).await.expect("read").expect("known");
        let states: Vec<&str> = rescale.scheduler_states.iter().map(|span| span.state.as_str()).collect();
        assert_eq!(states, ["Executing", "Restarting", "CreatingExecutionGraph", "Executing"]);
        let restarting = &rescale.scheduler_states[1];
        assert_eq!((restarting.entered_at_ms, restarting.left_at_ms), (1_796_138_465_931, Some(1_796_138_465_994)));
        assert_eq!(restarting.exception, None);
        assert_eq!(rescale.vertices.len(), 2);
        for vertex in &rescale.vertices {
            assert_eq!((vertex.before, vertex.after, vertex.desired), (Some(1), Some(3), Some(3)), "{}", vertex.name);
        }
        assert_eq!(rescale.vertices[1].name, "Source: Sequence -> Throttle");
    }

    #[tokio::test]
    async fn an_unknown_rescale_is_none() {
        let server = MockServer::start().await;
        let body = r#"{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not find rescale details of specified rescaleUuid 00000000000000000000000000000000.\n\tat org.apache.flink.Some.method(Some.java:1)\n"]}"#;
        answer(&server, format!("/jobs/{JOB}/rescales/details/00000000000000000000000000000000"), 404, body).await;
        let rescale = client(&server).rescale_details(JOB, "00000000000000000000000000000000").await.expect("read");
        assert_eq!(rescale, None);
    }

    #[tokio::test]
    async fn an_empty_history_is_none_with_the_default_size_of_0_and_empty_with_a_size() {
        for (size, expected) in [(None, None), (Some("0"), None), (Some("10"), Some(Vec::new()))] {
            let server = MockServer::start().await;
            answer(&server, format!("/jobs/{JOB}/rescales/history"), 200, "[]").await;
            configured_history_size(&server, size).await;
            assert_eq!(client(&server).rescale_history(JOB).await.expect("read"), expected, "size {size:?}");
        }
    }

    #[tokio::test]
    async fn a_404_is_no_history_on_1_20_on_the_default_scheduler_and_for_an_unknown_job() {
        let bodies = [
            // 1.20.5: no such endpoint.
            format!(r#"{{"errors":["Unable to load requested file /jobs/{JOB}/rescales/history."]}}"#),
            // 2.3.0, a job on the default scheduler.
            format!(
                r#"{{"errors":["org.apache.flink.runtime.rest.handler.job.rescales.RescalesUnavailableException: The job `{JOB}` has not enabled the `Adaptive` scheduler, or it has been enabled but the value of configuration option `web.adaptive-scheduler.rescale-history.size` has not been set to greater than `0`.\n\tat org.apache.flink.Some.method(Some.java:1)\n"]}}"#
            ),
            // 2.3.0, an unknown job.
            format!(
                r#"{{"errors":["org.apache.flink.runtime.rest.NotFoundException: Job {JOB} not found\n\tat org.apache.flink.Some.method(Some.java:1)\n"]}}"#
            ),
        ];
        for body in bodies {
            let server = MockServer::start().await;
            answer(&server, format!("/jobs/{JOB}/rescales/history"), 404, &body).await;
            assert_eq!(client(&server).rescale_history(JOB).await.expect("read"), None, "{body}");
        }
    }

    #[test]
    fn an_exception_keeps_its_first_line_and_root_cause_without_addresses() {
        let wire: crate::flink::wire::Rescale = serde_json::from_value(json!({
            "rescaleUuid": RESCALE,
            "schedulerStates": [{
                "state": "WaitingForResources", "enterTimestampInMillis": 5,
                "stringifiedException": "org.apache.flink.runtime.JobException: Not enough slots\n\tat org.apache.flink.Some.method(Some.java:1)\nCaused by: java.net.ConnectException: Connection refused: flink-tm-3.internal:6122\n\t... 4 more\n"
            }],
        }))
        .expect("wire");
        let rescale = super::rescale_from_wire(wire);
        let exception = rescale.scheduler_states[0].exception.clone().expect("kept");
        assert!(exception.starts_with("JobException: Not enough slots"), "{exception}");
        assert!(!exception.contains("flink-tm-3.internal") && !exception.contains("\tat "), "{exception}");
        assert_eq!((rescale.trigger.as_str(), rescale.outcome, rescale.ended_at_ms), ("", None, None));
    }
}
