//! What people do to a request before it runs — approve, reject, cancel, break glass — and the
//! one rule of who may do which, when.
//!
//! [`refusal`] is that rule: the role the action needs on the request's cluster, then what the
//! request's phase, its approval window and its approvals allow. The API refuses with it, the
//! approvals inbox lists what it allows, and the console shows only the buttons [`Permitted`]
//! allows. The mutations ([`approve`], [`reject`], [`cancel`], [`break_glass`]) check the phase
//! part again, so a record never changes against the rule.
//!
//! Deciding what code a job runs — linking a running job to an artifact, entry class and
//! arguments, deploying one — is [`may_link_jobs`]; the program arguments are shown to the
//! same roles only. A re-link while a request waits for approval is [`take_new_artifact`].

use crate::access::{Identity, Role, same_user};
use crate::operation::{Approval, ArtifactRef, BreakGlass, Operation, OperationEvent, event_kind};
use crate::operation::{Phase, PhaseName};
use crate::recurring::{RecurringSchedule, ScheduleState};

/// Something a person does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserAction {
    Approve,
    Reject,
    Cancel,
    BreakGlass,
}

impl UserAction {
    pub const ALL: [Self; 4] = [Self::Approve, Self::Reject, Self::Cancel, Self::BreakGlass];

    /// The role `identity` needs on the request's cluster for this action: the requester may
    /// withdraw their own request; cancelling someone else's, approving and rejecting take an
    /// approver; breaking the glass takes an admin.
    pub fn needed_role(self, op: &Operation, identity: &Identity) -> Role {
        match self {
            Self::Approve | Self::Reject => Role::Approver,
            Self::Cancel if identity.is(&op.requested_by) => Role::Requester,
            Self::Cancel => Role::Approver,
            Self::BreakGlass => Role::Admin,
        }
    }
}

/// The role that decides what code a job runs: linking a running job to an artifact, entry
/// class and arguments, and deploying a job from an artifact.
pub const LINKS_JOBS: Role = Role::Admin;

/// Whether `identity` may link or deploy jobs on the cluster, and so read the program arguments
/// of its jobs (they often carry credentials): everyone else sees them hidden.
pub fn may_link_jobs(identity: &Identity, cluster_id: &str) -> bool {
    identity.can(cluster_id, LINKS_JOBS)
}

/// Whether `identity` may upload jars: a requester on some cluster (artifacts belong to no
/// cluster; running one takes [`may_link_jobs`] on the cluster it runs on).
pub fn may_upload_artifacts(identity: &Identity) -> bool {
    identity.max_role().is_some_and(|role| role >= Role::Requester)
}

/// Why a user action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionRefused {
    #[error("this needs the {role} role on cluster {cluster_id}")]
    NeedsRole { role: Role, cluster_id: String },
    #[error("the operation is {phase}, not awaiting approval")]
    NotAwaitingApproval { phase: PhaseName },
    #[error("the approval window closed")]
    ApprovalWindowClosed,
    #[error("the acting user is not known")]
    MissingActor,
    #[error("nobody may approve their own request")]
    OwnRequest,
    #[error("{by} already approved this operation")]
    AlreadyApproved { by: String },
    #[error("break-glass was already used by {by}")]
    AlreadyBrokenGlass { by: String },
    #[error("break-glass needs a reason")]
    ReasonRequired,
    #[error("the operation is {phase}; it can only be cancelled before it touches flink")]
    NotCancellable { phase: PhaseName },
    #[error("the schedule is {state}; it no longer allows this")]
    ScheduleClosed { state: &'static str },
}

impl ActionRefused {
    /// The caller lacks the right (a role, or it is their own request), as opposed to the
    /// request no longer allowing the action.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::NeedsRole { .. } | Self::OwnRequest)
    }
}

