//! Configured gateway instances: a loaded plugin plus validated config.

use crate::config::GatewaySection;
use crate::loader::PluginRegistry;
use crate::redact::Redactor;
use renkei_sdk::abi::load::DynGateway;
use renkei_sdk::{
    Capabilities, Config, ConfigError, ConfigValue, Context, GatewayError, HttpResponse, Manifest,
    Operation, ReplyCopy, RequestExpiry, Step,
};
use std::time::Duration;

/// What the journal keeps of a reply whose plugin failed to redact it: the SDK's placeholder,
/// which every gateway's encoding can carry.
const WITHHELD_REPLY: &[u8] = renkei_sdk::Secret::PLACEHOLDER.as_bytes();

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("gateway `{instance}` uses plugin `{plugin}`, which is not loaded")]
    UnknownPlugin { instance: String, plugin: String },
    #[error("gateway `{instance}`: {source}")]
    Config {
        instance: String,
        source: ConfigError,
    },
    #[error("gateway `{instance}`: the plugin refused its configuration: {source}")]
    Create {
        instance: String,
        /// Boxed: a gateway error is large, and this is the rare variant.
        source: Box<GatewayError>,
    },
}

/// How far a gateway's clock is assumed to be off the host's unless `clock_skew_ms` says.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// A gateway a shop can use: the plugin's translator with this shop's configuration.
///
/// Everything the plugin says (errors, journal copies of requests) passes through the
/// instance's redactor, which knows this configuration's secret values.
pub struct GatewayInstance {
    name: String,
    deadline: Option<Duration>,
    /// After this long from the time a request was made, the gateway can no longer act on it
    /// (the plugin's declared `RequestExpiry`, read from this configuration); `None`: never.
    request_expiry: Option<Duration>,
    clock_skew: Duration,
    manifest: Manifest,
    /// What this configured instance offers: the manifest's capabilities minus the operations
    /// whose enabling config keys are unset (`ConfigKey::enables`).
    capabilities: Capabilities,
    gateway: DynGateway,
    redactor: Redactor,
}

impl std::fmt::Debug for GatewayInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayInstance")
            .field("name", &self.name)
            .field("gateway_id", &self.manifest.gateway_id)
            .finish_non_exhaustive()
    }
}

impl PluginRegistry {
    /// Creates an instance from a config section, validating its keys against the manifest
    /// (missing, unknown or mistyped keys are refused before the plugin sees anything).
    pub fn instantiate(
        &self,
        instance: &str,
        section: &GatewaySection,
    ) -> Result<GatewayInstance, InstanceError> {
        let plugin = self
            .get(&section.plugin)
            .ok_or_else(|| InstanceError::UnknownPlugin {
                instance: instance.to_owned(),
                plugin: section.plugin.clone(),
            })?;
        let manifest = plugin.manifest();
        // Host settings of the section are taken out; the plugin sees only its own keys.
        let mut values = section.values.clone();
        let mut millis = |key: &str, zero_ok: bool| match values.remove(key) {
            None => Ok(None),
            Some(ConfigValue::Integer(ms)) if ms > 0 || (zero_ok && ms == 0) => {
                Ok(Some(Duration::from_millis(ms as u64)))
            }
            Some(ConfigValue::Text(t))
                if t.parse::<u64>()
                    .is_ok_and(|ms| ms > 0 || (zero_ok && ms == 0)) =>
            {
                Ok(t.parse().ok().map(Duration::from_millis))
            }
            Some(_) => Err(InstanceError::Config {
                instance: instance.to_owned(),
                source: ConfigError::WrongType {
                    key: key.into(),
                    expected: "a positive integer (milliseconds)",
                },
            }),
        };
        let deadline = millis("deadline_ms", false)?;
        let clock_skew = millis("clock_skew_ms", true)?.unwrap_or(DEFAULT_CLOCK_SKEW);
        let config =
            Config::validate(manifest, &values).map_err(|source| InstanceError::Config {
                instance: instance.to_owned(),
                source,
            })?;
        for key in manifest.config.iter().filter(|k| k.secret) {
            if let Some(value) = config.text(&key.name) {
                plugin.redactor.add(value);
            }
        }
        let gateway = plugin
            .module()
            .create(plugin.host_log, &config.to_json())
            .map_err(|e| InstanceError::Create {
                instance: instance.to_owned(),
                source: Box::new(plugin.redactor.scrub_error(e)),
            })?;
        let request_expiry = match &manifest.capabilities.request_expiry {
            RequestExpiry::Never => None,
            RequestExpiry::ConfigSeconds {
                key,
                default_seconds,
            } => Some(Duration::from_secs(
                config
                    .integer(key)
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(u64::from(*default_seconds)),
            )),
        };
        let capabilities = manifest.configured_capabilities(|key| config.is_set(key));
        Ok(GatewayInstance {
            name: instance.to_owned(),
            deadline,
            request_expiry,
            clock_skew,
            manifest: manifest.clone(),
            capabilities,
            gateway,
            redactor: plugin.redactor.clone(),
        })
    }
}

