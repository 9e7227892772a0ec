//! Flink ids derived from an operation id, which make every step on Flink idempotent.

/// Purpose of the trigger id of the stop-with-savepoint call.
pub const STOP_TRIGGER_PURPOSE: &str = "stop-trigger";
/// Purpose of the job id of the job restarted at the target parallelism.
pub const RESTART_JOB_PURPOSE: &str = "restart-job";
/// Purpose of the job id of the job resubmitted at the original parallelism on rollback.
pub const ROLLBACK_JOB_PURPOSE: &str = "rollback-job";

/// A Flink id (JobID or savepoint TriggerId, 32 lowercase hex characters) derived from an
/// operation id and a purpose.
///
/// The same inputs always give the same id, so a retried call reuses the id of the first
/// attempt: Flink refuses a second job with the same job id and answers a known trigger id
/// with the first trigger's result. This is what makes every step idempotent.
///
/// The hash is 128-bit FNV-1a over length-prefixed inputs, followed by a bijective mix so that
/// ids of one operation do not look alike. It is not cryptographic; it must never change, since
/// records in flight depend on it.
pub fn derive_flink_id(operation_id: &str, purpose: &str) -> String {
    const FNV_OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    const DOMAIN: &str = "rescaler/flink-id/v1";

    let mut hash = FNV_OFFSET_BASIS;
    for field in [DOMAIN, operation_id, purpose] {
        let length = u64::try_from(field.len()).unwrap_or(u64::MAX).to_le_bytes();
        for byte in length.iter().chain(field.as_bytes()) {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    format!("{:032x}", mix_bits(hash))
}

/// A bijection on 128-bit values that spreads every input bit over the whole output.
fn mix_bits(mut value: u128) -> u128 {
    const FIRST_MULTIPLIER: u128 = 0x2f8a_91d3_5c4e_b067_a1d4_3e95_c07b_62f1;
    const SECOND_MULTIPLIER: u128 = 0xc3b5_0e72_9f16_d84b_5d27_8a61_f3e0_94c9;
    value ^= value >> 67;
    value = value.wrapping_mul(FIRST_MULTIPLIER);
    value ^= value >> 59;
    value = value.wrapping_mul(SECOND_MULTIPLIER);
    value ^= value >> 64;
    value
}

/// `text` has the shape of a Flink id and of an operation id: 32 lowercase hex characters.
pub fn is_flink_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// The directory a stop-with-savepoint of operation `operation_id` writes into, under the
/// cluster's savepoint directory: `<savepoint_dir>/<operation id>`.
///
/// Flink writes `savepoint-<job>-<random>/_metadata` below it. Because the directory is named
/// after the operation, its savepoint can be found there again after Flink forgot the stop
/// trigger's result (`rest.async.store-duration`, a JobManager restart).
pub fn savepoint_target(savepoint_dir: &str, operation_id: &str) -> String {
    format!("{}/{operation_id}", savepoint_dir.trim_end_matches('/'))
}

/// Where a location points, written one way: Flink answers `file:/x` for the `file:///x` it
/// was given, and may add a trailing slash.
pub fn normalize_location(location: &str) -> String {
    let trimmed = location.trim_end_matches('/');
    match trimmed.split_once(":///") {
        Some((scheme, path)) if !scheme.contains('/') => format!("{scheme}:/{path}"),
        _ => trimmed.to_owned(),
    }
}

/// `location` is `directory` or below it (both normalized first).
pub fn location_is_under(location: &str, directory: &str) -> bool {
    let location = normalize_location(location);
    let directory = normalize_location(directory);
    location == directory || location.strip_prefix(&directory).is_some_and(|rest| rest.starts_with('/'))
}

/// The job id the product gives an MSF application: derived from its ARN, so stable across
/// updates, and shaped like a Flink job id.
pub fn msf_application_job_id(arn: &str) -> String {
    derive_flink_id(arn, "msf-application")
}

/// The name of the snapshot a rescale takes of its application (MSF's pattern
/// `[a-zA-Z0-9_.-]+`, at most 256 characters), derived from the operation id.
pub fn msf_snapshot_name(operation_id: &str) -> String {
    format!("rescaler-{operation_id}")
}

/// How a snapshot is named in the savepoint catalog and in reasons: `msf://<app>/<snapshot>`.
pub fn msf_snapshot_location(application: &str, snapshot_name: &str) -> String {
    format!("msf://{application}/{snapshot_name}")
}
