//! Opens the configured backend. The concrete store is kept next to the trait object so the
//! process can close it cleanly on shutdown.

use crate::settings::{Settings, SqliteSynchronous, redact_url};
use anyhow::Context;
use frontdesk_core::store::Store;
use frontdesk_store_postgres::PgStore;
use frontdesk_store_sqlite::{SqliteOptions, SqliteStore};
use std::sync::Arc;

pub enum Storage {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl Storage {
    /// Connects and runs the backend's migrations.
    pub async fn open(settings: &Settings) -> anyhow::Result<Storage> {
        let sealer = settings.key_ring()?.map(|ring| Arc::new(frontdesk_crypto::Sealer::new(ring)));
        match &settings.database_url {
            Some(url) => {
                let store = PgStore::connect(url)
                    .await
                    .with_context(|| format!("cannot open PostgreSQL at {}", redact_url(url)))?;
                let store = match sealer {
                    Some(sealer) => store.with_sealer(sealer),
                    None => store,
                };
                Ok(Storage::Postgres(Arc::new(store)))
            }
            None => {
                let path = settings.data_dir.join("frontdesk.db");
                let options =
                    SqliteOptions { synchronous_full: settings.sqlite_synchronous == SqliteSynchronous::Full };
                let store = SqliteStore::open(&path, options)
                    .await
                    .with_context(|| format!("cannot open SQLite at {}", path.display()))?;
                let store = match sealer {
                    Some(sealer) => store.with_sealer(sealer),
                    None => store,
                };
                Ok(Storage::Sqlite(Arc::new(store)))
            }
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Storage::Sqlite(s) => s.clone(),
            Storage::Postgres(s) => s.clone(),
        }
    }

    pub fn describe(&self, settings: &Settings) -> String {
        match self {
            Storage::Sqlite(_) => format!("sqlite:{}", settings.data_dir.join("frontdesk.db").display()),
            Storage::Postgres(_) => redact_url(settings.database_url.as_deref().unwrap_or("")),
        }
    }

    pub async fn close(&self) {
        match self {
            Storage::Sqlite(s) => s.close().await,
            Storage::Postgres(s) => s.close().await,
        }
    }
}

/// Replaces the SQLite database of `settings.data_dir` with `backup`, after checking it. Refuses
/// while a server may be using the database (its write-ahead log exists: a server that stopped
/// cleanly checkpointed and removed it).
pub async fn restore_sqlite(settings: &Settings, backup: &std::path::Path) -> anyhow::Result<()> {
    if settings.database_url.is_some() {
        anyhow::bail!("on PostgreSQL, restore with pg_restore or psql (see docs/deploy.md)");
    }
    let target = settings.data_dir.join("frontdesk.db");
    let wal = settings.data_dir.join("frontdesk.db-wal");
    if wal.exists() {
        anyhow::bail!("{} exists: is a server running on this data directory? Stop it first", wal.display());
    }
    SqliteStore::verify_file(backup).await.with_context(|| format!("{} is not a usable backup", backup.display()))?;
    std::fs::create_dir_all(&settings.data_dir)?;
    // Copied next to the database, then renamed over it: the database is never half written.
    let staging = settings.data_dir.join("frontdesk.db.restoring");
    std::fs::copy(backup, &staging).with_context(|| format!("cannot copy {}", backup.display()))?;
    std::fs::rename(&staging, &target).with_context(|| format!("cannot replace {}", target.display()))?;
    let _ = std::fs::remove_file(settings.data_dir.join("frontdesk.db-shm"));
    // Brings the schema up to date if the backup is older than this version.
    let store = SqliteStore::open(&target, SqliteOptions::default()).await?;
    store.close().await;
    println!("restored {} from {}", target.display(), backup.display());
    Ok(())
}
