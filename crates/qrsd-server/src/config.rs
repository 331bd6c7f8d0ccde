//! Service configuration: a TOML file (`deploy/qrsd.toml` is the annotated example) overridden by the
//! command line. Every section and field has a default, so an empty file (or none) is a valid config;
//! unknown keys are rejected so that a typo does not silently fall back to a default.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The default TCP port of `qrsd serve` (fixed, so bookmarks and integrations keep working).
pub const DEFAULT_PORT: u16 = 7474;

/// Configuration errors (reported before anything is started).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this structure.
    #[error("config {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Where samples come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub enum SourceSpec {
    /// The in-process amplifier simulator.
    #[default]
    Sim,
    /// A serial amplifier at this device path.
    Serial(PathBuf),
    /// Replay of a recorded file (WFDB `.hea`, EDF, CSV).
    Replay(PathBuf),
}

impl SourceSpec {
    /// Parse `sim`, `serial:PATH` or `replay:PATH`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        let s = s.trim();
        if s == "sim" {
            return Ok(SourceSpec::Sim);
        }
        let bad = || {
            ConfigError::Invalid(format!(
                "source {s:?}: expected sim, serial:PATH or replay:PATH"
            ))
        };
        let (kind, path) = s.split_once(':').ok_or_else(bad)?;
        if path.is_empty() {
            return Err(bad());
        }
        match kind {
            "serial" => Ok(SourceSpec::Serial(PathBuf::from(path))),
            "replay" => Ok(SourceSpec::Replay(PathBuf::from(path))),
            _ => Err(bad()),
        }
    }

    /// Short kind name (`sim`, `serial`, `replay`).
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Sim => "sim",
            SourceSpec::Serial(_) => "serial",
            SourceSpec::Replay(_) => "replay",
        }
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Sim => f.write_str("sim"),
            SourceSpec::Serial(p) => write!(f, "serial:{}", p.display()),
            SourceSpec::Replay(p) => write!(f, "replay:{}", p.display()),
        }
    }
}

impl TryFrom<String> for SourceSpec {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SourceSpec::parse(&s)
    }
}

impl From<SourceSpec> for String {
    fn from(s: SourceSpec) -> String {
        s.to_string()
    }
}

/// `--bind` / `server.bind`: an address, with or without a port — `127.0.0.1`, `127.0.0.1:7474`, `::1`,
/// `[::1]` or `[::1]:7474` — because most services take `ADDR:PORT` and operators type it that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BindAddr {
    /// The address to listen on.
    pub ip: IpAddr,
    /// The port, when given with the address; it wins over `server.port` (the `--port` flag clears it).
    pub port: Option<u16>,
}

impl BindAddr {
    /// An address without a port.
    pub fn ip(ip: IpAddr) -> Self {
        Self { ip, port: None }
    }

    /// Whether the address is loopback (anything else needs a token).
    pub fn is_loopback(&self) -> bool {
        self.ip.is_loopback()
    }
}

impl std::str::FromStr for BindAddr {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim();
        // A bare address, IPv6 included (`::1`: unambiguous without brackets, as it has no port).
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Self::ip(ip));
        }
        // `ADDR:PORT` and `[V6]:PORT`.
        if let Ok(sa) = t.parse::<SocketAddr>() {
            return Ok(Self {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        // `[V6]` alone.
        if let Some(ip) = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|r| r.parse::<Ipv6Addr>().ok())
        {
            return Ok(Self::ip(IpAddr::V6(ip)));
        }
        Err(ConfigError::Invalid(format!(
            "bind {s:?}: expected ADDR or ADDR:PORT (127.0.0.1, 127.0.0.1:7474, ::1, [::1]:7474)"
        )))
    }
}

impl std::fmt::Display for BindAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => SocketAddr::new(self.ip, p).fmt(f),
            None => self.ip.fmt(f),
        }
    }
}

impl From<IpAddr> for BindAddr {
    fn from(ip: IpAddr) -> Self {
        Self::ip(ip)
    }
}

