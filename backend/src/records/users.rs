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
    use super::user_key;

    #[test]
    fn keys_are_lowercase_and_safe() {
        assert_eq!(user_key(" Alice "), "users/alice.json");
        assert_eq!(user_key("ann@example.com"), "users/ann=40example.com.json");
        assert_eq!(user_key("a/b c"), "users/a=2Fb=20c.json");
        crate::store::validate_key(&user_key("ünï/../x y")).expect("a valid store key");
    }
}