impl GatewayInstance {
    /// Wraps an in-process gateway (see `renkei_sdk::abi::export::in_process`): same interface,
    /// no library. For tests and benchmarks. The configuration the gateway was built from is not
    /// seen here, so the instance offers every declared capability.
    pub fn from_parts(name: &str, manifest: Manifest, gateway: DynGateway) -> GatewayInstance {
        GatewayInstance {
            capabilities: manifest.capabilities.clone(),
            name: name.to_owned(),
            deadline: None,
            // Without a configuration there is no value to read: "never" is the safe reading.
            request_expiry: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            manifest,
            gateway,
            redactor: Redactor::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configured per-exchange deadline of this gateway, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// How long after it was made a request to this gateway can still take effect, if the
    /// gateway bounds it (SBPS `limit_second`); `None`: the gateway documents no bound.
    pub fn request_expiry(&self) -> Option<Duration> {
        self.request_expiry
    }

    /// How far the gateway's clock may be ahead of the host's (`clock_skew_ms`).
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }

    /// The plugin's declaration, as exported: static, the same for every shop.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// What this instance can do with its configuration: the manifest's capabilities minus the
    /// operations whose enabling keys are unset (F-REGI offers inquiry only with the emulator's
    /// `inquiry_url`). Everything that decides whether to run an operation asks this, never
    /// `manifest().capabilities`.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// How many times the host has had to scrub a configured secret out of what this plugin
    /// library said (errors, journal copies, log events, panic messages). A well-behaved plugin
    /// keeps it at zero; the conformance suite's `secrets.*` checks read it.
    pub fn secrets_scrubbed(&self) -> u64 {
        self.redactor.scrubbed()
    }

    pub fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        self.scrub(self.gateway.prepare(op, ctx))
    }

    pub fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        self.interpret_unruled(op, ctx, state, reply)
            .map_err(|e| hold_to_multi_error_rule(&self.name, &self.manifest, e))
    }

    /// What the plugin itself answered (secrets scrubbed), before the host holds a multi-code
    /// error to the manifest's rule: for the conformance suite, which judges the plugin, not
    /// the host's correction of it.
    pub fn interpret_unruled(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        self.scrub(self.gateway.interpret(op, ctx, state, reply))
    }

    /// Whether this instance can look an authorization up by its attempt's order id
    /// (`Capabilities::authorization_inquiry`, with inquiry offered): how an authorization whose
    /// outcome is unknown is settled ([`renkei_sdk::Operation::FindAuthorization`]).
    pub fn searches_authorizations(&self) -> bool {
        self.capabilities.authorization_inquiry
            && self
                .capabilities
                .supports(renkei_sdk::OperationKind::Inquire)
            && self.manifest.limits.order_id.is_some()
    }

    /// The order id attempt `attempt` of the shop action `key` sends, where the manifest
    /// declares the gateway's rules (`limits.order_id`): a fresh one per attempt, the same for
    /// every exchange of one attempt and after a restart.
    pub fn order_id_for(&self, op: &Operation, key: &str, attempt: u32) -> Option<String> {
        self.manifest
            .limits
            .order_id
            .as_ref()
            .map(|rules| rules.attempt_id(op.order(), key, attempt))
    }

    /// The body the journal keeps for `reply` in place of the one received, if any: the
    /// plugin's redacted copy ([`renkei_sdk::Gateway::journal_reply`]); `None` where the plugin
    /// says the reply holds nothing secret. A plugin that fails or panics while redacting gets
    /// nothing of the reply journaled: a reply that might hold a secret is not kept in clear on
    /// a guess.
    pub fn redacted_reply(
        &self,
        op: &Operation,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Option<Vec<u8>> {
        match self.gateway.journal_reply(op, state, reply) {
            Ok(ReplyCopy::AsReceived) => None,
            Ok(ReplyCopy::Redacted(body)) => Some(body.to_vec()),
            Err(e) => {
                let e = self.redactor.scrub_error(e);
                tracing::warn!(
                    gateway = %self.name,
                    error = %e,
                    "the plugin could not make the journal copy of a reply; none of it is kept"
                );
                Some(WITHHELD_REPLY.to_vec())
            }
        }
    }

    fn scrub(&self, r: Result<Step, GatewayError>) -> Result<Step, GatewayError> {
        match r {
            Ok(Step::Send(mut x)) => {
                if let Some(body) = &x.journal_body
                    && let std::borrow::Cow::Owned(clean) = self.redactor.scrub(body)
                {
                    x.journal_body = Some(clean.into());
                }
                Ok(Step::Send(x))
            }
            Ok(done) => Ok(done),
            Err(e) => Err(self.redactor.scrub_error(e)),
        }
    }
}

