//! Typed store errors with messages that say what to do.

use std::fmt;

/// Which SQL backend a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// One SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server (shared deployments).
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// Errors of the SQL store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named skill, version or row does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A concurrent or duplicate write: the skill already exists, the expected
    /// version is no longer current, a version number is taken, or the skill is still
    /// called by others. Re-read and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request itself is wrong (unknown callee version, malformed value).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store URL cannot be used.
    #[error(
        "unsupported store URL {url:?}: use sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST:PORT/DB"
    )]
    Url {
        /// The URL as given, its password redacted.
        url: String,
    },
    /// The database failed.
    #[error("{backend} database error at {location}: {source}; {hint}")]
    Database {
        /// Which backend.
        backend: Backend,
        /// The file path or host/database (without credentials).
        location: String,
        /// What to do about it.
        hint: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema migrations failed.
    #[error("{backend} schema migration failed at {location}: {source}; {hint}")]
    Migrate {
        /// Which backend.
        backend: Backend,
        /// The file path or host/database (without credentials).
        location: String,
        /// What to do about it.
        hint: &'static str,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A JSON column could not be decoded (the row was written by something else).
    #[error("corrupt JSON in column {column}: {source}; the row was not written by skillforge")]
    Json {
        /// Table.column.
        column: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Where a store lives, for error messages (never contains credentials).
#[derive(Debug, Clone)]
pub(crate) struct DbInfo {
    pub(crate) backend: Backend,
    pub(crate) location: String,
}

impl DbInfo {
    /// A PostgreSQL server's host, port and database (no user, no password).
    pub(crate) fn postgres(options: &sqlx::postgres::PgConnectOptions) -> DbInfo {
        DbInfo {
            backend: Backend::Postgres,
            location: format!(
                "{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("")
            ),
        }
    }

    /// Map a driver error: unique and foreign-key violations become `Conflict` /
    /// `Invalid`, everything else `Database` with a hint.
    pub(crate) fn err(&self, source: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &source {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
            if db.is_foreign_key_violation() {
                return StoreError::Invalid(format!(
                    "reference to a missing row: {}",
                    db.message()
                ));
            }
        }
        StoreError::Database {
            backend: self.backend,
            location: self.location.clone(),
            hint: self.hint(&source),
            source,
        }
    }

    pub(crate) fn migrate_err(&self, source: sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError;
        let hint = match &source {
            MigrateError::VersionMissing(_) | MigrateError::VersionTooNew(..) => {
                "the database was migrated by a newer skillforge; upgrade skillforge or use another database"
            }
            MigrateError::VersionMismatch(_) => {
                "an applied migration differs from this build's copy; restore the original migration files or start a new database"
            }
            MigrateError::Dirty(_) => {
                "a previous migration failed half-way; restore the database from a backup"
            }
            MigrateError::Execute(e) => self.hint(e),
            _ => "check that the database is reachable and writable",
        };
        StoreError::Migrate {
            backend: self.backend,
            location: self.location.clone(),
            hint,
            source,
        }
    }

    fn hint(&self, source: &sqlx::Error) -> &'static str {
        let connection_trouble = matches!(
            source,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Configuration(_)
                | sqlx::Error::Protocol(_)
        );
        let busy = matches!(source, sqlx::Error::Database(db)
            if db.message().contains("database is locked") || db.message().contains("busy"));
        match (self.backend, connection_trouble || busy) {
            (Backend::Sqlite, _) if busy => {
                "another process holds a write lock on the file; retry, or stop the other skillforge process"
            }
            (Backend::Sqlite, true) => {
                "check that the file's directory exists and is writable and that the disk is not full"
            }
            (Backend::Postgres, true) => {
                "check that PostgreSQL is running and reachable and that the URL's user, password and database are right (scripts/start-postgres starts a local one)"
            }
            (_, false) => {
                "the schema may have been changed by hand; run with RUST_LOG=debug and report the error"
            }
        }
    }
}
