//! The role order, names and the `*` wildcard lookup.

use std::collections::BTreeMap;

use rescaler_shared::access::{Identity, Role, UnknownRole};

fn roles(entries: &[(&str, Role)]) -> BTreeMap<String, Role> {
    entries.iter().map(|(cluster, role)| ((*cluster).to_owned(), *role)).collect()
}

#[test]
fn roles_are_ordered_from_viewer_to_admin() {
    assert!(Role::Viewer < Role::Requester);
    assert!(Role::Requester < Role::Approver);
    assert!(Role::Approver < Role::Admin);
    let mut sorted = Role::ALL;
    sorted.sort();
    assert_eq!(sorted, Role::ALL);
}

#[test]
fn roles_parse_from_their_lowercase_names_only() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        assert_eq!(role.to_string(), role.as_str());
    }
    assert_eq!("Admin".parse::<Role>(), Err(UnknownRole("Admin".to_owned())));
    assert!("operator".parse::<Role>().is_err());
    assert!("".parse::<Role>().is_err());
}

#[test]
fn roles_serialize_in_snake_case() {
    assert_eq!(serde_json::to_string(&Role::Approver).expect("serializes"), "\"approver\"");
    assert_eq!(serde_json::from_str::<Role>("\"requester\"").expect("deserializes"), Role::Requester);
    assert!(serde_json::from_str::<Role>("\"Requester\"").is_err());
}

#[test]
fn cluster_entry_wins_over_the_wildcard() {
    let identity = Identity::new("ann", roles(&[("*", Role::Admin), ("prod", Role::Viewer)]));
    assert_eq!(identity.role_on("prod"), Some(Role::Viewer));
    assert_eq!(identity.role_on("staging"), Some(Role::Admin));
    assert!(!identity.can("prod", Role::Requester));
    assert!(identity.can("staging", Role::Approver));
}

#[test]
fn without_wildcard_only_listed_clusters_have_a_role() {
    let identity = Identity::new("bob", roles(&[("prod", Role::Approver)]));
    assert_eq!(identity.role_on("prod"), Some(Role::Approver));
    assert_eq!(identity.role_on("staging"), None);
    assert!(identity.can("prod", Role::Viewer));
    assert!(identity.can("prod", Role::Requester));
    assert!(identity.can("prod", Role::Approver));
    assert!(!identity.can("prod", Role::Admin));
    assert!(!identity.can("staging", Role::Viewer));
}

#[test]
fn max_role_and_admin_anywhere_look_at_every_entry() {
    let identity = Identity::new("cy", roles(&[("*", Role::Viewer), ("lab", Role::Admin)]));
    assert_eq!(identity.max_role(), Some(Role::Admin));
    assert!(identity.is_admin_anywhere());
    let identity = Identity::new("dee", roles(&[("*", Role::Requester), ("lab", Role::Approver)]));
    assert_eq!(identity.max_role(), Some(Role::Approver));
    assert!(!identity.is_admin_anywhere());
    let nobody = Identity::new("eve", BTreeMap::new());
    assert_eq!(nobody.max_role(), None);
    assert!(!nobody.is_admin_anywhere());
    assert!(!nobody.can("lab", Role::Viewer));
}