/// Why `identity` may not do `action` to `op` at `now_ms`, or `None` when they may.
///
/// The role comes first, then the phase rules in the order the mutations check them.
pub fn refusal(op: &Operation, identity: &Identity, action: UserAction, now_ms: u64) -> Option<ActionRefused> {
    let role = action.needed_role(op, identity);
    if !identity.can(&op.cluster_id, role) {
        return Some(ActionRefused::NeedsRole { role, cluster_id: op.cluster_id.clone() });
    }
    phase_rule(op, &identity.name, action, now_ms).err()
}

/// Performs `action` for `identity` when [`refusal`] allows it. `text` is the comment, or the
/// reason of a break-glass.
pub fn act(
    op: &mut Operation,
    identity: &Identity,
    action: UserAction,
    text: &str,
    now_ms: u64,
) -> Result<(), ActionRefused> {
    if let Some(refused) = refusal(op, identity, action, now_ms) {
        return Err(refused);
    }
    match action {
        UserAction::Approve => approve(op, &identity.name, text, now_ms),
        UserAction::Reject => reject(op, &identity.name, text, now_ms),
        UserAction::Cancel => cancel(op, &identity.name, text, now_ms),
        UserAction::BreakGlass => break_glass(op, &identity.name, text, now_ms),
    }
}

/// What a caller may do to a request now, and, when nothing, why — for the console's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permitted {
    pub approve: bool,
    pub reject: bool,
    pub cancel: bool,
    pub break_glass: bool,
    /// A sentence for people, when no action is allowed.
    pub why_none: String,
}

impl Permitted {
    pub fn of(op: &Operation, identity: &Identity, now_ms: u64) -> Self {
        let allows = |action| refusal(op, identity, action, now_ms).is_none();
        let mut permitted = Self {
            approve: allows(UserAction::Approve),
            reject: allows(UserAction::Reject),
            cancel: allows(UserAction::Cancel),
            break_glass: allows(UserAction::BreakGlass),
            why_none: String::new(),
        };
        if !permitted.any() {
            permitted.why_none = why_none(op, identity, now_ms);
        }
        permitted
    }

    pub fn allows(&self, action: UserAction) -> bool {
        match action {
            UserAction::Approve => self.approve,
            UserAction::Reject => self.reject,
            UserAction::Cancel => self.cancel,
            UserAction::BreakGlass => self.break_glass,
        }
    }

    pub fn any(&self) -> bool {
        UserAction::ALL.into_iter().any(|action| self.allows(action))
    }
}

fn why_none(op: &Operation, identity: &Identity, now_ms: u64) -> String {
    let phase = op.phase.name();
    let awaiting = phase == PhaseName::AwaitingApproval;
    if phase.is_terminal() {
        "This request has ended; nothing more can be done to it.".to_owned()
    } else if !awaiting && phase != PhaseName::Approved {
        "The rescale is running; it can no longer be cancelled. The backend rolls back by itself if it fails."
            .to_owned()
    } else if awaiting && now_ms >= op.expires_at_ms {
        "The approval window has closed; the request expires at the next check.".to_owned()
    } else if identity.is(&op.requested_by) {
        "You asked for this rescale; someone else must approve it.".to_owned()
    } else if op.approvals.iter().any(|approval| identity.is(&approval.by)) {
        "You approved this request; it waits for more approvals.".to_owned()
    } else {
        let role = identity.role_on(&op.cluster_id).map_or("no role", Role::as_str);
        format!("Your role on {} ({role}) cannot act on this request.", op.cluster_id)
    }
}

/// What the phase, the approval window and the recorded approvals allow, whoever asks; answers
/// the acting user's name, trimmed.
fn phase_rule<'a>(op: &Operation, by: &'a str, action: UserAction, now_ms: u64) -> Result<&'a str, ActionRefused> {
    let by = by.trim();
    if by.is_empty() {
        return Err(ActionRefused::MissingActor);
    }
    match action {
        UserAction::Approve => {
            open_for_approval(op, now_ms)?;
            if same_user(by, &op.requested_by) {
                return Err(ActionRefused::OwnRequest);
            }
            if let Some(approval) = op.approvals.iter().find(|approval| same_user(&approval.by, by)) {
                return Err(ActionRefused::AlreadyApproved { by: approval.by.clone() });
            }
        }
        UserAction::Reject if op.phase != Phase::AwaitingApproval => {
            return Err(ActionRefused::NotAwaitingApproval { phase: op.phase.name() });
        }
        UserAction::Reject => {}
        UserAction::Cancel if !matches!(op.phase, Phase::AwaitingApproval | Phase::Approved) => {
            return Err(ActionRefused::NotCancellable { phase: op.phase.name() });
        }
        UserAction::Cancel => {}
        UserAction::BreakGlass => {
            open_for_approval(op, now_ms)?;
            if let Some(existing) = &op.break_glass {
                return Err(ActionRefused::AlreadyBrokenGlass { by: existing.by.clone() });
            }
        }
    }
    Ok(by)
}

