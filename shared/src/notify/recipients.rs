//! Who an event concerns, for the email channels that write to people (`to_people`):
//! `requested` goes to those who may approve the request (an approver or admin on its cluster,
//! never the requester: the rule of [`UserAction::Approve`]), `approved`, `rejected`,
//! `cancelled` and `expired` to the requester, `started`, `completed`, `rolled_back` and
//! `failed` to both; `out_of_band` (no request's) to the approvers of its cluster
//! (`cluster_approvers`). A person whose address is not known is named, not dropped, so the
//! delivery log can say so.

use serde::{Deserialize, Serialize};

use super::NotifyEvent;
use crate::access::{Identity, Role, Roles, same_user};
use crate::operation::Operation;
use crate::user_action::UserAction;

/// Whom an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Those who may approve the request.
    Approvers,
    /// The person who asked for it.
    Requester,
    Both,
}

impl NotifyEvent {
    /// Whom this event is for; see the module docs.
    pub fn audience(self) -> Audience {
        match self {
            // An out-of-band change: those who approve changes on its cluster.
            Self::Requested | Self::OutOfBand | Self::ScheduleRequested => Audience::Approvers,
            Self::Approved | Self::Rejected | Self::Cancelled | Self::Expired => Audience::Requester,
            Self::ScheduleApproved | Self::ScheduleRejected | Self::ScheduleCancelled | Self::ScheduleExpired => {
                Audience::Requester
            }
            Self::Started | Self::Completed | Self::RolledBack | Self::Failed => Audience::Both,
            Self::OccurrenceSkipped | Self::OccurrenceMissed => Audience::Both,
        }
    }
}

/// A person the backend knows: from the configured users or the user directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub roles: Roles,
}

impl Person {
    pub(super) fn identity(&self) -> Identity {
        Identity::new(self.name.clone(), self.roles.as_map().clone())
    }

    /// Whether this person may approve the request: the role [`UserAction::Approve`] needs on
    /// its cluster, and not its requester.
    pub fn may_approve(&self, operation: &Operation) -> bool {
        let identity = self.identity();
        let role = UserAction::Approve.needed_role(operation, &identity);
        identity.can(&operation.cluster_id, role) && !identity.is(&operation.requested_by)
    }
}

/// The addresses an event goes to, and the people it is for whose address is not known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    /// Each once (compared ignoring ASCII case), in the order found.
    pub addresses: Vec<String>,
    /// Names, each once.
    pub unaddressed: Vec<String>,
}

impl Recipients {
    fn add(&mut self, name: &str, email: Option<&str>) {
        match email.map(str::trim).filter(|email| !email.is_empty()) {
            Some(email) => {
                if !self.addresses.iter().any(|known| known.eq_ignore_ascii_case(email)) {
                    self.addresses.push(email.to_owned());
                }
            }
            None => {
                if !self.unaddressed.iter().any(|known| same_user(known, name)) {
                    self.unaddressed.push(name.to_owned());
                }
            }
        }
    }
}

/// The people an event is for, among `people` (the first entry of a name counts): its
/// `requester` when the audience includes them, and each person `concerned` accepts when it
/// includes the approvers.
pub(super) fn gather(
    audience: Audience,
    requester: Option<&str>,
    people: &[Person],
    concerned: impl Fn(&Person) -> bool,
) -> Recipients {
    let mut recipients = Recipients::default();
    if let Some(requester) = requester.filter(|_| matches!(audience, Audience::Requester | Audience::Both)) {
        let known = people.iter().find(|person| same_user(&person.name, requester));
        recipients.add(requester, known.and_then(|person| person.email.as_deref()));
    }
    if matches!(audience, Audience::Approvers | Audience::Both) {
        for (index, person) in people.iter().enumerate() {
            let first = !people[..index].iter().any(|earlier| same_user(&earlier.name, &person.name));
            if first && concerned(person) {
                recipients.add(&person.name, person.email.as_deref());
            }
        }
    }
    recipients
}

/// The people who approve requests on `cluster_id` (an approver or admin there), for an
/// out-of-band change, which has no request and no requester.
pub fn cluster_approvers(cluster_id: &str, people: &[Person]) -> Recipients {
    gather(Audience::Approvers, None, people, |person| person.identity().can(cluster_id, Role::Approver))
}

/// The people `event` of `operation` is for, among `people` (the first entry of a name counts).
pub fn people_for(event: NotifyEvent, operation: &Operation, people: &[Person]) -> Recipients {
    gather(event.audience(), Some(&operation.requested_by), people, |person| person.may_approve(operation))
}