impl TryFrom<String> for BindAddr {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BindAddr> for String {
    fn from(b: BindAddr) -> String {
        b.to_string()
    }
}

/// Which build of qrsd is serving: `/healthz` and the WebSocket `hello` show it, each procedure stores
/// it, its report prints it, and live recordings carry it in their header, so that every figure can be
/// traced to the code that measured it. The `qrsd` binary fills it from its build script (the git
/// commit); a program embedding this crate without saying gets this crate's version and commit
/// `unknown`. Not part of the file (it describes the program, not its settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// Package version (`0.1.0`).
    pub version: String,
    /// Short git commit the program was built from, `-dirty` when the tree differed from it, or
    /// `unknown`.
    pub commit: String,
}

impl Default for Build {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: "unknown".to_string(),
        }
    }
}

impl std::fmt::Display for Build {
    /// `0.1.0 (commit 1a2b3c4d5e6f)`, as `qrsd --version` prints it after the name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (commit {})", self.version, self.commit)
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The build that serves (not read from the file).
    #[serde(skip)]
    pub build: Build,
    /// Listening address and access control.
    pub server: ServerConfig,
    /// The sample source.
    pub source: SourceConfig,
    /// Per-site measurement.
    pub measurement: MeasurementConfig,
    /// Live display stream on the WebSocket.
    pub display: DisplayConfig,
    /// Signal conditioning.
    pub filter: FilterSettings,
    /// Storage.
    pub storage: StorageConfig,
    /// The site recommendation.
    pub recommendation: RecommendationSettings,
}

/// `[recommendation]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendationSettings {
    /// `shortest_qrsd` (the default: shortest paced QRSd) or `smallest_qrs_area` (smallest QRS
    /// area, i.e. the largest reduction against the baseline). The report says which was used.
    pub rank_by: qrsd_measure::RankBy,
}

impl RecommendationSettings {
    /// The recommender's configuration with this rule.
    pub fn config(&self) -> qrsd_measure::RecommendConfig {
        qrsd_measure::RecommendConfig {
            rank_by: self.rank_by,
            ..qrsd_measure::RecommendConfig::default()
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, optionally with its port (`ADDR` or `ADDR:PORT`). Anything but loopback
    /// requires `token`.
    pub bind: BindAddr,
    /// TCP port when `bind` names none (0 = any free port, for tests).
    pub port: u16,
    /// Bearer token required on every `/api` route when set (`Authorization: Bearer <token>`; the
    /// WebSocket also accepts `?token=`). Prefer `token_file` or `QRSD_TOKEN` over a literal here.
    pub token: Option<String>,
    /// File holding the token (first line), e.g. a systemd credential.
    pub token_file: Option<PathBuf>,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Requests served at once; more get 503.
    pub max_concurrent_requests: usize,
    /// WebSocket subscribers at once; more get 503.
    pub max_ws_clients: usize,
    /// A WebSocket client that does not take a message within this time is disconnected, ms.
    pub ws_send_timeout_ms: u64,
    /// Messages buffered per WebSocket subscriber before it is told it missed some (`gap`).
    pub ws_buffer_messages: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: BindAddr::ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: DEFAULT_PORT,
            token: None,
            token_file: None,
            max_body_bytes: 16 * 1024,
            max_concurrent_requests: 64,
            max_ws_clients: 32,
            ws_send_timeout_ms: 2000,
            ws_buffer_messages: 1024,
        }
    }
}

/// `[source]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// `sim`, `serial:PATH` or `replay:PATH`.
    pub spec: SourceSpec,
    /// Simulator settings (used when `spec = "sim"`).
    pub sim: SimSettings,
    /// Replay speed (× real time; 0 = as fast as possible) for `replay:`.
    pub replay_speed: f64,
    /// Events buffered between the acquisition thread and the live thread.
    pub channel_capacity: usize,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            spec: SourceSpec::Sim,
            sim: SimSettings::default(),
            replay_speed: 1.0,
            channel_capacity: 256,
        }
    }
}

/// `[source.sim]`: the simulated amplifier at start-up (changed at run time by `PUT /api/v1/source/sim`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// Speed, × real time (tests run the simulator faster than real time).
    pub speed: f64,
    /// Random seed.
    pub seed: u64,
    /// `intrinsic` or `biv`.
    pub rhythm: String,
    /// QRS duration of the rhythm, ms.
    pub qrsd_ms: f64,
    /// Heart rate, beats/min.
    pub rate_bpm: f64,
    /// QRS edges as gradual as real ones (`qrsd_synth::SynthConfig::realistic_edges`; on by default,
    /// false gives the sharp edges no real QRS has).
    pub realistic_edges: bool,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            fs_hz: 1000.0,
            speed: 1.0,
            seed: 1,
            rhythm: "intrinsic".into(),
            qrsd_ms: 150.0,
            rate_bpm: 70.0,
            realistic_edges: true,
        }
    }
}

