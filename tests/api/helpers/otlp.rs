//! A real OTLP/HTTP trace receiver per test (tests/otlp/receiver.py: the
//! `opentelemetry-proto` package from PyPI decodes what the runtime
//! exports), and the spans it received.

use super::*;

pub struct OtlpReceiver {
    /// `http://127.0.0.1:<port>`: what `OTEL_EXPORTER_OTLP_ENDPOINT` names.
    pub endpoint: String,
    client: Client,
    _process: Process,
}

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ExportedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    /// OTLP's name: `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, …
    pub kind: String,
    pub attributes: serde_json::Map<String, Value>,
    pub status: String,
    pub events: Vec<String>,
    pub service_name: Option<String>,
    pub scope: String,
}

impl ExportedSpan {
    /// Attribute `name` as text (numbers too), or "" when absent.
    pub fn attribute(&self, name: &str) -> String {
        match self.attributes.get(name) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }
}

impl OtlpReceiver {
    pub async fn start() -> Self {
        let mut command = Command::new(django_python());
        command.arg(artifacts().root.join("tests/otlp/receiver.py"));
        let (process, port, _, _) = start(command, "").await;
        OtlpReceiver {
            endpoint: format!("http://127.0.0.1:{}", port.trim()),
            client: Client::new(),
            _process: process,
        }
    }

    /// The environment that makes a runtime export here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.clone())]
    }

    /// Every span received so far.
    pub async fn spans(&self) -> Vec<ExportedSpan> {
        self.client
            .get(format!("{}/spans", self.endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The spans of trace `trace_id`, once `done` says they are all there
    /// (exporters batch: spans arrive seconds after their request).
    pub async fn trace(
        &self,
        trace_id: &str,
        done: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        let started = std::time::Instant::now();
        loop {
            let spans: Vec<ExportedSpan> = self
                .spans()
                .await
                .into_iter()
                .filter(|span| span.trace_id == trace_id)
                .collect();
            if done(&spans) || started.elapsed() > std::time::Duration::from_secs(30) {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
