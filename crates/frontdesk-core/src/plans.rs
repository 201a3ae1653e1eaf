//! Plans and their entitlements, decided here and nowhere else.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// One seat, unlimited conversations, the default widget with "Powered by Frontdesk".
    #[default]
    Free,
    /// Ten seats (more can be bought), removable branding, full customization, audit-log export.
    Pro,
}

impl Plan {
    pub const ALL: [Plan; 2] = [Plan::Free, Plan::Pro];
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
        }
    }
    pub fn parse(text: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// The seats Pro includes before extra seats.
pub const PRO_INCLUDED_SEATS: u32 = 10;

/// What an organization may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Entitlements {
    /// Members plus pending invitations; `None` means no limit.
    pub seats: Option<u32>,
    pub remove_branding: bool,
    pub full_customization: bool,
    pub audit_export: bool,
}

impl Entitlements {
    /// Everything, without limits: for self-hosted operators who run with `billing = "off"`.
    pub const UNLIMITED: Entitlements =
        Entitlements { seats: None, remove_branding: true, full_customization: true, audit_export: true };

    /// The plan's entitlements, with billing on.
    pub fn of(plan: Plan, extra_seats: u32) -> Entitlements {
        match plan {
            Plan::Free => {
                Entitlements { seats: Some(1), remove_branding: false, full_customization: false, audit_export: false }
            }
            Plan::Pro => Entitlements {
                seats: Some(PRO_INCLUDED_SEATS.saturating_add(extra_seats)),
                remove_branding: true,
                full_customization: true,
                audit_export: true,
            },
        }
    }

    /// Whether one more seat fits when `used` are taken.
    pub fn has_seat_for_one_more(&self, used: u32) -> bool {
        self.seats.is_none_or(|limit| used < limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_has_one_seat_and_pro_ten_plus_extras() {
        assert_eq!(Entitlements::of(Plan::Free, 5).seats, Some(1));
        assert_eq!(Entitlements::of(Plan::Pro, 0).seats, Some(10));
        assert_eq!(Entitlements::of(Plan::Pro, 3).seats, Some(13));
        assert!(Entitlements::of(Plan::Pro, 0).has_seat_for_one_more(9));
        assert!(!Entitlements::of(Plan::Pro, 0).has_seat_for_one_more(10));
        assert!(Entitlements::UNLIMITED.has_seat_for_one_more(u32::MAX));
        assert!(!Entitlements::of(Plan::Free, 0).audit_export);
    }

    #[test]
    fn plans_parse_from_their_names() {
        for p in Plan::ALL {
            assert_eq!(Plan::parse(p.as_str()), Some(p));
        }
        assert_eq!(Plan::parse("gold"), None);
    }
}
