//! The console's own addresses (its client-side routes), written once: the console links with
//! them, and the backend's messages link to them under the configured console address.

/// A rescale request's page.
pub fn request(operation_id: &str) -> String {
    format!("/rescales/{operation_id}")
}

/// A job's page on its cluster.
pub fn job(cluster_id: &str, job_id: &str) -> String {
    format!("/clusters/{cluster_id}/jobs/{job_id}")
}

/// A recurring schedule's page.
pub fn schedule(schedule_id: &str) -> String {
    format!("/schedules/{schedule_id}")
}

/// `path` under the console's address `base` (with or without its trailing slash).
pub fn absolute(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_the_consoles_routes() {
        assert_eq!(super::request("ab12"), "/rescales/ab12");
        assert_eq!(super::job("prod", "f00"), "/clusters/prod/jobs/f00");
        assert_eq!(super::absolute("https://c.example/", &super::request("x")), "https://c.example/rescales/x");
        assert_eq!(super::absolute("https://c.example", "/y"), "https://c.example/y");
    }
}
