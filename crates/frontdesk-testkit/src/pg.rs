//! A fresh PostgreSQL schema per test, so tests run in parallel against one database and never
//! see each other's rows.
//!
//! The database comes from `FRONTDESK_TEST_DATABASE_URL`. Without it a test is skipped with a
//! line on stderr, except in CI (`CI=true`), where a missing database is an error: PostgreSQL
//! tests must not silently pass there.

use sqlx::{Connection, PgConnection};

pub const DATABASE_URL_VAR: &str = "FRONTDESK_TEST_DATABASE_URL";

/// Creates an empty schema named `t_<uuid>` and returns a URL whose connections all use it as
/// their `search_path` (so unqualified tables, migrations included, land there).
///
/// Returns `None` (after printing `SKIPPED (not run): …`) when the variable is unset outside CI;
/// the caller returns early. Panics when it is unset in CI, or when the database cannot be used.
pub async fn fresh_database_url(test_name: &str) -> Option<String> {
    let base = match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{DATABASE_URL_VAR} is not set but CI=true: PostgreSQL tests must run in CI");
            }
            eprintln!("SKIPPED (not run): {test_name} needs {DATABASE_URL_VAR}");
            return None;
        }
    };
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{test_name}: cannot connect to {DATABASE_URL_VAR}: {e}"));
    // Identifiers cannot be bound; the name is ours (hex digits), never input.
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{test_name}: cannot create schema {schema}: {e}"));
    let _ = conn.close().await;
    Some(with_search_path(&base, &schema))
}

/// Appends `options=-c search_path=<schema>` (URL-encoded) to `url`. libpq and sqlx both accept
/// several `options` parameters and join them, so an `options` already in the URL still counts.
pub fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Drops the schema the URL's connections use, if it is one [`fresh_database_url`] made.
/// Best effort: a test calls it at its end, and a failed test leaves its schema to look at.
pub async fn drop_schema(url: &str) {
    let Ok(mut conn) = PgConnection::connect(url).await else { return };
    let schema: Result<String, _> = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut conn).await;
    if let Ok(schema) = schema
        && is_test_schema(&schema)
        && let Err(e) = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(&mut conn).await
    {
        eprintln!("could not drop test schema {schema}: {e}");
    }
    let _ = conn.close().await;
}

/// `t_` and 32 lower-case hex digits: the only names [`drop_schema`] drops.
fn is_test_schema(name: &str) -> bool {
    name.strip_prefix("t_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_search_path_option() {
        assert_eq!(with_search_path("postgres://u@h/db", "t_1"), "postgres://u@h/db?options=-c%20search_path%3Dt_1");
        assert_eq!(
            with_search_path("postgres://u@h/db?sslmode=disable", "t_1"),
            "postgres://u@h/db?sslmode=disable&options=-c%20search_path%3Dt_1"
        );
    }

    #[test]
    fn drops_only_its_own_schemas() {
        assert!(is_test_schema("t_0123456789abcdef0123456789abcdef"));
        assert!(!is_test_schema("public"));
        assert!(!is_test_schema("t_"));
        assert!(!is_test_schema("t_0123456789ABCDEF0123456789abcdef"));
    }

    #[tokio::test]
    async fn connections_use_the_fresh_schema() {
        let Some(url) = fresh_database_url("testkit::connections_use_the_fresh_schema").await else { return };
        let mut conn = PgConnection::connect(&url).await.expect("connect with the fresh schema's URL");
        let schema: String =
            sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut conn).await.expect("current schema");
        assert!(is_test_schema(&schema), "search_path names the fresh schema, got {schema}");
        sqlx::query("CREATE TABLE probe (id int)").execute(&mut conn).await.expect("create a table");
        let home: String = sqlx::query_scalar("SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'probe' AND table_schema = current_schema()")
            .fetch_one(&mut conn)
            .await
            .expect("find the table");
        assert_eq!(home, schema, "unqualified tables land in the fresh schema");
        conn.close().await.expect("close");
        drop_schema(&url).await;
        let mut check = PgConnection::connect(&url).await.expect("connect again");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1")
            .bind(&schema)
            .fetch_one(&mut check)
            .await
            .expect("count schemas");
        assert_eq!(left, 0, "drop_schema removed {schema}");
        check.close().await.expect("close");
    }
}