/// `[measurement]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeasurementConfig {
    /// Consecutive clean beats a measurement collects.
    pub beats: usize,
    /// Fewest clean beats for a result (fewer = `incomplete`).
    pub min_beats: usize,
    /// A measurement that has not collected `beats` clean beats after this much signal ends, s.
    pub timeout_s: f64,
}

impl Default for MeasurementConfig {
    fn default() -> Self {
        Self {
            beats: 10,
            min_beats: 8,
            timeout_s: 30.0,
        }
    }
}

/// `[display]`: the `samples` messages of the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// Display rate, Hz (samples are averaged down to it).
    pub rate_hz: f64,
    /// One `samples` message per this much signal, ms.
    pub batch_ms: f64,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        Self {
            rate_hz: 250.0,
            batch_ms: 40.0,
        }
    }
}

/// `[filter]`: conditioning of the live pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterSettings {
    /// Mains notch, Hz: 50, 60 or 0 (off).
    pub notch_hz: f64,
    /// 0.5 Hz high-pass on.
    pub highpass: bool,
    /// 150 Hz low-pass on.
    pub lowpass: bool,
}

impl Default for FilterSettings {
    fn default() -> Self {
        Self {
            notch_hz: 50.0,
            highpass: true,
            lowpass: true,
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Data folder (SQLite database `qrsd.sqlite3` and `recordings/`).
    pub data_dir: PathBuf,
    /// Record every live session to `recordings/` (when the recorder is available).
    pub record: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./qrsd-data"),
            record: true,
        }
    }
}

