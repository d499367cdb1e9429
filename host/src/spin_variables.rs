//! `fermyon:spin/variables@2.0.0`: a component reads the variables its
//! manifest entry declares, resolved at start-up (`variables`).

use crate::bindings::fermyon::spin::variables;
use crate::state::HostState;

impl variables::Host for HostState {
    #[tracing::instrument(name = "spin_variables.get", skip_all, fields(otel.kind = "client",
        key = %name))]
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if crate::variables::check_name(&name).is_err() {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        let value = self
            .app
            .components
            .get(&self.component)
            .and_then(|c| c.variables.get(&name));
        let found = Ok(match value {
            Some(value) => Ok(value.to_owned()),
            None => Err(variables::Error::Undefined(format!(
                "no variable for {name:?}"
            ))),
        });
        crate::telemetry::record_error(&found);
        found
    }
}
