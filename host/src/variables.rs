//! Spin application variables: declared in `[variables]`, set from
//! `SPIN_VARIABLE_<NAME>` environment variables or their default, and
//! exposed to a component through the templates in its `[component.x.variables]`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// `[variables] name = { default = "…" }` or `{ required = true, secret = true }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

/// Variable names Spin accepts: lower-case letters, digits and `_`,
/// starting with a letter.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!("invalid variable name `{name}`: use lower-case letters, digits and _");
    }
    Ok(())
}

/// Resolved application variables.
#[derive(Debug, Clone, Default)]
pub struct AppVariables {
    values: HashMap<String, String>,
}

impl AppVariables {
    /// Resolves every declared variable from `env` (name → value of
    /// `SPIN_VARIABLE_<NAME>`) or its default. A required variable with no
    /// value is an error naming it, as in `spin up`.
    pub fn resolve(
        decls: &BTreeMap<String, VariableDecl>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let mut values = HashMap::new();
        let mut missing = Vec::new();
        for (name, decl) in decls {
            let from_env = env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()));
            match from_env.or_else(|| decl.default.clone()) {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None if decl.required => missing.push(name.as_str()),
                None => {}
            }
        }
        if !missing.is_empty() {
            bail!(
                "required application variable(s) not set: {} (set SPIN_VARIABLE_{})",
                missing.join(", "),
                missing[0].to_ascii_uppercase()
            );
        }
        Ok(Self { values })
    }

    /// The declared defaults alone, as Spin 3 checks a manifest with when
    /// it loads it; variables without a default stay unset.
    pub fn defaults(decls: &BTreeMap<String, VariableDecl>) -> Self {
        let values = decls
            .iter()
            .filter_map(|(name, decl)| Some((name.clone(), decl.default.clone()?)))
            .collect();
        Self { values }
    }

    /// Expands `{{ name }}` references in `template`.
    pub fn expand(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .with_context(|| format!("unclosed `{{{{` in template `{template}`"))?;
            let name = after[..end].trim();
            check_name(name)?;
            let value = self.values.get(name).with_context(|| {
                format!("template `{template}` uses unknown or unset variable `{name}`")
            })?;
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The variables one component can read with `variables::get`.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables {
    values: HashMap<String, String>,
}

impl ComponentVariables {
    pub fn resolve(templates: &BTreeMap<String, String>, app: &AppVariables) -> Result<Self> {
        let mut values = HashMap::new();
        for (name, template) in templates {
            check_name(name)?;
            let value = app
                .expand(template)
                .with_context(|| format!("component variable `{name}`"))?;
            values.insert(name.clone(), value);
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let decl = |default: Option<&str>, required| VariableDecl {
            default: default.map(str::to_owned),
            required,
            secret: required,
            description: None,
        };
        BTreeMap::from([
            ("jwt_signing_key".to_owned(), decl(None, true)),
            (
                "catalog_url".to_owned(),
                decl(Some("http://127.0.0.1:9001"), false),
            ),
            ("jwt_audience".to_owned(), decl(Some(""), false)),
        ])
    }

    #[test]
    fn env_overrides_default_and_required_must_be_set() {
        let env = |name: &str| match name {
            "SPIN_VARIABLE_JWT_SIGNING_KEY" => Some("k".to_owned()),
            "SPIN_VARIABLE_CATALOG_URL" => Some("http://catalog:9001".to_owned()),
            _ => None,
        };
        let app = AppVariables::resolve(&decls(), env).unwrap();
        assert_eq!(
            app.expand("{{ catalog_url }}").unwrap(),
            "http://catalog:9001"
        );
        assert_eq!(app.expand("x{{jwt_audience}}y").unwrap(), "xy");

        let error = AppVariables::resolve(&decls(), |_| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("jwt_signing_key"), "{error}");
    }

    #[test]
    fn component_variables_expand_templates() {
        let app = AppVariables::resolve(&decls(), |name| {
            (name == "SPIN_VARIABLE_JWT_SIGNING_KEY").then(|| "secret".to_owned())
        })
        .unwrap();
        let templates = BTreeMap::from([
            ("key".to_owned(), "{{ jwt_signing_key }}".to_owned()),
            ("base".to_owned(), "{{ catalog_url }}/api".to_owned()),
        ]);
        let vars = ComponentVariables::resolve(&templates, &app).unwrap();
        assert_eq!(vars.get("key"), Some("secret"));
        assert_eq!(vars.get("base"), Some("http://127.0.0.1:9001/api"));
        assert_eq!(vars.get("other"), None);
        let bad = BTreeMap::from([("x".to_owned(), "{{ nope }}".to_owned())]);
        assert!(ComponentVariables::resolve(&bad, &app).is_err());
    }

    #[test]
    fn names_follow_spin_rules() {
        assert!(check_name("catalog_url").is_ok());
        for bad in ["", "Catalog", "1abc", "a-b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
