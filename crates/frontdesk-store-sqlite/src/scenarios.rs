//! Bot scenarios, their published versions and the conversations' runs of them.

use super::*;
use frontdesk_core::scenarios::{FlowState, Scenario, ScenarioVersion};
use frontdesk_crypto::fields::{self, Seal};

const SCENARIO_COLS: &str =
    "id, org_id, site_id, name, draft, published_version, published_at, starts_conversations, created_at, updated_at";
const FLOW_COLS: &str = "conversation_id, org_id, scenario_id, version, run, due_at, revision, updated_at";

fn scenario_from_row(row: &SqliteRow) -> StoreResult<Scenario> {
    Ok(Scenario {
        id: ScenarioId(uuid_at(row, "id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        site_id: SiteId(uuid_at(row, "site_id")?),
        name: get(row, "name")?,
        draft: json_at(row, "draft")?,
        published_version: get(row, "published_version")?,
        published_at: opt_ts_at(row, "published_at")?,
        starts_conversations: get(row, "starts_conversations")?,
        created_at: ts_at(row, "created_at")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

fn version_from_row(row: &SqliteRow) -> StoreResult<ScenarioVersion> {
    Ok(ScenarioVersion {
        scenario_id: ScenarioId(uuid_at(row, "scenario_id")?),
        version: get(row, "version")?,
        document: json_at(row, "document")?,
        published_at: ts_at(row, "published_at")?,
    })
}

fn flow_from_row(seal: Seal<'_>, row: &SqliteRow) -> StoreResult<FlowState> {
    Ok(FlowState {
        conversation_id: ConversationId(uuid_at(row, "conversation_id")?),
        org_id: OrgId(uuid_at(row, "org_id")?),
        scenario_id: ScenarioId(uuid_at(row, "scenario_id")?),
        version: get(row, "version")?,
        run: seal.open_json(fields::FLOW_RUN, json_at(row, "run")?).map_err(sealing)?,
        due_at: opt_ts_at(row, "due_at")?,
        revision: get(row, "revision")?,
        updated_at: ts_at(row, "updated_at")?,
    })
}

impl SqliteStore {
    pub(crate) async fn create_scenario_row(&self, s: &Scenario) -> StoreResult<()> {
        // The site must be the organization's: an id of another organization is "not found".
        let done = sqlx::query(&format!(
            "INSERT INTO scenarios ({SCENARIO_COLS}) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sites WHERE id = ? AND org_id = ?)"
        ))
        .bind(id(s.id.0))
        .bind(id(s.org_id.0))
        .bind(id(s.site_id.0))
        .bind(&s.name)
        .bind(to_json(&s.draft)?)
        .bind(s.published_version)
        .bind(s.published_at.map(|t| t.0))
        .bind(s.starts_conversations)
        .bind(s.created_at.0)
        .bind(s.updated_at.0)
        .bind(id(s.site_id.0))
        .bind(id(s.org_id.0))
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn get_scenario_row(&self, org_id: OrgId, scenario: ScenarioId) -> StoreResult<Scenario> {
        let row = sqlx::query(&format!("SELECT {SCENARIO_COLS} FROM scenarios WHERE id = ? AND org_id = ?"))
            .bind(id(scenario.0))
            .bind(id(org_id.0))
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        scenario_from_row(&row)
    }

    pub(crate) async fn list_scenario_rows(&self, org_id: OrgId, site_id: SiteId) -> StoreResult<Vec<Scenario>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCENARIO_COLS} FROM scenarios WHERE site_id = ? AND org_id = ? ORDER BY name, id"
        ))
        .bind(id(site_id.0))
        .bind(id(org_id.0))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(scenario_from_row).collect()
    }

    pub(crate) async fn update_scenario_row(&self, s: &Scenario) -> StoreResult<()> {
        let done = sqlx::query("UPDATE scenarios SET name = ?, draft = ?, updated_at = ? WHERE id = ? AND org_id = ?")
            .bind(&s.name)
            .bind(to_json(&s.draft)?)
            .bind(s.updated_at.0)
            .bind(id(s.id.0))
            .bind(id(s.org_id.0))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        expect_one_row(done)
    }

    pub(crate) async fn delete_scenario_row(&self, org_id: OrgId, scenario: ScenarioId) -> StoreResult<()> {
        // Versions and runs go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM scenarios WHERE id = ? AND org_id = ?")
            .bind(id(scenario.0))
            .bind(id(org_id.0))
            .execute(&self.writer)
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
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!("SELECT {SCENARIO_COLS} FROM scenarios WHERE id = ? AND org_id = ?"))
            .bind(id(scenario.0))
            .bind(id(org_id.0))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut s = scenario_from_row(&row)?;
        let version = s.published_version.unwrap_or(0) + 1;
        sqlx::query("INSERT INTO scenario_versions (scenario_id, version, document, published_at) VALUES (?, ?, ?, ?)")
            .bind(id(scenario.0))
            .bind(version)
            .bind(to_json(document)?)
            .bind(at.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("UPDATE scenarios SET published_version = ?, published_at = ?, updated_at = ? WHERE id = ?")
            .bind(version)
            .bind(at.0)
            .bind(at.0)
            .bind(id(scenario.0))
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
             JOIN scenarios s ON s.id = v.scenario_id WHERE v.scenario_id = ? AND v.version = ? AND s.org_id = ?",
        )
        .bind(id(scenario.0))
        .bind(version)
        .bind(id(org_id.0))
        .fetch_one(&self.reader)
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
        let mut tx = self.write_tx().await?;
        if let Some(scenario) = scenario {
            // Checked first, so an id of another site or organization changes nothing.
            sqlx::query("SELECT 1 FROM scenarios WHERE id = ? AND site_id = ? AND org_id = ?")
                .bind(id(scenario.0))
                .bind(id(site_id.0))
                .bind(id(org_id.0))
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query(
            "UPDATE scenarios SET starts_conversations = COALESCE(id = ?, FALSE) WHERE site_id = ? AND org_id = ?",
        )
        .bind(opt_id(scenario.map(|s| s.0)))
        .bind(id(site_id.0))
        .bind(id(org_id.0))
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
             WHERE s.site_id = ? AND s.org_id = ? ORDER BY s.name, s.id",
            SCENARIO_COLS = SCENARIO_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(id(site_id.0))
        .bind(id(org_id.0))
        .fetch_all(&self.reader)
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
            "SELECT {FLOW_COLS} FROM conversation_flows WHERE conversation_id = ? AND org_id = ?"
        ))
        .bind(id(conversation_id.0))
        .bind(id(org_id.0))
        .fetch_optional(&self.reader)
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
        let mut tx = self.write_tx().await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM conversation_flows WHERE conversation_id = ? AND org_id = ?")
                .bind(id(conversation_id.0))
                .bind(id(org_id.0))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if current != expected {
            return Ok(false);
        }
        match state {
            None => {
                sqlx::query("DELETE FROM conversation_flows WHERE conversation_id = ? AND org_id = ?")
                    .bind(id(conversation_id.0))
                    .bind(id(org_id.0))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            Some(f) => {
                // The conversation must be the organization's.
                let done = sqlx::query(&format!(
                    "INSERT INTO conversation_flows ({FLOW_COLS}) \
                     SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ? AND org_id = ?) \
                     ON CONFLICT (conversation_id) DO UPDATE SET scenario_id = excluded.scenario_id, \
                     version = excluded.version, run = excluded.run, due_at = excluded.due_at, \
                     revision = excluded.revision, updated_at = excluded.updated_at"
                ))
                .bind(id(conversation_id.0))
                .bind(id(org_id.0))
                .bind(id(f.scenario_id.0))
                .bind(f.version)
                .bind(to_json(&self.seal().seal_json(fields::FLOW_RUN, &f.run).map_err(sealing)?)?)
                .bind(f.due_at.map(|t| t.0))
                .bind(expected.unwrap_or(0) + 1)
                .bind(f.updated_at.0)
                .bind(id(conversation_id.0))
                .bind(id(org_id.0))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                expect_one_row(done)?;
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn due_flow_rows(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<FlowState>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_COLS} FROM conversation_flows WHERE due_at IS NOT NULL AND due_at <= ? \
             ORDER BY due_at LIMIT ?"
        ))
        .bind(now.0)
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| flow_from_row(self.seal(), r)).collect()
    }
}