/// An error that carries several gateway codes is read by the rule the manifest declares
/// (`multi_error`), over the kinds its error table gives those codes, whatever kind the plugin
/// picked: where the plugin's kind is less cautious than the rule's, the rule's stands (a
/// plugin cannot pick the convenient code of a reply). A plugin's kind that is more cautious
/// stays: it may know more than the table. An error with one code keeps the plugin's reading,
/// which may depend on the operation.
fn hold_to_multi_error_rule(
    gateway: &str,
    manifest: &Manifest,
    mut e: GatewayError,
) -> GatewayError {
    let Some(first) = e.gateway_code.as_deref() else {
        return e;
    };
    if e.other_codes.is_empty() {
        return e;
    }
    let codes: Vec<&str> = std::iter::once(first)
        .chain(e.other_codes.iter().map(String::as_str))
        .collect();
    let kinds = renkei_sdk::code_kinds(&manifest.errors, &codes);
    let Some(ruled) = manifest.multi_error.kind(&kinds) else {
        return e;
    };
    if ruled.caution_rank() < e.kind.caution_rank() {
        tracing::warn!(
            gateway,
            plugin = %e.kind,
            rule = %ruled,
            codes = ?codes,
            "a multi-code error is read by the manifest's declared rule, not the plugin's kind"
        );
        e.message = format!(
            "{} (read as {ruled} under the declared multi-error rule {}, not {})",
            e.message, manifest.multi_error, e.kind
        );
        e.kind = ruled;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_sdk::{ErrorKind, MultiError, error_row};

    fn manifest(rule: MultiError) -> Manifest {
        // A manifest as a 0.1 plugin writes it: `multi_error` is what 0.2 added.
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "gateway_id": "kumo",
            "display_name": "Kumo",
            "plugin_version": "1.0.0",
            "sdk_version": "0.1.0",
            "capabilities": {
                "operations": ["capture"],
                "partial_capture": false,
                "partial_refund": false,
                "amount_change": "unsupported",
                "inquiry": "unavailable",
                "replay_safe": []
            },
            "limits": {"min_amount": 1, "max_amount": 10, "currencies": ["JPY"]},
            "config": [],
            "statuses": [],
            "errors": []
        }))
        .expect("a 0.1 manifest parses");
        assert_eq!(m.multi_error, MultiError::MostCautious);
        m.errors = vec![
            error_row("card_declined", ErrorKind::Declined, "declined"),
            error_row("velocity_limit", ErrorKind::Rejected, "too many attempts"),
            error_row(
                "already_captured",
                ErrorKind::AlreadyDone,
                "already captured",
            ),
        ];
        m.multi_error = rule;
        m
    }

    fn error(kind: ErrorKind, codes: &[&str]) -> GatewayError {
        let mut e = GatewayError::gateway(kind, codes[0], None, "from the plugin");
        e.other_codes = codes[1..].iter().map(|c| (*c).to_owned()).collect();
        e
    }

    #[test]
    fn a_multi_code_error_less_cautious_than_the_declared_rule_takes_the_rules_kind() {
        let m = manifest(MultiError::MostCautious);
        let e = error(ErrorKind::Declined, &["card_declined", "velocity_limit"]);
        let held = hold_to_multi_error_rule("kumo", &m, e);
        assert_eq!(held.kind, ErrorKind::Rejected);
        assert!(held.message.contains("most_cautious"), "{}", held.message);
        // An undocumented code among them leaves the outcome open, whatever the plugin said.
        let e = error(ErrorKind::AlreadyDone, &["already_captured", "zz_unknown"]);
        assert_eq!(
            hold_to_multi_error_rule("kumo", &m, e).kind,
            ErrorKind::Protocol
        );
    }

    #[test]
    fn a_plugins_more_cautious_kind_and_single_code_errors_stand() {
        let m = manifest(MultiError::FirstListed);
        let e = error(ErrorKind::Declined, &["card_declined", "velocity_limit"]);
        assert_eq!(
            hold_to_multi_error_rule("kumo", &m, e).kind,
            ErrorKind::Declined
        );
        let e = error(ErrorKind::Protocol, &["card_declined", "velocity_limit"]);
        assert_eq!(
            hold_to_multi_error_rule("kumo", &m, e).kind,
            ErrorKind::Protocol
        );
        // One code: the plugin's reading (it may depend on the operation).
        let e = error(ErrorKind::AlreadyDone, &["velocity_limit"]);
        assert_eq!(
            hold_to_multi_error_rule("kumo", &m, e).kind,
            ErrorKind::AlreadyDone
        );
    }
}
