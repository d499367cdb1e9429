//! The runtime config file (`--runtime-config-file`): where each SQLite
//! database lives. Unknown keys are rejected, as in Spin.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub sqlite_database: BTreeMap<String, SqliteDatabase>,
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

    /// Label → file for every database: the runtime config's paths (relative
    /// ones resolved against `working_dir`, where `spin up` runs), else Spin's
    /// default `.spin/sqlite_db.db` beside the manifest for `default`.
    pub fn sqlite_files(
        &self,
        working_dir: &Path,
        app_dir: &Path,
    ) -> Result<BTreeMap<String, PathBuf>> {
        let mut files = BTreeMap::new();
        files.insert(
            "default".to_owned(),
            app_dir.join(".spin").join("sqlite_db.db"),
        );
        for (label, db) in &self.sqlite_database {
            let path = db
                .path
                .clone()
                .with_context(|| format!("sqlite_database.{label} needs a path"))?;
            files.insert(label.clone(), working_dir.join(path));
        }
        for path in files.values() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
        }
        Ok(files)
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
        let files = config
            .sqlite_files(dir.path(), Path::new("/nonexistent-app"))
            .unwrap();
        assert_eq!(files["default"], dir.path().join("data/db.sqlite3"));
        assert!(dir.path().join("data").is_dir(), "parent folder created");
    }

    #[test]
    fn default_database_lives_in_dot_spin() {
        let dir = tempfile::tempdir().unwrap();
        let files = RuntimeConfig::default()
            .sqlite_files(dir.path(), dir.path())
            .unwrap();
        assert_eq!(files["default"], dir.path().join(".spin/sqlite_db.db"));
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
