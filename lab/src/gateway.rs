/// The gateways the lab can link: each has a plugin in this workspace and a loopback emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gateway {
    Sbps,
    Fregi,
    Gmopg,
}

impl Gateway {
    pub const BOTH: [Gateway; 2] = [Gateway::Sbps, Gateway::Fregi];
    /// Every gateway the lab links, in the order demos show them.
    pub const ALL: [Gateway; 3] = [Gateway::Sbps, Gateway::Fregi, Gateway::Gmopg];

    /// The plugin's gateway id, which the lab also gives the instance as its name in the shop.
    pub fn id(self) -> &'static str {
        match self {
            Gateway::Sbps => "sbps",
            Gateway::Fregi => "fregi",
            Gateway::Gmopg => "gmopg",
        }
    }

    /// The gateway's name as people write it.
    pub fn title(self) -> &'static str {
        match self {
            Gateway::Sbps => "SBPS",
            Gateway::Fregi => "F-REGI",
            Gateway::Gmopg => "GMO-PG",
        }
    }

    /// The file cargo builds the plugin's cdylib into, on this platform.
    pub fn library(self) -> String {
        format!(
            "{}renkei_plugin_{}{}",
            std::env::consts::DLL_PREFIX,
            self.id(),
            std::env::consts::DLL_SUFFIX
        )
    }
}
