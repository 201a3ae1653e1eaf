//! Analytics: the dashboard's report, computed from compact per-conversation rows the store
//! reads in one query. Pure functions, so the numbers are tested without a database.

use crate::ids::*;
use crate::model::Reaction;
use crate::status::ConversationStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What the report needs to know about one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationStat {
    pub id: ConversationId,
    pub site_id: SiteId,
    pub created_at: Timestamp,
    pub status: ConversationStatus,
    pub escalated_at: Option<Timestamp>,
    pub first_agent_reply_at: Option<Timestamp>,
    pub rating: Option<u8>,
    pub assistant_messages: i64,
    pub agent_messages: i64,
}

impl ConversationStat {
    /// Ended (resolved or closed) by the assistant alone: never escalated, no agent wrote in it,
    /// and the assistant did answer.
    pub fn ai_resolved(&self) -> bool {
        matches!(self.status, ConversationStatus::Resolved | ConversationStatus::Closed)
            && self.escalated_at.is_none()
            && self.agent_messages == 0
            && self.assistant_messages > 0
    }

    /// From the escalation (or, for a conversation a person took without one, its start) to
    /// the first agent message.
    pub fn first_response_ms(&self) -> Option<i64> {
        let reply = self.first_agent_reply_at?;
        let from = self.escalated_at.unwrap_or(self.created_at);
        Some((reply.millis() - from.millis()).max(0))
    }
}

/// A thumbs up or down on an assistant's answer, dated by the answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReactionStat {
    pub at: Timestamp,
    pub reaction: Reaction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DayRow {
    /// `YYYY-MM-DD` in the report's time zone.
    pub date: String,
    pub conversations: u32,
    pub ai_resolved: u32,
    pub escalated: u32,
    pub thumbs_up: u32,
    pub thumbs_down: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub from: Timestamp,
    pub to: Timestamp,
    pub conversations: u32,
    pub ai_resolved: u32,
    pub escalated: u32,
    /// Shares of all conversations in the range, 0.0–1.0.
    pub ai_resolved_share: f64,
    pub escalated_share: f64,
    /// Median and 90th percentile of humans' first response time; `None` without data.
    pub first_response_median_ms: Option<i64>,
    pub first_response_p90_ms: Option<i64>,
    pub ratings: u32,
    pub average_rating: Option<f64>,
    /// How many ratings gave 1, 2, 3, 4 and 5 stars.
    pub rating_distribution: [u32; 5],
    /// Every day of the range, also the empty ones, so a chart has no holes.
    pub days: Vec<DayRow>,
    /// Conversations started in each hour of the day (0–23), in the report's time zone.
    pub busiest_hours: [u32; 24],
}

const DAY_MS: i64 = 86_400_000;

/// Days since the epoch of a local (offset-shifted) instant.
fn local_day(at: Timestamp, offset_ms: i64) -> i64 {
    (at.millis() + offset_ms).div_euclid(DAY_MS)
}

