use crate::{Gateway, LabError};
use renkei_host::{GatewayInstance, GatewaySection, LoadedPlugin, PluginRegistry};
use renkei_sdk::ConfigValue;
use std::path::Path;
use std::sync::Arc;

/// The workspace's gateway plugins, loaded as cdylibs from one directory.
///
/// Only the libraries of the gateways asked for are opened, by their file names: a plugin
/// directory such as `target/debug` also holds the test fixtures (deliberately broken
/// plugins), which a demo has no reason to load.
pub struct Plugins {
    registry: PluginRegistry,
}

impl Plugins {
    pub fn load(dir: &Path, gateways: &[Gateway]) -> Result<Plugins, LabError> {
        let mut registry = PluginRegistry::new();
        for &gateway in gateways {
            let path = dir.join(gateway.library());
            if !path.exists() {
                return Err(LabError::PluginMissing {
                    gateway: gateway.title(),
                    dir: dir.to_path_buf(),
                });
            }
            registry.load_file(&path)?;
        }
        Ok(Plugins { registry })
    }

    /// The loaded plugin of a gateway asked for at [`Plugins::load`].
    pub fn get(&self, gateway: Gateway) -> Option<&LoadedPlugin> {
        self.registry.get(gateway.id())
    }

    /// An instance of the gateway's plugin, named by its gateway id, with these config values
    /// (all text, as an emulator's `plugin_config` gives them).
    pub fn instance(
        &self,
        gateway: Gateway,
        values: &[(&str, String)],
    ) -> Result<Arc<GatewayInstance>, LabError> {
        let section = GatewaySection {
            plugin: gateway.id().into(),
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ConfigValue::Text(v.clone())))
                .collect(),
        };
        self.registry
            .instantiate(gateway.id(), &section)
            .map(Arc::new)
            .map_err(|source| LabError::Instance {
                gateway: gateway.title(),
                source,
            })
    }
}
