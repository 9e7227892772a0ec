//! `tokens` mode: users, tokens and roles from the configuration file, compared in constant time.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, AuthSetupError, Identity, Role};
use crate::config::UserConfig;

/// The configured users, each kept with the SHA-256 of its token rather than the token.
pub(super) struct TokenUsers {
    users: Vec<TokenUser>,
}

struct TokenUser {
    name: String,
    token_digest: [u8; 32],
    roles: BTreeMap<String, Role>,
    email: Option<String>,
}

impl TokenUsers {
    pub(super) fn new(users: &[UserConfig]) -> Result<Self, AuthSetupError> {
        let mut token_users: Vec<TokenUser> = Vec::with_capacity(users.len());
        for user in users {
            if user.token.is_empty() || user.token.contains(char::is_whitespace) {
                return Err(AuthSetupError::UnusableToken { user: user.name.clone() });
            }
            let mut roles = BTreeMap::new();
            for (cluster_id, role_name) in &user.roles {
                let role = role_name
                    .parse::<Role>()
                    .map_err(|source| AuthSetupError::UnknownRole { user: user.name.clone(), source })?;
                roles.insert(cluster_id.clone(), role);
            }
            let token_digest = digest(&user.token);
            if let Some(earlier) = token_users.iter().find(|earlier| earlier.token_digest == token_digest) {
                return Err(AuthSetupError::SharedToken { first: earlier.name.clone(), second: user.name.clone() });
            }
            token_users.push(TokenUser { name: user.name.clone(), token_digest, roles, email: user.email.clone() });
        }
        Ok(Self { users: token_users })
    }

    /// Finds the user whose token this is. Both sides are hashed first, so the comparison time
    /// depends neither on the token's length nor on how much of it matches, and every user is
    /// compared.
    pub(super) fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let presented = digest(token);
        let mut matched = None;
        for user in &self.users {
            if bool::from(user.token_digest.ct_eq(&presented)) {
                matched = Some(user);
            }
        }
        let user = matched.ok_or(AuthError::UnknownToken)?;
        Ok(Identity::new(user.name.clone(), user.roles.clone()).with_email(user.email.clone()))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