fn open_for_approval(op: &Operation, now_ms: u64) -> Result<(), ActionRefused> {
    if op.phase != Phase::AwaitingApproval {
        return Err(ActionRefused::NotAwaitingApproval { phase: op.phase.name() });
    }
    if now_ms >= op.expires_at_ms {
        return Err(ActionRefused::ApprovalWindowClosed);
    }
    Ok(())
}

/// Records `by`'s approval. Only while awaiting approval and before the window closes; nobody
/// approves their own request, nobody approves twice. Users are compared ignoring ASCII case
/// and surrounding spaces. Moving to [`Phase::Approved`] is left to the phase machine.
pub fn approve(op: &mut Operation, by: &str, comment: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = phase_rule(op, by, UserAction::Approve, now_ms)?;
    op.approvals.push(Approval { by: by.to_owned(), at_ms: now_ms, comment: comment.to_owned() });
    let message =
        format!("{by} approved ({} of {}){}", op.approval_count(), op.required_approvals, comment_suffix(comment));
    op.record(OperationEvent::by_user(now_ms, by, event_kind::APPROVED, message));
    Ok(())
}

/// Rejects the request. Only while awaiting approval; any approver may reject, the requester too.
pub fn reject(op: &mut Operation, by: &str, comment: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = phase_rule(op, by, UserAction::Reject, now_ms)?;
    op.enter(Phase::Rejected { by: by.to_owned(), comment: comment.to_owned() }, now_ms);
    let message = format!("{by} rejected the request{}", comment_suffix(comment));
    op.record(OperationEvent::by_user(now_ms, by, event_kind::REJECTED, message));
    Ok(())
}

/// Cancels the operation. Only before it touched Flink: awaiting approval or approved.
pub fn cancel(op: &mut Operation, by: &str, comment: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = phase_rule(op, by, UserAction::Cancel, now_ms)?;
    op.enter(Phase::Cancelled { by: by.to_owned(), comment: comment.to_owned() }, now_ms);
    let message = format!("{by} cancelled the operation{}", comment_suffix(comment));
    op.record(OperationEvent::by_user(now_ms, by, event_kind::CANCELLED, message));
    Ok(())
}

/// Bypasses the approval count in an emergency. Needs a reason; only while awaiting approval
/// and before the window closes; once per operation. The requester may break the glass on
/// their own request: who may is a role ([`UserAction::needed_role`]).
pub fn break_glass(op: &mut Operation, by: &str, reason: &str, now_ms: u64) -> Result<(), ActionRefused> {
    let by = phase_rule(op, by, UserAction::BreakGlass, now_ms)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ActionRefused::ReasonRequired);
    }
    op.break_glass = Some(BreakGlass { by: by.to_owned(), at_ms: now_ms, reason: reason.to_owned() });
    op.record(OperationEvent::by_user(now_ms, by, event_kind::BREAK_GLASS, format!("{by} broke the glass: {reason}")));
    Ok(())
}

