//! The subset of `spin.toml` (manifest version 2) this host understands.
//! Anything it would have to ignore silently is an error instead, so an app
//! that needs more than this host offers fails loudly at start-up.

use crate::variables::VariableDecl;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, Component>,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// A local path to the `.wasm`, relative to the manifest.
    pub source: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// Component variables: templates over application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Used by `spin build`; this host does not build.
    #[serde(default)]
    pub build: Option<toml::Value>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let manifest: Manifest = toml::from_str(&text)
            .with_context(|| format!("invalid manifest {}", path.display()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<()> {
        if self.spin_manifest_version != 2 {
            // Spin's words (spin-manifest), so the start-up error reads the same.
            bail!("invalid manifest version: {}", self.spin_manifest_version);
        }
        for (name, decl) in &self.variables {
            crate::variables::check_name(name)?;
            if decl.required && decl.default.is_some() {
                bail!("variable `{name}` cannot be both required and have a default");
            }
        }
        let defaults = crate::variables::AppVariables::defaults(&self.variables);
        for (name, component) in &self.component {
            crate::outbound::check_allowed_hosts_with_defaults(
                &component.allowed_outbound_hosts,
                |entry| defaults.expand(entry),
            )
            .with_context(|| format!("Failed to load component `{name}`"))?;
        }
        if self.trigger.http.is_empty() {
            bail!("the manifest has no [[trigger.http]]");
        }
        for trigger in &self.trigger.http {
            if !self.component.contains_key(&trigger.component) {
                bail!(
                    "trigger route `{}` names unknown component `{}`",
                    trigger.route,
                    trigger.component
                );
            }
            crate::routes::Route::parse(&trigger.route)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    const GOOD: &str = r#"
spin_manifest_version = 2
[application]
name = "app"
[variables]
key = { required = true, secret = true }
url = { default = "http://127.0.0.1:9" }
[[trigger.http]]
route = "/orders/..."
component = "c"
[component.c]
source = "c.wasm"
allowed_outbound_hosts = ["{{ url }}"]
sqlite_databases = ["default"]
[component.c.variables]
key = "{{ key }}"
[component.c.build]
command = "cargo build"
"#;

    #[test]
    fn reads_an_app_manifest() {
        let manifest = parse(GOOD).unwrap();
        assert_eq!(manifest.trigger.http[0].route, "/orders/...");
        assert!(manifest.variables["key"].required);
        assert_eq!(manifest.component["c"].sqlite_databases, ["default"]);
    }

    #[test]
    fn rejects_what_it_cannot_honour() {
        let unsupported = GOOD.replace(
            "sqlite_databases = [\"default\"]",
            "key_value_stores = [\"default\"]",
        );
        assert!(parse(&unsupported).is_err());
        assert!(parse(&GOOD.replace("= 2", "= 1")).is_err());
        assert!(parse(&GOOD.replace("component = \"c\"", "component = \"x\"")).is_err());
        let both = GOOD.replace(
            "{ required = true, secret = true }",
            "{ required = true, default = \"x\" }",
        );
        assert!(parse(&both).is_err());
        assert!(parse(&GOOD.replace("key = {", "Bad-Name = {")).is_err());
        // Spin 3.6.3 checks templates with the defaults when it loads.
        let empty_default = GOOD.replace("\"http://127.0.0.1:9\"", "\"\"");
        let error = format!("{:#}", parse(&empty_default).unwrap_err());
        assert!(
            error.contains("allowed_outbound_hosts` is malformed"),
            "{error}"
        );
    }
}
