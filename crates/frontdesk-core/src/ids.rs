//! Typed UUIDv7 identifiers. A v7 id sorts by creation time, which keeps indexes compact.

use crate::ports::{Clock, Entropy};
pub use uuid::Uuid;

/// Makes a UUIDv7 from the injected clock and entropy, so tests are deterministic.
pub fn new_uuid_v7(clock: &dyn Clock, entropy: &dyn Entropy) -> Uuid {
    let mut random = [0u8; 10];
    entropy.fill(&mut random);
    let ms = u64::try_from(clock.now().millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

#[macro_export]
#[doc(hidden)]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub $crate::ids::Uuid);

        impl $name {
            pub fn generate(clock: &dyn $crate::ports::Clock, entropy: &dyn $crate::ports::Entropy) -> Self {
                $name($crate::ids::new_uuid_v7(clock, entropy))
            }
            pub const fn uuid(self) -> $crate::ids::Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::ids::Uuid::parse_str(s).map($name)
            }
        }

        impl From<$crate::ids::Uuid> for $name {
            fn from(u: $crate::ids::Uuid) -> Self {
                $name(u)
            }
        }
    };
}

crate::id_type!(
    /// An organization: the tenant boundary.
    OrgId
);
crate::id_type!(UserId);
crate::id_type!(SiteId);
crate::id_type!(VisitorId);
crate::id_type!(
    /// A conversation. The public API calls it a session: `session_id` is this id.
    ConversationId
);
crate::id_type!(MessageId);
crate::id_type!(AuditEventId);
crate::id_type!(VisitorEventId);
crate::id_type!(
    /// A private note agents leave on a conversation; visitors never see it.
    NoteId
);
crate::id_type!(CannedResponseId);
crate::id_type!(InviteId);
crate::id_type!(UnansweredId);
crate::id_type!(
    /// A bot scenario (a flow) of a site.
    ScenarioId
);
crate::id_type!(
    /// An organization's outgoing webhook endpoint.
    WebhookEndpointId
);
crate::id_type!(
    /// One event sent (or to be sent) to one webhook endpoint, with its retries.
    WebhookDeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{FixedClock, SeededEntropy};

    #[test]
    fn ids_are_v7_and_sort_by_time() {
        let clock = FixedClock::at(1_700_000_000_000);
        let entropy = SeededEntropy::new(7);
        let a = OrgId::generate(&clock, &entropy);
        clock.advance_millis(1);
        let b = OrgId::generate(&clock, &entropy);
        assert_eq!(a.0.get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<OrgId>().ok(), Some(a));
    }
}
