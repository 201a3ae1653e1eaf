//! An organization's paid subscription, as the payment provider reports it, and what it means for
//! the plan (the entitlements themselves stay in [`crate::plans`]).

use crate::plans::{PRO_INCLUDED_SEATS, Plan};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A subscription's status, by the provider's names (Paddle Billing's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    /// A renewal payment failed; the provider retries. Pro is kept meanwhile, and shown as due.
    PastDue,
    Paused,
    Canceled,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 5] =
        [Self::Active, Self::Trialing, Self::PastDue, Self::Paused, Self::Canceled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<SubscriptionStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the subscription still pays for Pro: active, trialing, or past due (kept while the
    /// provider retries the payment). Paused and canceled fall back to Free.
    pub fn grants_pro(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue)
    }
}

/// What an organization's subscription is, as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The provider's subscription id (`sub_…`).
    pub subscription_id: String,
    /// The provider's customer id (`ctm_…`).
    pub customer_id: Option<String>,
    pub status: SubscriptionStatus,
    /// The plan and extra seats this subscription gives (see [`Subscription::entitles`]).
    pub plan: Plan,
    pub extra_seats: u32,
    /// When the provider says the change happened: older reports never overwrite newer ones.
    pub occurred_at: Timestamp,
}

impl Subscription {
    /// The plan and extra seats for a status and the number of Pro seats paid for (the quantity
    /// of the Pro price; `None` when no item is a Pro price). Pro includes
    /// [`PRO_INCLUDED_SEATS`]; seats paid beyond those are extra.
    pub fn entitles(status: SubscriptionStatus, pro_seats: Option<u32>) -> (Plan, u32) {
        match pro_seats {
            Some(seats) if status.grants_pro() => (Plan::Pro, seats.saturating_sub(PRO_INCLUDED_SEATS)),
            _ => (Plan::Free, 0),
        }
    }
}

/// What the store did with a reported subscription change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionApplied {
    /// The organization now has it.
    Applied,
    /// This event id was applied (or found stale) before: nothing changed.
    Duplicate,
    /// A newer change was applied already: nothing changed (the event id is remembered).
    Stale,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pro_while_paying_or_retrying_free_otherwise() {
        use SubscriptionStatus::*;
        assert_eq!(Subscription::entitles(Active, Some(10)), (Plan::Pro, 0));
        assert_eq!(Subscription::entitles(Trialing, Some(3)), (Plan::Pro, 0));
        assert_eq!(Subscription::entitles(PastDue, Some(14)), (Plan::Pro, 4));
        assert_eq!(Subscription::entitles(Paused, Some(14)), (Plan::Free, 0));
        assert_eq!(Subscription::entitles(Canceled, Some(14)), (Plan::Free, 0));
        assert_eq!(Subscription::entitles(Active, None), (Plan::Free, 0), "no Pro price, no Pro");
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(SubscriptionStatus::parse("expired"), None);
    }
}
