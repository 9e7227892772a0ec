//! The user directory: `users/<name>.json` per signed-in user (name, email, roles, last seen),
//! written when a user is first seen, when their email or roles change, or a day after they
//! were last written; a cache in the process keeps a request from costing a store call each
//! time. Email channels that write to people (`to_people`) find the approvers of a request and
//! the addresses there, after the configured users (`tokens` mode's `email`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rescaler_shared::access::{Identity, Roles, same_user};
use rescaler_shared::notify::Person;
use serde::{Deserialize, Serialize};

use super::{Records, ignore_conflict};
use crate::store::{JsonStore, StoreResult};

/// How long a stored entry may go without being rewritten when nothing changed.
const REFRESH_AFTER_MS: u64 = 24 * 3_600_000;

/// One user as last seen signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub roles: Roles,
    pub last_seen_ms: u64,
}

/// What this process last wrote or read per user (lowercased name), to skip unchanged writes.
#[derive(Debug, Clone, Default)]
pub struct SeenUsers(Arc<Mutex<HashMap<String, UserRecord>>>);

impl SeenUsers {
    fn fresh(&self, record: &UserRecord) -> bool {
        let seen = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.get(&cache_key(&record.name)).is_some_and(|known| unchanged(known, record))
    }

    fn remember(&self, record: UserRecord) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(cache_key(&record.name), record);
    }
}

fn cache_key(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

fn unchanged(stored: &UserRecord, now: &UserRecord) -> bool {
    stored.email == now.email
        && stored.roles == now.roles
        && now.last_seen_ms < stored.last_seen_ms.saturating_add(REFRESH_AFTER_MS)
}

/// `users/<name>.json`, the name lowercased (names are compared ignoring case) and each byte
/// but letters, digits, `.`, `_` and `-` written `=XX` (what store keys allow).
pub fn user_key(name: &str) -> String {
    let mut encoded = String::new();
    for byte in cache_key(name).bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("={byte:02X}"));
        }
    }
    format!("users/{encoded}.json")
}

impl Records {
    /// Remembers a signed-in user in the directory, when some email channel writes to people
    /// (else nothing is stored). At most one store read per user and process unless something
    /// changed.
    pub async fn note_user(&self, identity: &Identity, now_ms: u64) -> StoreResult<()> {
        if !self.routing.writes_to_people() {
            return Ok(());
        }
        let record = UserRecord {
            name: identity.name.clone(),
            email: identity.email.clone(),
            roles: identity.roles.clone(),
            last_seen_ms: now_ms,
        };
        let seen = &self.routing.seen_users;
        if seen.fresh(&record) {
            return Ok(());
        }
        let key = user_key(&record.name);
        match self.store.get_json::<UserRecord>(&key).await? {
            None => ignore_conflict(self.store.create_json(&key, &record).await)?,
            Some((stored, _)) if unchanged(&stored, &record) => {
                seen.remember(stored);
                return Ok(());
            }
            Some((_, version)) => ignore_conflict(self.store.replace_json(&key, &record, &version).await)?,
        }
        tracing::debug!(user = %record.name, "user directory entry written");
        seen.remember(record);
        Ok(())
    }

