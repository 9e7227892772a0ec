//! A cluster of `kind = "msf"`: Amazon Managed Service for Apache Flink applications of one
//! account and region, under `[clusters.msf]`.

use serde::{Deserialize, Serialize};

/// What a cluster is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    /// A Flink cluster reached over its REST API (`rest_url`).
    #[default]
    Flink,
    /// Amazon Managed Service for Apache Flink applications (`[clusters.msf]`).
    Msf,
}

/// Which MSF applications a cluster manages, and how the backend reaches them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MsfSettings {
    /// The applications' region, e.g. `eu-west-1`.
    pub region: String,
    /// A role to assume (another account's applications), with the default chain's
    /// credentials; unset: the default chain's own (the Lambda's role).
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The applications by name.
    #[serde(default)]
    pub applications: Vec<String>,
    /// Or every application of the account and region carrying this tag.
    #[serde(default)]
    pub application_tag: Option<ApplicationTag>,
    /// KPUs an application may use: MSF's quota (64 unless raised for the account).
    #[serde(default = "default_kpu_limit")]
    pub kpu_limit: u32,
    /// Another endpoint (a VPC endpoint; the tests' stand-in).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Static keys instead of the default chain (the tests' stand-in only).
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

/// A tag an application must carry to be managed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationTag {
    pub key: String,
    pub value: String,
}

fn default_kpu_limit() -> u32 {
    rescaler_shared::flink::msf::DEFAULT_KPU_LIMIT
}

impl MsfSettings {
    /// What is wrong with the settings, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.region.trim().is_empty() {
            return Some("msf.region is empty".to_owned());
        }
        if self.applications.is_empty() == self.application_tag.is_none() {
            return Some("give msf.applications (names) or msf.application_tag, one of them".to_owned());
        }
        if self.kpu_limit == 0 {
            return Some("msf.kpu_limit must be at least 1".to_owned());
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Some("give both msf.access_key_id and msf.secret_access_key, or neither".to_owned());
        }
        None
    }
}
