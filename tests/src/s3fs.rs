//! A bucket of the S3 server mounted as a directory with Debian's `s3fs` (FUSE), so that
//! Flink — whose PyPI distribution has no S3 file system plugin — writes its savepoints into
//! the real S3 server through `file://<mount>`, and the backend reads them back through S3.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::paths::scratch_dir;
use crate::process::{ChildGuard, log_tail};
use crate::s3::{ACCESS_KEY, REGION, S3Server, SECRET_KEY};

/// `bucket:/prefix` mounted on a directory; dropping it unmounts.
pub struct S3Mount {
    dir: PathBuf,
    /// The same place as the backend reads it: `s3://bucket/prefix`.
    s3_url: String,
    /// A client of the S3 server that holds the bucket.
    client: aws_sdk_s3::Client,
    // Unmounted in Drop before the process is killed.
    process: ChildGuard,
}

impl S3Mount {
    /// Mounts `bucket:/prefix` of `server` on `dir` (which must exist and be empty) and waits
    /// until the mount answers.
    pub async fn mount(server: &S3Server, bucket: &str, prefix: &str, dir: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            Path::new("/usr/bin/s3fs").exists(),
            "s3fs is not installed: run scripts/setup.sh (apt-get install s3fs)"
        );
        let work = scratch_dir("s3fs")?;
        let passwd = work.join("passwd");
        std::fs::write(&passwd, format!("{ACCESS_KEY}:{SECRET_KEY}\n"))?;
        std::fs::set_permissions(&passwd, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        // The prefix must exist as a "directory" before s3fs can mount below it.
        let marker = format!("{}/", prefix.trim_matches('/'));
        server.client().put_object().bucket(bucket).key(&marker).body(Vec::new().into()).send().await.map_err(
            |error| anyhow::anyhow!("create {prefix} in {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(error)),
        )?;

        let log = work.join("s3fs.log");
        let mut command = Command::new("/usr/bin/s3fs");
        command
            .arg(format!("{bucket}:/{}", prefix.trim_matches('/')))
            .arg(dir)
            .args(["-f", "-o", "use_path_request_style", "-o", "dbglevel=warn"])
            .arg("-o")
            .arg(format!("passwd_file={}", passwd.display()))
            .arg("-o")
            .arg(format!("url={}", server.endpoint()))
            .arg("-o")
            .arg(format!("endpoint={REGION}"))
            // Flink lists and stats what it just wrote: no stale caches.
            .args(["-o", "stat_cache_expire=1"]);
        let process = ChildGuard::spawn("s3fs", command, &log)?;
        let mount = Self {
            dir: dir.to_path_buf(),
            s3_url: format!("s3://{bucket}/{}", prefix.trim_matches('/')),
            client: server.client(),
            process,
        };
        mount.wait_mounted(Duration::from_secs(20), &log).await?;
        Ok(mount)
    }

    async fn wait_mounted(&self, timeout: Duration, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let wanted = self.dir.canonicalize()?.display().to_string();
        loop {
            let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
            if mounts.lines().any(|line| line.split(' ').nth(1) == Some(wanted.as_str())) {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "s3fs did not mount {wanted}:\n{}", log_tail(log, 20));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn s3_url(&self) -> &str {
        &self.s3_url
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for S3Mount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").arg("-u").arg("-z").arg(&self.dir).status();
        self.process.kill();
    }
}
