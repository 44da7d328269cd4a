//! The one HTTPS client every AWS client of a process shares (issue 18).
//!
//! Left to themselves, aws-config and each SDK client build a default HTTPS client of their
//! own, and each checks its client at construction by building a TLS connector: reading the
//! system's CA certificates and parsing every one into a root store. Six of those ran before
//! logscale-lambda's first poll of the Runtime API (most of its Init), and each client built
//! its own connector again at its first call. Here one client is shared, the same hyper 1 +
//! rustls (aws-lc) connector the SDK's default builds (timeouts and sleep from the calling
//! client, proxies from the environment), and its connector is built once, at the first call
//! that needs one: the certificates are read and parsed once per process.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The shared client: connectors by timeout settings, built at first use.
pub fn shared_https_client() -> SharedHttpClient {
    let hyper = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(BuiltAtFirstUse(hyper))
}

/// The hyper client without its check at construction (which builds, and throws away, a
/// connector: the certificate parse); every call goes to it unchanged.
#[derive(Debug)]
struct BuiltAtFirstUse(SharedHttpClient);

impl HttpClient for BuiltAtFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
