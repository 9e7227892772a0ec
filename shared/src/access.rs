//! Who a caller is and what role they hold on each cluster: the one definition of roles, their
//! order and the `*` wildcard, for the backend (which authenticates) and the console (which
//! shows what the caller may do).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The key of a roles map that applies to every cluster.
pub const ALL_CLUSTERS: &str = "*";

/// What a caller may do on a cluster. Each role includes the rights of the roles below it:
/// `Viewer < Requester < Approver < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees clusters, jobs and operations.
    Viewer,
    /// May also ask for a rescale.
    Requester,
    /// May also approve or reject other people's requests.
    Approver,
    /// May do everything, including cancelling and overriding.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Requester, Role::Approver, Role::Admin];

    /// The name used in configuration files and group names.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A role name that is none of `viewer`, `requester`, `approver`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected viewer, requester, approver or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses the exact lowercase name.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == name).ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

/// A role per cluster id, [`ALL_CLUSTERS`] standing for every cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Roles(BTreeMap<String, Role>);

impl Roles {
    pub fn new(roles: BTreeMap<String, Role>) -> Self {
        Self(roles)
    }

    /// The roles as granted: cluster id (or `*`) to role.
    pub fn as_map(&self) -> &BTreeMap<String, Role> {
        &self.0
    }

    /// The role on a cluster: the cluster's own entry when there is one (even if it is lower
    /// than the `*` entry, so a cluster can be restricted), else the `*` entry.
    pub fn role_on(&self, cluster_id: &str) -> Option<Role> {
        self.0.get(cluster_id).or_else(|| self.0.get(ALL_CLUSTERS)).copied()
    }

    /// Whether `role` (or a higher one) is held on the cluster.
    pub fn can(&self, cluster_id: &str, role: Role) -> bool {
        self.role_on(cluster_id).is_some_and(|held| held >= role)
    }

    /// The highest role held on any cluster: what screens that span clusters check.
    pub fn max_role(&self) -> Option<Role> {
        self.0.values().max().copied()
    }

    pub fn is_admin_anywhere(&self) -> bool {
        self.0.values().any(|role| *role == Role::Admin)
    }
}

/// An authenticated caller: a name and a role per cluster. The API answers it at `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Identity {
    pub name: String,
    /// Role by cluster id (`*` for every cluster).
    pub roles: Roles,
    /// The caller's email address, when the identity provider vouches for one (`email` claim,
    /// or a `tokens` user's `email`): where mail to people reaches them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Identity {
    pub fn new(name: impl Into<String>, roles: BTreeMap<String, Role>) -> Self {
        Self { name: name.into(), roles: Roles::new(roles), email: None }
    }

    /// The same identity with this email address.
    pub fn with_email(mut self, email: Option<String>) -> Self {
        self.email = email;
        self
    }

    /// The roles as granted: cluster id (or `*`) to role.
    pub fn roles(&self) -> &BTreeMap<String, Role> {
        self.roles.as_map()
    }

    /// See [`Roles::role_on`].
    pub fn role_on(&self, cluster_id: &str) -> Option<Role> {
        self.roles.role_on(cluster_id)
    }

    /// See [`Roles::can`].
    pub fn can(&self, cluster_id: &str, role: Role) -> bool {
        self.roles.can(cluster_id, role)
    }

    /// See [`Roles::max_role`].
    pub fn max_role(&self) -> Option<Role> {
        self.roles.max_role()
    }

    pub fn is_admin_anywhere(&self) -> bool {
        self.roles.is_admin_anywhere()
    }

    /// The same person: names are compared ignoring ASCII case and surrounding spaces.
    pub fn is(&self, name: &str) -> bool {
        same_user(&self.name, name)
    }
}

/// Two user names denote the same person: compared ignoring ASCII case and surrounding spaces.
pub fn same_user(left: &str, right: &str) -> bool {
    left.trim().eq_ignore_ascii_case(right.trim())
}
