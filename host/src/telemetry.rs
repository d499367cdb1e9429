//! OpenTelemetry trace export, as Spin's `crates/telemetry` does it (Spin
//! 4.1: the same crates and versions). Nothing happens unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
//! set non-empty and `OTEL_SDK_DISABLED` is not (any non-empty value
//! disables, as in Spin). Then the host's `tracing` spans (the inbound
//! request, the component's execution, each outbound HTTP request and each
//! SQLite, PostgreSQL, Redis and variable call, with Spin's names, kinds
//! and attributes) become OTel spans: `tracing-opentelemetry` with tracer
//! `spin`, filtered by `SPIN_OTEL_TRACING_LEVEL` (default `info`), batched
//! on Tokio, sent as OTLP http/protobuf (the endpoint, headers and timeout
//! come from `OTEL_EXPORTER_OTLP_*`, read by `opentelemetry-otlp`).
//! `service.name` is `OTEL_SERVICE_NAME`, else `OTEL_RESOURCE_ATTRIBUTES`'
//! `service.name`, else `spin`.
//!
//! The W3C propagator is installed in any case, as in Spin: an incoming
//! `traceparent` parents the request's span, and an outbound request
//! carries its own span's `traceparent` (only when exporting: otherwise
//! the spans have no context and the component's own header stands).

use anyhow::{bail, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and stops the export when dropped (at the end of `up`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the propagator, and the exporter when the environment asks
/// for one. Errors for what Spin refuses (`http/json`) and for `grpc`,
/// which spin-host does not export (docs/decisions.md).
pub fn init() -> Result<Telemetry> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    if !tracing_enabled(env) {
        return Ok(Telemetry { provider: None });
    }
    match protocol(env).as_str() {
        "http/protobuf" => {}
        "grpc" => bail!(
            "spin-host exports OTLP over http/protobuf only (Spin also speaks grpc): \
             unset OTEL_EXPORTER_OTLP_PROTOCOL or set it to http/protobuf"
        ),
        "http/json" => bail!("http/json OTLP protocol is not supported"),
        other => eprintln!(
            "Warning: '{other}' is not a valid OTLP protocol, defaulting to http/protobuf"
        ),
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let resource = Resource::builder()
        .with_service_name(service_name(env))
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_span_processor(processor)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let filter = EnvFilter::try_from_env("SPIN_OTEL_TRACING_LEVEL")
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("spin"))
        .with_threads(false)
        .with_filter(filter);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
    Ok(Telemetry {
        provider: Some(provider),
    })
}

fn tracing_enabled(env: impl Fn(&str) -> Option<String>) -> bool {
    let endpoint =
        env("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
    endpoint.is_some() && env("OTEL_SDK_DISABLED").is_none()
}

/// The traces' protocol: the signal's own variable, then the general one,
/// then Spin's default.
fn protocol(env: impl Fn(&str) -> Option<String>) -> String {
    env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_owned())
}

fn service_name(env: impl Fn(&str) -> Option<String>) -> String {
    env("OTEL_SERVICE_NAME")
        .or_else(|| {
            env("OTEL_RESOURCE_ATTRIBUTES")?
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| key.trim() == "service.name")
                .map(|(_, value)| value.trim().to_owned())
        })
        .unwrap_or_else(|| "spin".to_owned())
}

/// Makes the current span a child of the trace in `headers`' `traceparent`
/// (Spin's `extract_trace_context`).
pub fn extract_trace_context(headers: &http::HeaderMap) {
    if tracing::Span::current().is_disabled() {
        return; // not exporting: nothing to parent
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    tracing::Span::current().set_parent(parent);
}

/// Writes the current span's `traceparent` into `headers`, replacing the
/// component's (Spin's `inject_trace_context`); nothing when the span has
/// no context (export off).
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    if tracing::Span::current().is_disabled() {
        return; // not exporting: the component's own header stands
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut opentelemetry_http::HeaderInjector(headers));
    });
}

/// What Spin's `#[instrument(err(level = INFO))]` records when a host call
/// answers an error: an `error` event, which marks the span as failed.
pub fn record_error<T, E: std::fmt::Debug>(result: &wasmtime::Result<Result<T, E>>) {
    match result {
        Ok(Err(error)) => tracing::info!(error = ?error),
        Err(trap) => tracing::info!(error = %trap),
        Ok(Ok(_)) => {}
    }
}

/// Spin's `mark_as_error` for a PostgreSQL error: the span's status, and
/// whose fault it was (`guest` or `host`).
pub fn blame(blame: &'static str, error: &impl std::fmt::Debug) {
    let span = tracing::Span::current();
    span.set_status(opentelemetry::trace::Status::error(format!("{error:?}")));
    span.set_attribute("error.blame", blame);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, value)| *key == name && !value.is_empty())
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn export_is_on_only_with_an_endpoint_and_not_disabled() {
        assert!(!tracing_enabled(env(&[])));
        assert!(!tracing_enabled(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            ""
        )])));
        assert!(tracing_enabled(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318"
        )])));
        assert!(tracing_enabled(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c"
        )])));
        // Any non-empty value disables, "false" too, as in Spin.
        assert!(!tracing_enabled(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "false"),
        ])));
    }

    #[test]
    fn the_traces_protocol_and_service_name_follow_spins_order() {
        assert_eq!(protocol(env(&[])), "http/protobuf");
        assert_eq!(
            protocol(env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])),
            "grpc"
        );
        assert_eq!(
            protocol(env(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ])),
            "http/protobuf"
        );
        assert_eq!(service_name(env(&[])), "spin");
        assert_eq!(
            service_name(env(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "a=b, service.name = orders"
            )])),
            "orders"
        );
        assert_eq!(
            service_name(env(&[
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=orders"),
                ("OTEL_SERVICE_NAME", "order-service"),
            ])),
            "order-service"
        );
    }
}
