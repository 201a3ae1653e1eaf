//! Bot scenarios, their published versions and the conversations' runs of them.

use super::*;
use frontdesk_core::scenarios::{FlowState, Scenario, ScenarioVersion};
use frontdesk_crypto::fields::{self, Seal};

const SCENARIO_COLS: &str =
    "id, org_id, site_id, name, draft, published_version, published_at, starts_conversations, created_at, updated_at";
const FLOW_COLS: &str = "conversation_id, org_id, scenario_id, version, run, due_at, revision, updated_at";

fn scenario_from_row(row: &PgRow) -> StoreResult<Scenario> {
    Ok(Scenario {
        id: ScenarioId(get(row, "id")?),
        org_id: OrgId(get(row, "org_id")?),
        site_id: SiteId(get(row, "site_id")?),
        name: get(row, "name")?,
        draft: json_at(row, "draft")?,
        published_version: get(row, "published_version")?,
        published_at: opt_ts_at(row, "published_at")?,
        starts_conversations: get(row, "starts_conversations")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

fn version_from_row(row: &PgRow) -> StoreResult<ScenarioVersion> {
    Ok(ScenarioVersion {
        scenario_id: ScenarioId(get(row, "scenario_id")?),
        version: get(row, "version")?,
        document: json_at(row, "document")?,
        published_at: ts_at(row, "published_at")?,
    })
}

fn flow_from_row(seal: Seal<'_>, row: &PgRow) -> StoreResult<FlowState> {
    Ok(FlowState {
        conversation_id: ConversationId(get(row, "conversation_id")?),
        org_id: OrgId(get(row, "org_id")?),
        scenario_id: ScenarioId(get(row, "scenario_id")?),
        version: get(row, "version")?,
        run: seal.open_json(fields::FLOW_RUN, json_at(row, "run")?).map_err(sealing)?,
        due_at: opt_ts_at(row, "due_at")?,
        revision: get(row, "revision")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

impl PgStore {
    pub(crate) async fn create_scenario_row(&self, s: &Scenario) -> StoreResult<()> {
        // The site must be the organization's: an id of another organization is "not found".
        let done = sqlx::query(&format!(
            "INSERT INTO scenarios ({SCENARIO_COLS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM sites WHERE id = $11 AND org_id = $12)"
        ))
        .bind(s.id.0)
        .bind(s.org_id.0)
        .bind(s.site_id.0)
        .bind(&s.name)
        .bind(Json(&s.draft))
        .bind(s.published_version)
        .bind(s.published_at.map(|t| t.0))
        .bind(s.starts_conversations)
        .bind(s.created_at.0)
        .bind(s.updated_at.0)
        .bind(s.site_id.0)
        .bind(s.org_id.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn get_scenario_row(&self, org_id: OrgId, scenario: ScenarioId) -> StoreResult<Scenario> {
        let row = sqlx::query(&format!("SELECT {SCENARIO_COLS} FROM scenarios WHERE id = $1 AND org_id = $2"))
            .bind(scenario.0)
            .bind(org_id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        scenario_from_row(&row)
    }

    pub(crate) async fn list_scenario_rows(&self, org_id: OrgId, site_id: SiteId) -> StoreResult<Vec<Scenario>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCENARIO_COLS} FROM scenarios WHERE site_id = $1 AND org_id = $2 ORDER BY name, id"
        ))
        .bind(site_id.0)
        .bind(org_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(scenario_from_row).collect()
    }

    pub(crate) async fn update_scenario_row(&self, s: &Scenario) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE scenarios SET name = $1, draft = $2, updated_at = $3 WHERE id = $4 AND org_id = $5")
                .bind(&s.name)
                .bind(Json(&s.draft))
                .bind(s.updated_at.0)
                .bind(s.id.0)
                .bind(s.org_id.0)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn delete_scenario_row(&self, org_id: OrgId, scenario: ScenarioId) -> StoreResult<()> {
        // Versions and runs go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM scenarios WHERE id = $1 AND org_id = $2")
            .bind(scenario.0)
            .bind(org_id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn publish_scenario_row(
        &self,
        org_id: OrgId,
        scenario: ScenarioId,
        document: &serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<Scenario> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let row = sqlx::query(&format!("SELECT {SCENARIO_COLS} FROM scenarios WHERE id = $1 AND org_id = $2"))
            .bind(scenario.0)
            .bind(org_id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut s = scenario_from_row(&row)?;
        let version = s.published_version.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO scenario_versions (scenario_id, version, document, published_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(scenario.0)
        .bind(version)
        .bind(Json(document))
        .bind(at.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("UPDATE scenarios SET published_version = $1, published_at = $2, updated_at = $3 WHERE id = $4")
            .bind(version)
            .bind(at.0)
            .bind(at.0)
            .bind(scenario.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        s.published_version = Some(version);
        s.published_at = Some(at);
        s.updated_at = at;
        Ok(s)
    }

    pub(crate) async fn get_scenario_version_row(
        &self,
        org_id: OrgId,
        scenario: ScenarioId,
        version: i64,
    ) -> StoreResult<ScenarioVersion> {
        let row = sqlx::query(
            "SELECT v.scenario_id, v.version, v.document, v.published_at FROM scenario_versions v \
             JOIN scenarios s ON s.id = v.scenario_id WHERE v.scenario_id = $1 AND v.version = $2 AND s.org_id = $3",
        )
        .bind(scenario.0)
        .bind(version)
        .bind(org_id.0)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        version_from_row(&row)
    }

    pub(crate) async fn set_start_scenario_row(
        &self,
        org_id: OrgId,
        site_id: SiteId,
        scenario: Option<ScenarioId>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        if let Some(scenario) = scenario {
            // Checked first, so an id of another site or organization changes nothing.
            sqlx::query("SELECT 1 FROM scenarios WHERE id = $1 AND site_id = $2 AND org_id = $3")
                .bind(scenario.0)
                .bind(site_id.0)
                .bind(org_id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query(
            "UPDATE scenarios SET starts_conversations = COALESCE(id = $1, FALSE) WHERE site_id = $2 AND org_id = $3",
        )
        .bind(scenario.map(|s| s.0))
        .bind(site_id.0)
        .bind(org_id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn published_scenario_rows(
        &self,
        org_id: OrgId,
        site_id: SiteId,
    ) -> StoreResult<Vec<(Scenario, ScenarioVersion)>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCENARIO_COLS}, v.scenario_id, v.version, v.document, v.published_at AS version_published_at \
             FROM scenarios s JOIN scenario_versions v ON v.scenario_id = s.id AND v.version = s.published_version \
             WHERE s.site_id = $1 AND s.org_id = $2 ORDER BY s.name, s.id",
            SCENARIO_COLS = SCENARIO_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(site_id.0)
        .bind(org_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                let scenario = scenario_from_row(row)?;
                let version = ScenarioVersion {
                    scenario_id: scenario.id,
                    version: get(row, "version")?,
                    document: json_at(row, "document")?,
                    published_at: ts_at(row, "version_published_at")?,
                };
                Ok((scenario, version))
            })
            .collect()
    }

    pub(crate) async fn get_flow_row(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
    ) -> StoreResult<Option<FlowState>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLS} FROM conversation_flows WHERE conversation_id = $1 AND org_id = $2"
        ))
        .bind(conversation_id.0)
        .bind(org_id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(|r| flow_from_row(self.seal(), r)).transpose()
    }

    pub(crate) async fn put_flow_row(
        &self,
        org_id: OrgId,
        conversation_id: ConversationId,
        state: Option<&FlowState>,
        expected: Option<i64>,
    ) -> StoreResult<bool> {
        // Each case is one statement conditioned on the revision, so two nodes writing the same
        // run at once cannot both succeed (READ COMMITTED would let a read-then-write race).
        let written = match (state, expected) {
            (None, None) => {
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM conversation_flows WHERE conversation_id = $1 AND org_id = $2")
                        .bind(conversation_id.0)
                        .bind(org_id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                return Ok(exists.is_none());
            }
            (None, Some(revision)) => sqlx::query(
                "DELETE FROM conversation_flows WHERE conversation_id = $1 AND org_id = $2 AND revision = $3",
            )
            .bind(conversation_id.0)
            .bind(org_id.0)
            .bind(revision)
            .execute(&self.pool)
            .await
            .map_err(map_err)?,
            (Some(f), None) => {
                let done = sqlx::query(&format!(
                    "INSERT INTO conversation_flows ({FLOW_COLS}) \
                     SELECT $1, $2, $3, $4, $5, $6, 1, $7 \
                     WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND org_id = $2) \
                     ON CONFLICT (conversation_id) DO NOTHING"
                ))
                .bind(conversation_id.0)
                .bind(org_id.0)
                .bind(f.scenario_id.0)
                .bind(f.version)
                .bind(Json(self.seal().seal_json(fields::FLOW_RUN, &f.run).map_err(sealing)?))
                .bind(f.due_at.map(|t| t.0))
                .bind(f.updated_at.0)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
                if done.rows_affected() == 0 {
                    // Another organization's conversation is "not found"; a run already there is a lost race.
                    let exists: Option<i32> =
                        sqlx::query_scalar("SELECT 1 FROM conversations WHERE id = $1 AND org_id = $2")
                            .bind(conversation_id.0)
                            .bind(org_id.0)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(map_err)?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound);
                    }
                }
                done
            }
            (Some(f), Some(revision)) => sqlx::query(
                "UPDATE conversation_flows SET scenario_id = $3, version = $4, run = $5, due_at = $6, \
                 revision = $7 + 1, updated_at = $8 WHERE conversation_id = $1 AND org_id = $2 AND revision = $7",
            )
            .bind(conversation_id.0)
            .bind(org_id.0)
            .bind(f.scenario_id.0)
            .bind(f.version)
            .bind(Json(self.seal().seal_json(fields::FLOW_RUN, &f.run).map_err(sealing)?))
            .bind(f.due_at.map(|t| t.0))
            .bind(revision)
            .bind(f.updated_at.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?,
        };
        Ok(written.rows_affected() == 1)
    }

    pub(crate) async fn due_flow_rows(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<FlowState>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_COLS} FROM conversation_flows WHERE due_at IS NOT NULL AND due_at <= $1 \
             ORDER BY due_at LIMIT $2"
        ))
        .bind(now.0)
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| flow_from_row(self.seal(), r)).collect()
    }
}
