//! The `berth` command line: Docker's commands, flags, output and exit codes,
//! as a client of the daemon's Engine API.

mod containers;
mod files;
mod images;
mod ops;
mod output;
mod run;
mod system;

use std::process::ExitCode;
use std::time::Duration;

use api::client::{Client, ClientError, Host};
use clap::{Parser, Subcommand};

use crate::daemon::{DEFAULT_SOCKET, DaemonOpts};

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "A Docker-compatible container engine",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path or tcp://host:port)
    #[arg(short = 'H', long = "host")]
    pub host: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon serving the Docker Engine API
    Daemon(DaemonOpts),
    /// Create and run a new container from an image
    Run(run::RunOpts),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(containers::RunFlags),
    /// Start one or more stopped containers
    Start(run::StartOpts),
    /// Stop one or more running containers
    Stop(run::StopOpts),
    /// Restart one or more containers
    Restart(run::StopOpts),
    /// Kill one or more running containers
    Kill(run::KillOpts),
    /// Block until one or more containers stop, then print their exit codes
    Wait(run::WaitOpts),
    /// Fetch the logs of a container
    Logs(run::LogsOpts),
    /// Attach local standard input, output, and error streams to a running container
    Attach(run::AttachOpts),
    /// Execute a command in a running container
    Exec(run::ExecOpts),
    /// List containers
    Ps(containers::PsOpts),
    /// Remove one or more containers
    Rm(containers::RmOpts),
    /// Rename a container
    Rename(containers::RenameOpts),
    /// Manage containers
    #[command(subcommand)]
    Container(containers::ContainerCommand),
    /// List images
    Images(images::ListOpts),
    /// Manage images
    #[command(subcommand)]
    Image(images::ImageCommand),
    /// Return low-level information on objects
    Inspect(images::InspectOpts),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagOpts),
    /// Remove one or more images
    Rmi(images::RmiOpts),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(images::SaveOpts),
    /// Load an image from a tar archive or STDIN
    Load(images::LoadOpts),
    /// Import the contents from a tarball to create a filesystem image
    Import(images::ImportOpts),
    /// Show the history of an image
    History(images::HistoryOpts),
    /// Manage berth
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Get real time events from the server
    Events(system::EventsOpts),
    /// Show the berth version information
    Version(system::FormatOpt),
    /// Display system-wide information
    Info(system::FormatOpt),
    /// pause, unpause, top, stats, update
    #[command(flatten)]
    Ops(ops::OpsCommand),
    /// cp, diff, commit, export
    #[command(flatten)]
    Files(files::FilesCommand),
}

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure { message: e.to_string(), code: 1 }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure { message: e.to_string(), code: 1 }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, code: 1 }
    }
}

pub type CmdResult = Result<(), Failure>;

pub fn run(host_flag: Option<String>, command: Command) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let result = rt.block_on(async {
        let client =
            connect(host_flag, matches!(command, Command::System(system::SystemCommand::Check(_)))).await?;
        dispatch(&client, command).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

async fn dispatch(client: &Client, command: Command) -> CmdResult {
    use Command as C;
    match command {
        C::Daemon(_) => unreachable!("handled in main"),
        C::Run(o) => run::run(client, o).await,
        C::Create(f) => containers::create(client, f).await,
        C::Start(o) => run::start(client, o).await,
        C::Stop(o) => run::stop(client, o).await,
        C::Restart(o) => run::restart(client, o).await,
        C::Kill(o) => run::kill(client, o).await,
        C::Wait(o) => run::wait(client, o).await,
        C::Logs(o) => run::logs(client, o).await,
        C::Attach(o) => run::attach(client, o).await,
        C::Exec(o) => run::exec(client, o).await,
        C::Ps(o) => containers::ps(client, o).await,
        C::Rm(o) => containers::rm(client, o).await,
        C::Rename(o) => containers::rename(client, o).await,
        C::Container(c) => containers::container(client, c).await,
        C::Images(o) => images::list(client, o).await,
        C::Image(c) => images::image(client, c).await,
        C::Inspect(o) => images::inspect(client, o).await,
        C::Tag(o) => images::tag(client, o).await,
        C::Rmi(o) => images::rmi(client, o).await,
        C::Save(o) => images::save(client, o).await,
        C::Load(o) => images::load(client, o).await,
        C::Import(o) => images::import(client, o).await,
        C::History(o) => images::history(client, o).await,
        C::System(c) => system::system(client, c).await,
        C::Events(o) => system::events(client, o).await,
        C::Version(o) => system::version(client, o).await,
        C::Info(o) => system::info(client, o).await,
        C::Ops(c) => ops::ops(client, c).await,
        C::Files(c) => files::files(client, c).await,
    }
}

/// Picks the daemon: `-H`, then `BERTH_HOST`, then `DOCKER_HOST`, then the
/// default socket, where a root user gets a daemon started on demand.
async fn connect(flag: Option<String>, offline: bool) -> Result<Client, Failure> {
    let explicit =
        flag.or_else(|| std::env::var("BERTH_HOST").ok()).or_else(|| std::env::var("DOCKER_HOST").ok());
    let host = match &explicit {
        Some(h) => Host::parse(h)?,
        None => Host::Unix(DEFAULT_SOCKET.into()),
    };
    let client = Client::new(host);
    if explicit.is_some()
        || offline
        || std::env::var("BERTH_NO_AUTOSTART").as_deref() == Ok("1")
        || !rustix::process::geteuid().is_root()
    {
        return Ok(client);
    }
    if client.request(hyper::Method::GET, "/_ping", api::client::empty(), None).await.is_ok() {
        return Ok(client);
    }
    autostart(&client).await?;
    Ok(client)
}

/// Starts `berth daemon` in the background on the default root and socket.
async fn autostart(client: &Client) -> Result<(), Failure> {
    let root = std::path::Path::new("/var/lib/berth");
    std::fs::create_dir_all(root)?;
    let log_path = root.join("daemon.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("daemon").stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log);
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.spawn()?;
    eprintln!("berth: no daemon was running; started one in the background (log: {})", log_path.display());
    for _ in 0..100 {
        if client.request(hyper::Method::GET, "/_ping", api::client::empty(), None).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(Failure { message: format!("the daemon did not come up; see {}", log_path.display()), code: 1 })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