    /// The directory's users.
    pub async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        let mut users = Vec::new();
        for key in self.store.list("users/").await? {
            if let Some((user, _)) = self.store.get_json::<UserRecord>(&key).await? {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// Everyone mail to people may reach: the configured users first (their `email` wins;
    /// without one, the directory's is taken), then the directory's other users.
    pub async fn people(&self) -> StoreResult<Vec<Person>> {
        let directory = self.users().await?;
        let mut people = self.routing.configured_people.clone();
        for person in &mut people {
            if person.email.is_none() {
                let stored = directory.iter().find(|user| same_user(&user.name, &person.name));
                person.email = stored.and_then(|user| user.email.clone());
            }
        }
        for user in directory {
            if !people.iter().any(|person| same_user(&person.name, &user.name)) {
                people.push(Person { name: user.name, email: user.email, roles: user.roles });
            }
        }
        Ok(people)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use rescaler_shared::access::{Identity, Role, Roles};
    use rescaler_shared::notify::{DeliveryStatus, Person, Route};
    use rescaler_shared::operation::{Operation, OperationRequest, Strategy, Target};

    use super::user_key;
    use crate::records::{EmailRouting, Records, Routing};
    use crate::store::DirStore;

    fn identity(name: &str, email: Option<&str>, role: Role) -> Identity {
        Identity::new(name, BTreeMap::from([("*".to_owned(), role)])).with_email(email.map(str::to_owned))
    }

    fn request_by(requested_by: &str) -> Operation {
        let request = OperationRequest {
            cluster_id: "c".into(),
            job_id: "j".into(),
            job_name: "counter".into(),
            target: Target::Uniform { parallelism: 2 },
            strategy: Strategy::Savepoint,
            reason: "peak".into(),
            requested_by: requested_by.into(),
            required_approvals: 1,
            approval_window_ms: 60_000,
            verify_timeout_ms: 60_000,
            artifact: None,
            autoscaling: None,
        };
        Operation::new("op1".into(), request, 1_000)
    }

    /// Signed-in users land in the directory once (cached), again when their email changes, and
    /// are the approvers mail to people finds, after the configured users.
    #[tokio::test]
    async fn signed_in_users_are_remembered_and_reached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let routing = Routing {
            routes: vec![Route { clusters: vec!["*".into()], events: vec!["*".into()], channels: vec!["mail".into()] }],
            email: BTreeMap::from([("mail".to_owned(), EmailRouting { to: Vec::new(), to_people: true })]),
            configured_people: vec![Person { name: "Cid".into(), email: None, roles: Roles::default() }],
            ..Routing::default()
        };
        let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store"))).with_routing(routing);
        let ann = identity("Ann", Some("ann@example.com"), Role::Approver);
        records.note_user(&ann, 1_000).await.expect("noted");
        let file = dir.path().join(user_key("ann"));
        assert!(file.exists(), "{file:?}");
        std::fs::remove_file(&file).expect("removed");
        records.note_user(&ann, 2_000).await.expect("noted");
        assert!(!file.exists(), "unchanged: no store call");
        let moved = identity("ann", Some("ann@new.example.com"), Role::Approver);
        records.note_user(&moved, 3_000).await.expect("noted");
        assert!(file.exists(), "a changed email is written");
        records.note_user(&identity("dan", None, Role::Admin), 3_000).await.expect("noted");
        records.note_user(&identity("bob", Some("bob@example.com"), Role::Requester), 3_000).await.expect("noted");

        let names: Vec<_> = records.people().await.expect("people").into_iter().map(|person| person.name).collect();
        assert_eq!(names.first().map(String::as_str), Some("Cid"), "configured users first: {names:?}");
        records.enqueue_notifications(&request_by("bob"), 0, 1_000).await.expect("enqueued");
        let log = records.deliveries_of("op1").await.expect("log");
        assert_eq!(log[0].recipients, ["ann@new.example.com"], "{log:#?}");
        assert_eq!(log[0].unaddressed, ["dan"], "an approver without an address is named");
        assert_eq!(log[0].status, DeliveryStatus::Pending);
    }

    #[tokio::test]
    async fn without_a_channel_writing_to_people_nothing_is_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::new(Arc::new(DirStore::open(dir.path()).expect("store")));
        records.note_user(&identity("ann", Some("ann@example.com"), Role::Admin), 1).await.expect("noted");
        assert!(records.users().await.expect("users").is_empty());
    }

    #[test]
    fn keys_are_lowercase_and_safe() {
        assert_eq!(user_key(" Alice "), "users/alice.json");
        assert_eq!(user_key("ann@example.com"), "users/ann=40example.com.json");
        assert_eq!(user_key("a/b c"), "users/a=2Fb=20c.json");
        crate::store::validate_key(&user_key("ünï/../x y")).expect("a valid store key");
    }
}
