//! The runtime config file (`--runtime-config-file`): where each SQLite
//! database lives, and the state and log directories. Unknown keys are
//! rejected, as in Spin.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub sqlite_database: BTreeMap<String, SqliteDatabase>,
    /// Spin's `state_dir` key (`""` unsets it), used when `--state-dir`
    /// is not given.
    #[serde(default)]
    pub state_dir: Option<String>,
    /// Spin's `log_dir` key (`""` unsets it), used when `--log-dir` is not
    /// given.
    #[serde(default)]
    pub log_dir: Option<String>,
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    File(PathBuf),
    /// `type = "spin"` without a path, or `default` without a state
    /// directory: every connection gets its own empty in-memory database,
    /// as in Spin.
    InMemory,
}

impl SqliteLocation {
    /// How Spin's exported spans name the database (`sqlite.backend`):
    /// the file's path as Rust debug-prints it.
    pub fn summary(&self) -> String {
        match self {
            SqliteLocation::File(path) => format!("{path:?}"),
            SqliteLocation::InMemory => "in-memory".to_owned(),
        }
    }
}

/// A directory given on the command line or in the runtime config: unset
/// by an empty value, else the given path, else Spin's default.
pub fn user_path(flag: Option<&str>, toml: Option<&str>) -> Option<Option<PathBuf>> {
    flag.or(toml)
        .map(|value| (!value.is_empty()).then(|| PathBuf::from(value)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteDatabase {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub path: Option<PathBuf>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read runtime config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid runtime config {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let config: RuntimeConfig = toml::from_str(text)?;
        for (label, db) in &config.sqlite_database {
            if db.kind != "spin" {
                bail!("sqlite_database.{label}: only type = \"spin\" (a local file) is supported by spin-host");
            }
        }
        Ok(config)
    }

    /// Label → location for every database: the runtime config's paths
    /// (relative ones resolved against `working_dir`, where `spin up` runs;
    /// none means in memory), else for `default` Spin's `sqlite_db.db` in
    /// the state directory, in memory when there is none. Parent folders
    /// are created, as Spin does.
    pub fn sqlite_locations(
        &self,
        working_dir: &Path,
        state_dir: Option<&Path>,
    ) -> Result<BTreeMap<String, SqliteLocation>> {
        let mut locations = BTreeMap::new();
        locations.insert(
            "default".to_owned(),
            state_dir.map_or(SqliteLocation::InMemory, |dir| {
                SqliteLocation::File(dir.join("sqlite_db.db"))
            }),
        );
        for (label, db) in &self.sqlite_database {
            let location = match &db.path {
                Some(path) => SqliteLocation::File(working_dir.join(path)),
                None => SqliteLocation::InMemory,
            };
            locations.insert(label.clone(), location);
        }
        for location in locations.values() {
            if let SqliteLocation::File(path) = location {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| {
                        format!(
                            "failed to create sqlite database directory '{}'",
                            parent.display()
                        )
                    })?;
                }
            }
        }
        Ok(locations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = RuntimeConfig::parse(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"data/db.sqlite3\"\n",
        )
        .unwrap();
        let files = config.sqlite_locations(dir.path(), None).unwrap();
        assert_eq!(
            files["default"],
            SqliteLocation::File(dir.path().join("data/db.sqlite3"))
        );
        assert!(dir.path().join("data").is_dir(), "parent folder created");
    }

    #[test]
    fn default_database_lives_in_the_state_dir_or_in_memory_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".spin");
        let files = RuntimeConfig::default()
            .sqlite_locations(dir.path(), Some(&state))
            .unwrap();
        assert_eq!(
            files["default"],
            SqliteLocation::File(state.join("sqlite_db.db"))
        );
        let files = RuntimeConfig::default()
            .sqlite_locations(dir.path(), None)
            .unwrap();
        assert_eq!(files["default"], SqliteLocation::InMemory);
    }

    #[test]
    fn a_spin_database_without_a_path_is_in_memory() {
        let config = RuntimeConfig::parse("[sqlite_database.default]\ntype = \"spin\"\n").unwrap();
        let files = config.sqlite_locations(Path::new("/"), None).unwrap();
        assert_eq!(files["default"], SqliteLocation::InMemory);
    }

    #[test]
    fn state_and_log_dirs_come_from_the_flag_then_the_file() {
        let config = RuntimeConfig::parse("state_dir = \"/data/.spin\"\nlog_dir = \"\"\n").unwrap();
        assert_eq!(
            user_path(None, config.state_dir.as_deref()),
            Some(Some(PathBuf::from("/data/.spin")))
        );
        assert_eq!(user_path(None, config.log_dir.as_deref()), Some(None));
        assert_eq!(
            user_path(Some("/x"), config.log_dir.as_deref()),
            Some(Some(PathBuf::from("/x")))
        );
        assert_eq!(user_path(None, None), None);
    }

    #[test]
    fn unknown_keys_and_types_are_rejected() {
        assert!(RuntimeConfig::parse("[key_value_store.default]\ntype = \"spin\"\n").is_err());
        assert!(
            RuntimeConfig::parse("[sqlite_database.default]\ntype = \"spin\"\npaht = \"x\"\n")
                .is_err()
        );
        assert!(RuntimeConfig::parse(
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"x\"\n"
        )
        .is_err());
    }
}