fn date_of_day(day: i64) -> String {
    let t = Timestamp::from_millis(day * DAY_MS).to_rfc3339();
    t.get(..10).unwrap_or("1970-01-01").to_owned()
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank.
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The report over conversations started in `[from, to)`; `tz_offset_minutes` shifts days and
/// hours into the viewer's time zone (e.g. 60 for UTC+1).
pub fn report(
    from: Timestamp,
    to: Timestamp,
    tz_offset_minutes: i32,
    conversations: &[ConversationStat],
    reactions: &[ReactionStat],
) -> Report {
    let offset_ms = i64::from(tz_offset_minutes) * 60_000;
    let first_day = local_day(from, offset_ms);
    // `to` is exclusive: the last day is the one holding the instant just before it.
    let last_day = local_day(Timestamp::from_millis(to.millis() - 1), offset_ms).max(first_day);
    // A bounded chart: at most about three years of days.
    let last_day = last_day.min(first_day + 1100);
    let mut days: BTreeMap<i64, DayRow> = (first_day..=last_day)
        .map(|d| {
            let row = DayRow {
                date: date_of_day(d),
                conversations: 0,
                ai_resolved: 0,
                escalated: 0,
                thumbs_up: 0,
                thumbs_down: 0,
            };
            (d, row)
        })
        .collect();
    let in_range = |at: Timestamp| at >= from && at < to;

    let mut busiest_hours = [0u32; 24];
    let mut rating_distribution = [0u32; 5];
    let mut first_responses = Vec::new();
    let (mut total, mut ai, mut escalated, mut ratings, mut stars_sum) = (0u32, 0u32, 0u32, 0u32, 0u64);
    for c in conversations.iter().filter(|c| in_range(c.created_at)) {
        total += 1;
        let local = c.created_at.millis() + offset_ms;
        busiest_hours[(local.rem_euclid(DAY_MS) / 3_600_000) as usize] += 1;
        let row = days.get_mut(&local_day(c.created_at, offset_ms));
        let (is_ai, is_escalated) = (c.ai_resolved(), c.escalated_at.is_some());
        if let Some(row) = row {
            row.conversations += 1;
            row.ai_resolved += u32::from(is_ai);
            row.escalated += u32::from(is_escalated);
        }
        ai += u32::from(is_ai);
        escalated += u32::from(is_escalated);
        if let Some(ms) = c.first_response_ms() {
            first_responses.push(ms);
        }
        if let Some(stars @ 1..=5) = c.rating {
            ratings += 1;
            stars_sum += u64::from(stars);
            rating_distribution[usize::from(stars - 1)] += 1;
        }
    }
    for r in reactions.iter().filter(|r| in_range(r.at)) {
        if let Some(row) = days.get_mut(&local_day(r.at, offset_ms)) {
            match r.reaction {
                Reaction::Up => row.thumbs_up += 1,
                Reaction::Down => row.thumbs_down += 1,
            }
        }
    }
    first_responses.sort_unstable();
    let share = |n: u32| if total == 0 { 0.0 } else { f64::from(n) / f64::from(total) };
    Report {
        from,
        to,
        conversations: total,
        ai_resolved: ai,
        escalated,
        ai_resolved_share: share(ai),
        escalated_share: share(escalated),
        first_response_median_ms: percentile(&first_responses, 0.5),
        first_response_p90_ms: percentile(&first_responses, 0.9),
        ratings,
        average_rating: (ratings > 0).then(|| stars_sum as f64 / f64::from(ratings)),
        rating_distribution,
        days: days.into_values().collect(),
        busiest_hours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const DAY0: i64 = 1_763_683_200_000; // 2025-11-21T00:00:00Z

    fn stat(at: i64, status: ConversationStatus) -> ConversationStat {
        ConversationStat {
            id: ConversationId(Uuid::nil()),
            site_id: SiteId(Uuid::nil()),
            created_at: Timestamp(at),
            status,
            escalated_at: None,
            first_agent_reply_at: None,
            rating: None,
            assistant_messages: 1,
            agent_messages: 0,
        }
    }

    #[test]
    fn counts_shares_ratings_and_response_times() {
        let resolved_by_ai = stat(DAY0 + 3_600_000, ConversationStatus::Resolved);
        let still_open = stat(DAY0 + 2 * 3_600_000, ConversationStatus::Active);
        let mut escalated = stat(DAY0 + DAY_MS + 3_600_000, ConversationStatus::Resolved);
        escalated.escalated_at = Some(Timestamp(DAY0 + DAY_MS + 3_600_000 + 1_000));
        escalated.first_agent_reply_at = Some(Timestamp(DAY0 + DAY_MS + 3_600_000 + 61_000));
        escalated.agent_messages = 2;
        escalated.rating = Some(4);
        let mut rated = resolved_by_ai.clone();
        rated.rating = Some(2);
        let outside = stat(DAY0 + 5 * DAY_MS, ConversationStatus::Resolved);
        let all = [resolved_by_ai, still_open, escalated, rated, outside];
        let reactions = [
            ReactionStat { at: Timestamp(DAY0 + 10), reaction: Reaction::Up },
            ReactionStat { at: Timestamp(DAY0 + DAY_MS + 10), reaction: Reaction::Down },
        ];
        let r = report(Timestamp(DAY0), Timestamp(DAY0 + 2 * DAY_MS), 0, &all, &reactions);
        assert_eq!(r.conversations, 4);
        assert_eq!(r.ai_resolved, 2);
        assert_eq!(r.escalated, 1);
        assert!((r.ai_resolved_share - 0.5).abs() < 1e-9);
        assert_eq!(r.first_response_median_ms, Some(60_000));
        assert_eq!(r.ratings, 2);
        assert_eq!(r.average_rating, Some(3.0));
        assert_eq!(r.rating_distribution, [0, 1, 0, 1, 0]);
        assert_eq!(r.days.len(), 2);
        assert_eq!(r.days[0].date, "2025-11-21");
        assert_eq!((r.days[0].conversations, r.days[0].thumbs_up), (3, 1));
        assert_eq!((r.days[1].escalated, r.days[1].thumbs_down), (1, 1));
        assert_eq!(r.busiest_hours[1], 3);
        assert_eq!(r.busiest_hours[2], 1);
    }

    #[test]
    fn time_zone_shifts_days_and_hours() {
        // 23:30 UTC is 00:30 the next day at UTC+1.
        let late = stat(DAY0 + 23 * 3_600_000 + 1_800_000, ConversationStatus::Active);
        let r = report(Timestamp(DAY0 - 3_600_000), Timestamp(DAY0 + 2 * DAY_MS - 3_600_000), 60, &[late], &[]);
        assert_eq!(r.days[1].date, "2025-11-22");
        assert_eq!(r.days[1].conversations, 1);
        assert_eq!(r.busiest_hours[0], 1);
    }

    #[test]
    fn an_empty_range_has_zero_shares_and_no_averages() {
        let r = report(Timestamp(DAY0), Timestamp(DAY0 + DAY_MS), 0, &[], &[]);
        assert_eq!(r.conversations, 0);
        assert_eq!(r.ai_resolved_share, 0.0);
        assert_eq!(r.average_rating, None);
        assert_eq!(r.first_response_median_ms, None);
        assert_eq!(r.days.len(), 1);
    }
}
