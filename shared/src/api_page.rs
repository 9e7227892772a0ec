//! Paged listings on the wire: the phase groups the request list is indexed by, the inbox
//! badge's count, and the header that carries the cursor of the next page.

use serde::{Deserialize, Serialize};

use crate::operation::PhaseName;

/// The response header of a paged listing (`GET /rescales`, `GET /audit`) that holds the cursor
/// of the next, older page; absent on the last page. Sent back as `?cursor=`.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// Where a request is in its life: waiting for approval, approved and not ended, or ended. A
/// request only ever moves forward through these, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhaseGroup {
    AwaitingApproval,
    Active,
    Terminal,
}

impl PhaseGroup {
    pub const ALL: [Self; 3] = [Self::AwaitingApproval, Self::Active, Self::Terminal];

    pub fn of(phase: PhaseName) -> Self {
        if phase == PhaseName::AwaitingApproval {
            Self::AwaitingApproval
        } else if phase.is_terminal() {
            Self::Terminal
        } else {
            Self::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting_approval",
            Self::Active => "active",
            Self::Terminal => "terminal",
        }
    }
}

/// `GET /rescales/awaiting-me/count`: how many requests the caller could approve now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AwaitingCount {
    pub count: usize,
}

/// One page of a listing and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::PhaseGroup;
    use crate::operation::PhaseName;

    #[test]
    fn every_phase_falls_in_the_group_its_life_says() {
        assert_eq!(PhaseGroup::of(PhaseName::AwaitingApproval), PhaseGroup::AwaitingApproval);
        assert_eq!(PhaseGroup::of(PhaseName::Approved), PhaseGroup::Active);
        assert_eq!(PhaseGroup::of(PhaseName::Verifying), PhaseGroup::Active);
        assert_eq!(PhaseGroup::of(PhaseName::RollingBack), PhaseGroup::Active);
        assert_eq!(PhaseGroup::of(PhaseName::Rejected), PhaseGroup::Terminal);
        assert_eq!(PhaseGroup::of(PhaseName::Completed), PhaseGroup::Terminal);
    }
}
