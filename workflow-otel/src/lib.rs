//! Sends the `tracing` spans of workflow runs to an OpenTelemetry collector
//! over OTLP (HTTP with protobuf bodies): Jaeger, Grafana Tempo, Honeycomb,
//! or any OpenTelemetry Collector.
//!
//! Every run is a `workflow_run` span (its workflow, run id and outcome),
//! with a `workflow_step` span per step invocation under it (workflow, run
//! id, step, worker, attempt, outcome, the error's message); a child run's
//! span sits under the step that ran it. A failed run or step has the
//! status `ERROR`.
//!
//! ```no_run
//! # fn main() -> Result<(), workflow_otel::OtelError> {
//! // OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318
//! let telemetry = workflow_otel::Telemetry::from_env("my-service")?;
//! let _installed = telemetry.map(|t| t.install()).transpose()?;
//! // ... run workflows; the spans are flushed when `_installed` is dropped.
//! # Ok(()) }
//! ```

#[cfg(feature = "collector")]
pub mod collector;

/// The guide, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../docs/opentelemetry.md")]
mod guide {}

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// The standard variable that names the collector: the OTLP/HTTP base URL,
/// such as `http://localhost:4318` (`/v1/traces` is added).
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The standard variable for the traces URL alone, used as it is; it wins
/// over [`ENDPOINT_VAR`].
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// Why spans cannot be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtelError {
    /// The endpoint is not an `http://` or `https://` URL.
    #[error("the OTLP endpoint `{endpoint}` is not an http:// or https:// URL (for example http://localhost:4318)")]
    BadEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
    /// The exporter could not be built.
    #[error("cannot send spans to `{endpoint}`: {reason}")]
    Exporter {
        /// The traces URL.
        endpoint: String,
        /// What the exporter said.
        reason: String,
    },
    /// Another global `tracing` subscriber is installed already: add
    /// [`Telemetry::layer`] to it instead.
    #[error("a global tracing subscriber is installed already; add `Telemetry::layer()` to it instead")]
    SubscriberSet,
    /// The collector did not take the spans.
    #[error("the spans could not be delivered: {0}")]
    Flush(String),
}

/// An OTLP exporter and the tracer provider that batches spans for it.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    endpoint: String,
}

impl Telemetry {
    /// From the standard environment variables ([`TRACES_ENDPOINT_VAR`],
    /// else [`ENDPOINT_VAR`]); `None` when neither is set (or both are empty).
    pub fn from_env(service_name: &str) -> Result<Option<Self>, OtelError> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(traces) = var(TRACES_ENDPOINT_VAR) {
            return Self::to_url(traces, service_name).map(Some);
        }
        var(ENDPOINT_VAR).map(|base| Self::new(&base, service_name)).transpose()
    }

    /// To the collector at `endpoint`, the OTLP/HTTP base URL
    /// (`http://localhost:4318`); spans go to `{endpoint}/v1/traces`.
    pub fn new(endpoint: &str, service_name: &str) -> Result<Self, OtelError> {
        Self::to_url(format!("{}/v1/traces", endpoint.trim().trim_end_matches('/')), service_name)
    }

    fn to_url(url: String, service_name: &str) -> Result<Self, OtelError> {
        let url = url.trim().to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(OtelError::BadEndpoint { endpoint: url });
        }
        if url.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(OtelError::Exporter {
                endpoint: url,
                reason:
                    "https needs the `tls` feature of workflow-otel; or send to a local collector over http"
                        .into(),
            });
        }
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(url.clone())
            .build()
            .map_err(|e| OtelError::Exporter { endpoint: url.clone(), reason: e.to_string() })?;
        let resource = Resource::builder().with_service_name(service_name.to_owned()).build();
        let provider =
            SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
        Ok(Self { provider, endpoint: url })
    }

    /// Where the spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans, to add
    /// to a subscriber of your own.
    pub fn layer<S>(&self) -> impl Layer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let tracer: SdkTracer = self.provider.tracer("workflow");
        tracing_opentelemetry::layer().with_tracer(tracer)
    }

    /// Installs a global subscriber that sends spans at `info` level and
    /// above (or as `RUST_LOG` says) to the collector. The spans still
    /// batched are sent when the returned guard is dropped.
    pub fn install(self) -> Result<Installed, OtelError> {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let subscriber = tracing_subscriber::registry().with(self.layer().with_filter(filter));
        tracing::subscriber::set_global_default(subscriber).map_err(|_| OtelError::SubscriberSet)?;
        Ok(Installed { telemetry: Some(self) })
    }

    /// Sends every span that has ended and is still batched, and waits
    /// until the collector took them.
    pub fn flush(&self) -> Result<(), OtelError> {
        self.provider.force_flush().map_err(|e| OtelError::Flush(e.to_string()))
    }

    /// Flushes and stops the exporter.
    pub fn shutdown(self) -> Result<(), OtelError> {
        self.provider.shutdown().map_err(|e| OtelError::Flush(e.to_string()))
    }
}

/// A global subscriber installed by [`Telemetry::install`]; dropping it
/// sends what is still batched.
#[derive(Debug)]
pub struct Installed {
    telemetry: Option<Telemetry>,
}

impl Installed {
    /// Sends what is batched now.
    pub fn flush(&self) -> Result<(), OtelError> {
        self.telemetry.as_ref().map_or(Ok(()), Telemetry::flush)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(telemetry) = self.telemetry.take() {
            if let Err(error) = telemetry.shutdown() {
                eprintln!("workflow-otel: {error}");
            }
        }
    }
}
