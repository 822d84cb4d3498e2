//! `berth daemon`: opens the engine on its root, binds the API sockets and
//! serves until SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use api::client::Host;
use api::server::Listener;

#[derive(Debug, clap::Args)]
pub struct DaemonOpts {
    /// Root of persistent state
    #[arg(long, default_value = "/var/lib/berth")]
    pub root: PathBuf,
    /// Root of runtime state (sockets, pids)
    #[arg(long, default_value = "/run/berth")]
    pub exec_root: PathBuf,
    /// Sockets to serve on (unix:///path or tcp://127.0.0.1:PORT)
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Log level (error, warn, info, debug)
    #[arg(long, default_value = "info")]
    pub log_level: tracing::Level,
    /// Daemon configuration file (JSON, dockerd's keys: log-driver, log-opts)
    #[arg(long, default_value = DEFAULT_CONFIG_FILE)]
    pub config_file: PathBuf,
    /// Default driver for container logs (json-file, local, none)
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Default log driver options, KEY=VALUE (max-size=10m, max-file=3)
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
}

/// The containers' default log settings: the config file's, then the flags
/// on top. A missing config file is fine unless one was named explicitly.
fn log_defaults(opts: &DaemonOpts) -> anyhow::Result<engine::containers::config::LogConfig> {
    let mut log = engine::containers::config::LogConfig::default();
    match std::fs::read(&opts.config_file) {
        Ok(bytes) => {
            let file: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: invalid JSON: {e}", opts.config_file.display()))?;
            if let Some(d) = file.get("log-driver") {
                log.kind = d.as_str().ok_or_else(|| anyhow::anyhow!("log-driver must be a string"))?.into();
            }
            if let Some(o) = file.get("log-opts") {
                log.config = serde_json::from_value(o.clone())
                    .map_err(|e| anyhow::anyhow!("log-opts must map strings to strings: {e}"))?;
            }
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && opts.config_file == Path::new(DEFAULT_CONFIG_FILE) => {}
        Err(e) => anyhow::bail!("reading {}: {e}", opts.config_file.display()),
    }
    if let Some(d) = &opts.log_driver {
        log.kind = d.clone();
    }
    for o in &opts.log_opts {
        let (k, v) =
            o.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid --log-opt {o:?}: want KEY=VALUE"))?;
        log.config.insert(k.into(), v.into());
    }
    engine::containers::bundle::log_limits(&log)?;
    Ok(log)
}

pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";
const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";

pub fn run(opts: DaemonOpts) -> ExitCode {
    tracing_subscriber::fmt().with_max_level(opts.log_level).with_writer(std::io::stderr).init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth daemon: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(opts: DaemonOpts) -> anyhow::Result<()> {
    let engine = engine::Engine::open(engine::Config {
        root: opts.root.clone(),
        exec_root: opts.exec_root.clone(),
        log: log_defaults(&opts)?,
    })?;
    let hosts =
        if opts.hosts.is_empty() { vec![format!("unix://{DEFAULT_SOCKET}")] } else { opts.hosts.clone() };
    let mut listeners = Vec::new();
    let mut sockets = Vec::new();
    for h in &hosts {
        match Host::parse(h).map_err(anyhow::Error::msg)? {
            Host::Unix(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                // We hold the root's lock, so a socket file left here is stale.
                let _ = std::fs::remove_file(&path);
                let l = tokio::net::UnixListener::bind(&path)
                    .map_err(|e| anyhow::anyhow!("binding {}: {e}", path.display()))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
                listeners.push(Listener::Unix(l));
                sockets.push(path);
            }
            Host::Tcp(addr) => {
                let l = tokio::net::TcpListener::bind(&addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
                listeners.push(Listener::Tcp(l));
            }
        }
    }
    // Written after the sockets are bound, so a pid file means "serving".
    let pid_file = opts.exec_root.join("berth.pid");
    image::fsutil::write_atomic(&pid_file, std::process::id().to_string().as_bytes())?;
    tracing::info!(root = %opts.root.display(), hosts = ?hosts, "berth daemon serving API {}", api::API_VERSION);
    // Containers outlive the daemon: find their shims again.
    engine.restore().await;
    let shutdown = async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down");
    };
    api::server::serve(engine, listeners, shutdown).await;
    for s in sockets {
        let _ = std::fs::remove_file(s);
    }
    let _ = std::fs::remove_file(pid_file);
    Ok(())
}
