//! The trait a gateway plugin implements.

use crate::{
    Config, ConfigError, Context, GatewayError, HttpResponse, Manifest, Operation, ReplyCopy, Step,
};

/// A payment gateway adapter: a pure translator between Renkei operations and one gateway's wire
/// protocol.
///
/// Implementations must not do I/O: no sockets, files, clocks, threads or randomness. Everything
/// time- or id-dependent comes in the [`Context`]. That keeps plugins deterministic and testable
/// from recorded bytes, and lets the host journal every exchange before it is sent.
///
/// Export an implementation with [`export_gateway!`](crate::export_gateway).
pub trait Gateway: Send + Sync + 'static {
    /// The plugin's manifest. Called once at load time.
    fn manifest() -> Manifest
    where
        Self: Sized;

    /// Builds an instance from a configuration the host has already validated against the
    /// manifest's keys.
    fn from_config(config: &Config) -> Result<Self, ConfigError>
    where
        Self: Sized;

    /// The first step of `op`: usually the request to send.
    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError>;

    /// Reads the reply to the exchange whose continuation was `state`, and answers the next step.
    fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError>;

    /// The copy of `reply` (the answer to the exchange whose continuation was `state`) that the
    /// host journals. Override it when the gateway's replies can carry a secret or card data;
    /// the default journals every reply as received. Called for every reply, whatever
    /// `interpret` makes of it, including replies that are not what the plugin expected: a
    /// redaction that cannot read the body should still cut out what might be secret.
    fn journal_reply(&self, op: &Operation, state: &[u8], reply: &HttpResponse) -> ReplyCopy {
        let _ = (op, state, reply);
        ReplyCopy::AsReceived
    }
}