/// The job of a request waiting for approval was linked to other code: the request takes the
/// new artifact (what it will resubmit) and loses its approvals and any break-glass, so that
/// the approvers approve what will run; an event by `by` says why. `described` says what the
/// job now runs, in words (without the arguments). Answers whether the request changed: not
/// when it already carries that artifact, nor once it left awaiting approval (it runs what was
/// approved).
pub fn take_new_artifact(op: &mut Operation, artifact: ArtifactRef, by: &str, described: &str, now_ms: u64) -> bool {
    if op.phase != Phase::AwaitingApproval || op.artifact.as_ref() == Some(&artifact) {
        return false;
    }
    let cleared: Vec<&str> = op.approvals.iter().map(|approval| approval.by.as_str()).collect();
    let cleared = match (cleared.is_empty(), &op.break_glass) {
        (true, None) => "it had no approvals yet".to_owned(),
        (false, None) => format!("the approvals of {} are cleared", cleared.join(", ")),
        (true, Some(glass)) => format!("the break-glass of {} is cleared", glass.by),
        (false, Some(glass)) => {
            format!("the approvals of {} and the break-glass of {} are cleared", cleared.join(", "), glass.by)
        }
    };
    let message = format!(
        "{by} linked the job to {described} while the request waited for approval: {cleared}, it must be approved again"
    );
    op.artifact = Some(artifact);
    op.approvals.clear();
    op.break_glass = None;
    op.record(OperationEvent::by_user(now_ms, by, event_kind::RELINKED, message));
    true
}

fn comment_suffix(comment: &str) -> String {
    let comment = comment.trim();
    if comment.is_empty() { String::new() } else { format!(": {comment}") }
}

/// Something a person does to a recurring schedule ([`crate::recurring`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleAction {
    Request,
    Approve,
    Reject,
    Cancel,
}

/// Why `identity` may not do `action` to `schedule` at `now_ms`, or `None` when they may: the
/// same roles as a request's — a requester asks, an approver who is not the requester approves
/// or rejects while it awaits approval, its requester or an admin cancels it until it ended.
pub fn schedule_refusal(
    schedule: &RecurringSchedule,
    identity: &Identity,
    action: ScheduleAction,
    now_ms: u64,
) -> Option<ActionRefused> {
    let own = identity.is(&schedule.requested_by);
    let role = match action {
        ScheduleAction::Request => Role::Requester,
        ScheduleAction::Approve | ScheduleAction::Reject => Role::Approver,
        ScheduleAction::Cancel if own => Role::Requester,
        ScheduleAction::Cancel => Role::Admin,
    };
    if !identity.can(&schedule.cluster_id, role) {
        return Some(ActionRefused::NeedsRole { role, cluster_id: schedule.cluster_id.clone() });
    }
    let closed = ActionRefused::ScheduleClosed { state: schedule.state.as_str() };
    let awaiting = schedule.state == ScheduleState::AwaitingApproval;
    match action {
        ScheduleAction::Request => None,
        ScheduleAction::Cancel => schedule.state.is_ended().then_some(closed),
        _ if !awaiting => Some(closed),
        _ if now_ms >= schedule.expires_at_ms => Some(ActionRefused::ApprovalWindowClosed),
        _ if own => Some(ActionRefused::OwnRequest),
        ScheduleAction::Approve => schedule
            .approvals
            .iter()
            .find(|approval| identity.is(&approval.by))
            .map(|approval| ActionRefused::AlreadyApproved { by: approval.by.clone() }),
        ScheduleAction::Reject => None,
    }
}

/// Performs `action` (approve, reject or cancel) on `schedule` when [`schedule_refusal`]
/// allows it; `comment` goes into its event.
pub fn act_on_schedule(
    schedule: &mut RecurringSchedule,
    identity: &Identity,
    action: ScheduleAction,
    comment: &str,
    now_ms: u64,
) -> Result<(), ActionRefused> {
    if let Some(refused) = schedule_refusal(schedule, identity, action, now_ms) {
        return Err(refused);
    }
    let by = identity.name.trim();
    match action {
        ScheduleAction::Request => {}
        ScheduleAction::Approve => schedule.record_approval(by, comment, now_ms),
        ScheduleAction::Reject => schedule.end(ScheduleState::Rejected, Some(by), comment, now_ms),
        ScheduleAction::Cancel => schedule.end(ScheduleState::Cancelled, Some(by), comment, now_ms),
    }
    Ok(())
}
