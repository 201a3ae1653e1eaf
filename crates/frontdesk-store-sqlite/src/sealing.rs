//! Key rotation for encryption at rest: re-sealing stored values with the primary key.

use super::*;
use frontdesk_crypto::fields::{self, Seal};

impl SqliteStore {
    pub(crate) async fn reseal_rows(&self, limit: u32) -> StoreResult<u64> {
        let seal = self.seal();
        let Some(sealer) = seal.sealer() else { return Ok(0) };
        // Values sealed with the primary key start with this; everything else is due.
        let current = format!("fdenc:1:{}:%", sealer.ring().primary_id());
        let limit = i64::from(limit.clamp(1, 10_000));
        let mut done = 0u64;
        for c in fields::TEXT_COLUMNS {
            let rows = sqlx::query(&format!(
                "SELECT {key} AS k, {column} AS v FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE ? LIMIT ?",
                key = c.key,
                column = c.column,
                table = c.table
            ))
            .bind(&current)
            .bind(limit - i64::try_from(done).unwrap_or(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
            for row in rows {
                let key: String = get(&row, "k")?;
                let old: String = get(&row, "v")?;
                let plain = seal.open(c.aad, old.clone()).map_err(sealing)?;
                let new = seal.text(c.aad, &plain).map_err(sealing)?;
                let mut q = format!("UPDATE {} SET {} = ?", c.table, c.column);
                if c.aad == fields::MESSAGE_BODY {
                    // The search tokens come from the primary key too.
                    q.push_str(", search_text = ?");
                }
                q.push_str(&format!(" WHERE {} = ? AND {} = ?", c.key, c.column));
                let mut update = sqlx::query(&q).bind(new);
                if c.aad == fields::MESSAGE_BODY {
                    update = update.bind(seal.search_text(&plain));
                }
                // Compare-and-set on the old value: a concurrent write wins.
                update.bind(&key).bind(&old).execute(&self.writer).await.map_err(map_err)?;
                done += 1;
            }
            if done >= u64::try_from(limit).unwrap_or(u64::MAX) {
                return Ok(done);
            }
        }
        done += self.reseal_sites(seal).await?;
        done += self.reseal_flow_runs(seal, &current).await?;
        Ok(done)
    }

    /// The LLM API key inside each site's assistant settings.
    async fn reseal_sites(&self, seal: Seal<'_>) -> StoreResult<u64> {
        let Some(sealer) = seal.sealer() else { return Ok(0) };
        let rows = sqlx::query("SELECT id, assistant FROM sites").fetch_all(&self.reader).await.map_err(map_err)?;
        let mut done = 0;
        for row in rows {
            let id_text: String = get(&row, "id")?;
            let old: String = get(&row, "assistant")?;
            let mut assistant: AssistantSettings = serde_json::from_str(&old).map_err(|e| corrupt("assistant", e))?;
            let ProviderSettings::Openai { api_key: Some(key), .. } = &mut assistant.provider else { continue };
            if !sealer.needs_reseal(key) {
                continue;
            }
            let plain = seal.open(fields::SITE_API_KEY, key.clone()).map_err(sealing)?;
            *key = seal.text(fields::SITE_API_KEY, &plain).map_err(sealing)?;
            sqlx::query("UPDATE sites SET assistant = ? WHERE id = ? AND assistant = ?")
                .bind(to_json(&assistant)?)
                .bind(&id_text)
                .bind(&old)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            done += 1;
        }
        Ok(done)
    }

    /// Scenario runs: JSON, sealed into a JSON string.
    async fn reseal_flow_runs(&self, seal: Seal<'_>, current: &str) -> StoreResult<u64> {
        let rows = sqlx::query("SELECT conversation_id, run FROM conversation_flows WHERE run NOT LIKE ? LIMIT 1000")
            .bind(format!("\"{current}"))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        let mut done = 0;
        for row in rows {
            let key: String = get(&row, "conversation_id")?;
            let old: String = get(&row, "run")?;
            let value: serde_json::Value = serde_json::from_str(&old).map_err(|e| corrupt("run", e))?;
            let plain = seal.open_json(fields::FLOW_RUN, value).map_err(sealing)?;
            let new = to_json(&seal.seal_json(fields::FLOW_RUN, &plain).map_err(sealing)?)?;
            sqlx::query("UPDATE conversation_flows SET run = ? WHERE conversation_id = ? AND run = ?")
                .bind(new)
                .bind(&key)
                .bind(&old)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            done += 1;
        }
        Ok(done)
    }
}