impl Config {
    /// Parse TOML text.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let c: Config = toml::from_str(text).map_err(parse_err)?;
        // `bind = "ADDR:PORT"` together with `port = N` names the port twice; which one was meant is
        // anyone's guess, so say so instead of silently taking one (`port` has a default, so only the
        // raw table tells whether it was written).
        if let Some(bp) = c.server.bind.port {
            let raw: toml::Table = toml::from_str(text).map_err(parse_err)?;
            let port_written = raw
                .get("server")
                .and_then(|s| s.get("port"))
                .and_then(toml::Value::as_integer);
            if let Some(p) = port_written {
                if p != i64::from(bp) {
                    return Err(ConfigError::Parse {
                        path: path.to_path_buf(),
                        message: format!(
                            "server.bind {} names port {bp} but server.port is {p}: give the port once",
                            c.server.bind
                        ),
                    });
                }
            }
        }
        Ok(c)
    }

    /// Read and parse a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The socket address to listen on: `bind`'s port when it names one, else `port`.
    pub fn bind_addr(&self) -> SocketAddr {
        let b = self.server.bind;
        SocketAddr::new(b.ip, b.port.unwrap_or(self.server.port))
    }

    /// Apply the command line's `--bind` and `--port`: `--bind` replaces the address (and the port,
    /// when it names one); `--port` overrides every other port.
    pub fn override_bind(&mut self, bind: Option<BindAddr>, port: Option<u16>) {
        if let Some(b) = bind {
            self.server.bind = b;
        }
        if let Some(p) = port {
            self.server.port = p;
            self.server.bind.port = None;
        }
    }

    /// Resolve `token_file` (and the `QRSD_TOKEN` environment variable when no token is set) into
    /// `token`.
    pub fn resolve_token(&mut self) -> Result<(), ConfigError> {
        if self.server.token.is_none() {
            if let Some(p) = &self.server.token_file {
                let t = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                self.server.token = t.lines().next().map(|l| l.trim().to_string());
            }
        }
        if self.server.token.is_none() {
            if let Ok(t) = std::env::var("QRSD_TOKEN") {
                self.server.token = Some(t.trim().to_string());
            }
        }
        if matches!(&self.server.token, Some(t) if t.is_empty()) {
            self.server.token = None;
        }
        Ok(())
    }

    /// Check ranges and the bind/token rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !self.server.bind.is_loopback() && self.server.token.is_none() {
            return bad(format!(
                "refusing to listen on {} (not loopback) without a token: set server.token_file, \
                 server.token or QRSD_TOKEN, or bind 127.0.0.1",
                self.server.bind.ip
            ));
        }
        if let Some(t) = &self.server.token {
            if t.len() < 16 {
                return bad("server.token must be at least 16 characters".into());
            }
        }
        if !(256..=16 * 1024 * 1024).contains(&self.server.max_body_bytes) {
            return bad("server.max_body_bytes must be 256..=16777216".into());
        }
        if self.server.max_concurrent_requests == 0 || self.server.max_ws_clients == 0 {
            return bad("server limits must be at least 1".into());
        }
        if !(16..=65536).contains(&self.server.ws_buffer_messages) {
            return bad("server.ws_buffer_messages must be 16..=65536".into());
        }
        let s = &self.source.sim;
        if !(250.0..=4000.0).contains(&s.fs_hz) {
            return bad("source.sim.fs_hz must be 250..=4000".into());
        }
        if !(0.1..=100.0).contains(&s.speed) {
            return bad("source.sim.speed must be 0.1..=100".into());
        }
        if !["intrinsic", "biv", "rv"].contains(&s.rhythm.as_str()) {
            return bad("source.sim.rhythm must be intrinsic, biv or rv".into());
        }
        if !(0.0..=1000.0).contains(&self.source.replay_speed) {
            return bad("source.replay_speed must be 0..=1000".into());
        }
        if self.source.channel_capacity == 0 {
            return bad("source.channel_capacity must be at least 1".into());
        }
        let m = &self.measurement;
        if !(1..=200).contains(&m.beats) || m.min_beats == 0 || m.min_beats > m.beats {
            return bad("measurement: need 1 <= min_beats <= beats <= 200".into());
        }
        if !(1.0..=600.0).contains(&m.timeout_s) {
            return bad("measurement.timeout_s must be 1..=600".into());
        }
        let d = &self.display;
        if !(10.0..=1000.0).contains(&d.rate_hz) || !(10.0..=1000.0).contains(&d.batch_ms) {
            return bad("display.rate_hz and display.batch_ms must be 10..=1000".into());
        }
        if ![0.0, 50.0, 60.0].contains(&self.filter.notch_hz) {
            return bad("filter.notch_hz must be 0, 50 or 60".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = Config::default();
        c.validate().unwrap();
        assert!(c.server.bind.is_loopback());
        assert_eq!(c.server.port, DEFAULT_PORT);
        assert_eq!(c.source.spec, SourceSpec::Sim);
    }

    #[test]
    fn source_specs() {
        assert_eq!(SourceSpec::parse("sim").unwrap(), SourceSpec::Sim);
        assert_eq!(
            SourceSpec::parse("serial:/dev/qrsd-amp").unwrap(),
            SourceSpec::Serial("/dev/qrsd-amp".into())
        );
        assert_eq!(
            SourceSpec::parse("replay:/x/1.hea").unwrap(),
            SourceSpec::Replay("/x/1.hea".into())
        );
        for bad in ["", "serial:", "tcp:1", "simulator"] {
            assert!(SourceSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_loopback_needs_token() {
        let mut c = Config::default();
        c.server.bind = "0.0.0.0".parse().unwrap();
        assert!(c.validate().is_err());
        c.server.token = Some("0123456789abcdef0123".into());
        c.validate().unwrap();
    }

    fn bind(s: &str) -> BindAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn bind_forms() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        for (text, ip, port) in [
            ("127.0.0.1", v4, None),
            (" 127.0.0.1 ", v4, None),
            ("127.0.0.1:7474", v4, Some(7474)),
            ("127.0.0.1:0", v4, Some(0)),
            (
                "0.0.0.0:8080",
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Some(8080),
            ),
            ("::1", v6, None),
            ("[::1]", v6, None),
            ("[::1]:7474", v6, Some(7474)),
            ("::", IpAddr::V6(Ipv6Addr::UNSPECIFIED), None),
        ] {
            assert_eq!(bind(text), BindAddr { ip, port }, "{text}");
            // What it prints parses back to itself (the config file round-trips it).
            assert_eq!(bind(&bind(text).to_string()), bind(text), "{text}");
        }
        assert_eq!(bind("[::1]:7474").to_string(), "[::1]:7474");
        assert_eq!(bind("[::1]").to_string(), "::1");
        // Without brackets an IPv6 port cannot be told from the address: `::1:7474` is the address
        // ::1:7474, as everywhere else (hence the brackets in `[::1]:7474`).
        assert_eq!(bind("::1:7474").port, None);
        for bad in [
            "",
            "localhost",
            "127.0.0.1:",
            "127.0.0.1:65536",
            "127.0.0.1:port",
            "[127.0.0.1]",
            "[::1",
            "1.2.3",
        ] {
            let e = bad.parse::<BindAddr>().unwrap_err().to_string();
            assert!(e.contains("ADDR:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn bind_port_and_port_flag() {
        let mut c = Config::default();
        assert_eq!(c.bind_addr().to_string(), "127.0.0.1:7474");
        // --bind ADDR keeps the configured port; --bind ADDR:PORT brings its own.
        c.override_bind(Some(bind("127.0.0.2")), None);
        assert_eq!(c.bind_addr().to_string(), "127.0.0.2:7474");
        c.override_bind(Some(bind("[::1]:9000")), None);
        assert_eq!(c.bind_addr().to_string(), "[::1]:9000");
        // --port still overrides, whichever way the port came.
        c.override_bind(None, Some(9100));
        assert_eq!(c.bind_addr().to_string(), "[::1]:9100");
        c.override_bind(Some(bind("127.0.0.1:9000")), Some(0));
        assert_eq!(c.bind_addr().to_string(), "127.0.0.1:0");
        c.validate().unwrap();
    }

    #[test]
    fn bind_in_config_file() {
        let p = Path::new("x.toml");
        let c = Config::from_toml("[server]\nbind = \"127.0.0.1:9001\"\n", p).unwrap();
        assert_eq!(c.bind_addr().to_string(), "127.0.0.1:9001");
        let c = Config::from_toml("[server]\nbind = \"[::1]:9002\"\n", p).unwrap();
        assert_eq!(c.bind_addr().to_string(), "[::1]:9002");
        c.validate().unwrap();
        let c = Config::from_toml("[server]\nbind = \"::1\"\nport = 9003\n", p).unwrap();
        assert_eq!(c.bind_addr().to_string(), "[::1]:9003");
        // The same port twice is fine; two different ones are refused, naming both.
        let c = Config::from_toml("[server]\nbind = \"127.0.0.1:9004\"\nport = 9004\n", p);
        assert_eq!(c.unwrap().bind_addr().port(), 9004);
        let e = Config::from_toml("[server]\nbind = \"127.0.0.1:9005\"\nport = 9006\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("9005") && e.contains("9006"), "{e}");
        let e = Config::from_toml("[server]\nbind = \"127.0.0.1:x\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ADDR:PORT"), "{e}");
        // A non-loopback address with a port still needs a token.
        let c = Config::from_toml("[server]\nbind = \"0.0.0.0:7474\"\n", p).unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn ranking_rule_and_rv_rhythm_settings() {
        let p = Path::new("x");
        let c =
            Config::from_toml("[recommendation]\nrank_by = \"smallest_qrs_area\"\n", p).unwrap();
        assert_eq!(
            c.recommendation.rank_by,
            qrsd_measure::RankBy::SmallestQrsArea
        );
        assert_eq!(
            c.recommendation.config().rank_by,
            qrsd_measure::RankBy::SmallestQrsArea
        );
        assert_eq!(
            Config::default().recommendation.rank_by,
            qrsd_measure::RankBy::ShortestQrsd
        );
        assert!(Config::from_toml("[recommendation]\nrank_by = \"longest\"\n", p).is_err());
        let c = Config::from_toml("[source.sim]\nrhythm = \"rv\"\n", p).unwrap();
        c.validate().unwrap();
        let c = Config::from_toml("[source.sim]\nrhythm = \"vt\"\n", p).unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn unknown_keys_rejected() {
        let e = Config::from_toml("[server]\nbindd = \"127.0.0.1\"\n", Path::new("x"));
        assert!(e.is_err());
    }

    #[test]
    fn deploy_example_parses_and_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/qrsd.toml");
        let mut c = Config::load(&p).unwrap();
        // The example binds loopback and names a token file that exists only on the target host.
        c.server.token_file = None;
        c.validate().unwrap();
        assert_eq!(
            c.source.spec,
            SourceSpec::Serial("/dev/qrsd-amp".into()),
            "the example is for the lab workstation"
        );
    }
}
