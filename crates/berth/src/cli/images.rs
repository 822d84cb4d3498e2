//! Image commands: `images`, `image …`, `inspect`, `tag`, `rmi`, `save`,
//! `load`, `import`, `history`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api::client::{Client, ClientError};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{Value, json};

use super::output::{self, go_time, print_rows, short_id, since};
use super::{CmdResult, Failure};

#[derive(Debug, clap::Args)]
pub struct ListOpts {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// REPOSITORY[:TAG]
    repository: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ListOpts),
    /// Display detailed information on one or more images
    Inspect(InspectOpts),
    /// Show the history of an image
    History(HistoryOpts),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagOpts),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiOpts),
    /// Remove unused images
    Prune(PruneOpts),
    /// Save one or more images to a tar archive
    Save(SaveOpts),
    /// Load an image from a tar archive or STDIN
    Load(LoadOpts),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportOpts),
}

#[derive(Debug, clap::Args)]
pub struct InspectOpts {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    kind: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryOpts {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    image: String,
}

#[derive(Debug, clap::Args)]
pub struct TagOpts {
    source: String,
    target: String,
}

#[derive(Debug, clap::Args)]
pub struct RmiOpts {
    /// Force removal of the image
    #[arg(short, long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneOpts {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct SaveOpts {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadOpts {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    input: Option<std::path::PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportOpts {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    message: Option<String>,
    /// file|URL|-
    source: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

pub async fn image(client: &Client, c: ImageCommand) -> CmdResult {
    match c {
        ImageCommand::Ls(o) => list(client, o).await,
        ImageCommand::Inspect(o) => inspect_kind(client, o, Some("image")).await,
        ImageCommand::History(o) => history(client, o).await,
        ImageCommand::Tag(o) => tag(client, o).await,
        ImageCommand::Rm(o) => rmi(client, o).await,
        ImageCommand::Prune(o) => prune(client, o).await,
        ImageCommand::Save(o) => save(client, o).await,
        ImageCommand::Load(o) => load(client, o).await,
        ImageCommand::Import(o) => import(client, o).await,
    }
}

/// Docker's `filters` query value from `--filter k=v` flags.
pub fn filters_query(flags: &[String]) -> Result<String, Failure> {
    let mut map = serde_json::Map::new();
    for f in flags {
        let (k, v) = f.split_once('=').ok_or_else(|| Failure {
            message: "bad format of filter (expected name=value)".to_string(),
            code: 125,
        })?;
        map.entry(k.to_lowercase())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("map")
            .insert(v.to_string(), json!(true));
    }
    Ok(if map.is_empty() { String::new() } else { Value::Object(map).to_string() })
}

pub fn enc(s: &str) -> String {
    url_encode(s)
}

/// Percent-encodes a query value or path segment.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const IMAGE_HEADERS: &str = r#"{"Repository":"REPOSITORY","Tag":"TAG","ID":"IMAGE ID","CreatedSince":"CREATED","CreatedAt":"CREATED AT","Size":"SIZE","Digest":"DIGEST","Containers":"CONTAINERS","SharedSize":"SHARED SIZE","UniqueSize":"UNIQUE SIZE","VirtualSize":"VIRTUAL SIZE"}"#;

pub async fn list(client: &Client, o: ListOpts) -> CmdResult {
    let mut flags = o.filter.clone();
    if let Some(r) = &o.repository {
        flags.push(format!("reference={r}"));
    }
    let mut path = format!("/images/json?{}", if o.all { "all=1" } else { "" });
    let f = filters_query(&flags)?;
    if !f.is_empty() {
        path.push_str(&format!("&filters={}", url_encode(&f)));
    }
    let images = client.get_json(&path).await?;
    let mut rows = Vec::new();
    for img in images.as_array().into_iter().flatten() {
        rows.extend(image_rows(img, o.no_trunc));
    }
    if o.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let default = if o.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let format = o.format.as_deref().map(|f| if f == "table" { default } else { f });
    print_rows(format, default, &serde_json::from_str(IMAGE_HEADERS).expect("headers"), &rows)
}

/// One row per tag (or one `<none>` row), with the fields docker/cli's image formatter offers.
fn image_rows(img: &Value, no_trunc: bool) -> Vec<Value> {
    let id = img["Id"].as_str().unwrap_or_default();
    let id = if no_trunc { id.to_string() } else { short_id(id) };
    let created = img["Created"].as_i64().unwrap_or(0);
    let size = img["Size"].as_u64().unwrap_or(0);
    let tags: Vec<&str> = img["RepoTags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| *t != "<none>:<none>")
        .collect();
    let digests: Vec<&str> = img["RepoDigests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| *t != "<none>@<none>")
        .collect();
    let digest_of = |repo: &str| {
        digests
            .iter()
            .find_map(|d| d.split_once('@').filter(|(r, _)| *r == repo).map(|(_, d)| d.to_string()))
            .unwrap_or_else(|| "<none>".into())
    };
    let row = |repo: &str, tag: &str, digest: String| {
        json!({
            "Containers": "N/A",
            "CreatedAt": go_time(created),
            "CreatedSince": since(created),
            "Digest": digest,
            "ID": id,
            "Repository": repo,
            "SharedSize": "N/A",
            "Size": api::units::human_size(size, 3),
            "Tag": tag,
            "UniqueSize": "N/A",
            "VirtualSize": api::units::human_size(size, 4),
        })
    };
    if tags.is_empty() {
        return match digests.first().and_then(|d| d.split_once('@')) {
            Some((repo, d)) => vec![row(repo, "<none>", d.to_string())],
            None => vec![row("<none>", "<none>", "<none>".into())],
        };
    }
    tags.iter()
        .map(|t| {
            let (repo, tag) = split_tag(t);
            row(repo, tag, digest_of(repo))
        })
        .collect()
}

/// `localhost:5000/a:tag` → (`localhost:5000/a`, `tag`).
fn split_tag(t: &str) -> (&str, &str) {
    match t.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => (r, tag),
        _ => (t, "<none>"),
    }
}

pub async fn inspect(client: &Client, o: InspectOpts) -> CmdResult {
    let kind = o.kind.clone();
    inspect_kind(client, o, kind.as_deref()).await
}

/// `inspect`: each name is looked up as the given kind, or else as a
/// container and then as an image, as docker does.
pub async fn inspect_kind(client: &Client, o: InspectOpts, kind: Option<&str>) -> CmdResult {
    let kinds: &[&str] = match kind {
        None => &["container", "image"],
        Some("container") => &["container"],
        Some("image") => &["image"],
        Some(k) => {
            return Err(Failure { message: format!("\"{k}\" is not a valid value for --type"), code: 1 });
        }
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    'names: for n in &o.names {
        for k in kinds {
            let path = match *k {
                "container" => format!("/containers/{}/json", url_encode(n)),
                _ => format!("/images/{}/json", url_encode(n)),
            };
            match client.get_json(&path).await {
                Ok(v) => {
                    found.push(v);
                    continue 'names;
                }
                Err(ClientError::Daemon { status, .. }) if status == 404 => {}
                Err(e) => {
                    errors.push(e.to_string());
                    continue 'names;
                }
            }
        }
        errors.push(match kind {
            Some("image") => format!("Error response from daemon: No such image: {n}"),
            Some("container") => format!("Error response from daemon: No such container: {n}"),
            _ => format!("Error: No such object: {n}"),
        });
    }
    match &o.format {
        Some(f) => {
            for v in &found {
                println!("{}", output::render(f, v)?);
            }
        }
        None => println!("{}", output::indented(&Value::Array(found))),
    }
    if errors.is_empty() { Ok(()) } else { Err(Failure { message: errors.join("\n"), code: 1 }) }
}

pub async fn history(client: &Client, o: HistoryOpts) -> CmdResult {
    let rows = client.get_json(&format!("/images/{}/history", url_encode(&o.image))).await?;
    let rows: Vec<Value> = rows
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or_default();
            let created = h["Created"].as_i64().unwrap_or(0);
            let size = h["Size"].as_u64().unwrap_or(0);
            let mut by = h["CreatedBy"].as_str().unwrap_or_default().replace('\t', " ");
            if !o.no_trunc && by.chars().count() > 45 {
                by = by.chars().take(44).collect::<String>() + "…";
            }
            json!({
                "ID": if o.no_trunc || id == "<missing>" { id.to_string() } else { short_id(id) },
                "CreatedSince": if o.human { since(created) } else { output::rfc3339(created) },
                "CreatedAt": output::rfc3339(created),
                "CreatedBy": by,
                "Size": if o.human { api::units::human_size(size, 3) } else { size.to_string() },
                "Comment": h["Comment"].as_str().unwrap_or_default(),
            })
        })
        .collect();
    if o.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let headers = json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"});
    print_rows(
        o.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &headers,
        &rows,
    )
}

pub async fn tag(client: &Client, o: TagOpts) -> CmdResult {
    let target = reference::Reference::parse_normalized(&o.target).map_err(|e| Failure {
        message: format!("Error parsing reference: {:?} is not a valid repository/tag: {e}", o.target),
        code: 1,
    })?;
    let repo = target.without_tag_or_digest().to_string();
    let tag = target.tag().unwrap_or("latest");
    client
        .request(
            Method::POST,
            &format!(
                "/images/{}/tag?repo={}&tag={}",
                url_encode(&o.source),
                url_encode(&repo),
                url_encode(tag)
            ),
            api::client::empty(),
            None,
        )
        .await?;
    Ok(())
}

pub async fn rmi(client: &Client, o: RmiOpts) -> CmdResult {
    let mut failed = Vec::new();
    for name in &o.images {
        let path =
            format!("/images/{}?force={}&noprune={}", url_encode(name), o.force as u8, o.no_prune as u8);
        match client.send_json(Method::DELETE, &path).await {
            Ok(items) => print_delete_items(&items, false),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(Failure { message: failed.join("\n"), code: 1 }) }
}

fn print_delete_items(items: &Value, lower: bool) {
    for i in items.as_array().into_iter().flatten() {
        if let Some(u) = i["Untagged"].as_str() {
            println!("{}: {u}", if lower { "untagged" } else { "Untagged" });
        }
        if let Some(d) = i["Deleted"].as_str() {
            println!("{}: {d}", if lower { "deleted" } else { "Deleted" });
        }
    }
}

pub async fn prune(client: &Client, o: PruneOpts) -> CmdResult {
    if !o.force {
        let warning = if o.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let mut flags = o.filter.clone();
    flags.push(format!("dangling={}", !o.all));
    let path = format!("/images/prune?filters={}", url_encode(&filters_query(&flags)?));
    let v = client.send_json(Method::POST, &path).await?;
    if v["ImagesDeleted"].as_array().is_some_and(|a| !a.is_empty()) {
        println!("Deleted Images:");
        print_delete_items(&v["ImagesDeleted"], true);
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        api::units::human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0), 3)
    );
    Ok(())
}

/// Shows `label: done/total` on stderr while bytes move, when stderr is a terminal.
struct Meter {
    done: Arc<AtomicU64>,
    stop: tokio::task::JoinHandle<()>,
}

impl Meter {
    fn start(label: &'static str, total: Option<u64>) -> Self {
        let done = Arc::new(AtomicU64::new(0));
        let d = done.clone();
        let on_tty = std::io::stderr().is_terminal();
        let started = Instant::now();
        let show = move |n: u64| {
            let total = total.map(|t| format!("/{}", api::units::human_size(t, 4))).unwrap_or_default();
            let rate = n as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r\x1b[2K{label} {}{total} ({}/s)",
                api::units::human_size(n, 4),
                api::units::human_size(rate as u64, 3)
            );
        };
        if on_tty {
            show(0);
        }
        let stop = tokio::spawn(async move {
            if !on_tty {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                show(d.load(Ordering::Relaxed));
            }
        });
        Self { done, stop }
    }

    fn finish(self) {
        self.stop.abort();
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[2K");
        }
    }
}

/// A request body streamed from a file or stdin, counted by a [`Meter`].
fn file_body(mut src: tokio::fs::File, done: Arc<AtomicU64>) -> api::client::ReqBody {
    let (tx, body) = api::body::ChannelBody::new(8);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let mut buf = vec![0u8; 256 << 10];
            match src.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    done.fetch_add(n as u64, Ordering::Relaxed);
                    if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
        }
    });
    body.boxed()
}

async fn open_input(path: Option<&std::path::Path>) -> Result<(tokio::fs::File, Option<u64>), Failure> {
    let file = match path {
        Some(p) => std::fs::File::open(p).map_err(|e| format!("open {}: {e}", p.display()))?,
        None => {
            if std::io::stdin().is_terminal() {
                return Err("requested load from stdin, but stdin is empty".to_string().into());
            }
            std::fs::File::from(std::os::fd::AsFd::as_fd(&std::io::stdin()).try_clone_to_owned()?)
        }
    };
    let size = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    Ok((tokio::fs::File::from_std(file), size))
}

/// Reads a JSON-lines progress stream; prints `stream`/`status` lines and
/// fails on an `error` line.
async fn follow_stream(
    resp: hyper::Response<hyper::body::Incoming>,
    mut on: impl FnMut(&Value),
) -> CmdResult {
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(d) = frame.into_data() {
            buf.extend_from_slice(&d);
        }
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&line) else { continue };
            if let Some(e) = v["error"].as_str() {
                return Err(Failure { message: e.to_string(), code: 1 });
            }
            on(&v);
        }
    }
    Ok(())
}

pub async fn load(client: &Client, o: LoadOpts) -> CmdResult {
    let (file, size) = open_input(o.input.as_deref()).await?;
    let meter = Meter::start("Loading", size);
    let body = file_body(file, meter.done.clone());
    let resp = client.request(Method::POST, "/images/load?quiet=1", body, Some("application/x-tar")).await;
    let result = match resp {
        Ok(resp) => {
            follow_stream(resp, |v| {
                if let Some(s) = v["stream"].as_str()
                    && !o.quiet
                {
                    print!("{s}");
                }
            })
            .await
        }
        Err(e) => Err(e.into()),
    };
    meter.finish();
    result
}

pub async fn import(client: &Client, o: ImportOpts) -> CmdResult {
    let mut path = String::from("/images/create?");
    let is_url = o.source.starts_with("http://") || o.source.starts_with("https://");
    path.push_str(&format!("fromSrc={}", url_encode(if is_url { &o.source } else { "-" })));
    if let Some(r) = &o.reference {
        reference::Reference::parse_normalized(r).map_err(|e| Failure { message: e.to_string(), code: 1 })?;
        path.push_str(&format!("&repo={}", url_encode(r)));
    }
    for c in &o.change {
        path.push_str(&format!("&changes={}", url_encode(c)));
    }
    if let Some(m) = &o.message {
        path.push_str(&format!("&message={}", url_encode(m)));
    }
    let (body, meter) = if is_url {
        (api::client::empty(), None)
    } else {
        let (file, size) =
            open_input(if o.source == "-" { None } else { Some(std::path::Path::new(&o.source)) }).await?;
        let meter = Meter::start("Importing", size);
        (file_body(file, meter.done.clone()), Some(meter))
    };
    let resp = client.request(Method::POST, &path, body, Some("text/plain")).await;
    let result = match resp {
        Ok(resp) => {
            follow_stream(resp, |v| {
                if let Some(s) = v["status"].as_str() {
                    println!("{s}");
                }
            })
            .await
        }
        Err(e) => Err(e.into()),
    };
    if let Some(m) = meter {
        m.finish();
    }
    result
}

pub async fn save(client: &Client, o: SaveOpts) -> CmdResult {
    if o.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure {
            message: "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
            code: 1,
        });
    }
    let mut total = 0;
    for n in &o.images {
        let v = client.get_json(&format!("/images/{}/json", url_encode(n))).await?;
        total += v["Size"].as_u64().unwrap_or(0);
    }
    let query: Vec<String> = o.images.iter().map(|n| format!("names={}", url_encode(n))).collect();
    let resp = client
        .request(Method::GET, &format!("/images/get?{}", query.join("&")), api::client::empty(), None)
        .await?;
    let (mut out, tmp): (Box<dyn Write>, Option<std::path::PathBuf>) = match &o.output {
        Some(p) => {
            let tmp = p.with_file_name(format!(
                ".{}.berth-tmp",
                p.file_name().and_then(|f| f.to_str()).unwrap_or("save")
            ));
            (
                Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&tmp).map_err(|e| format!("open {}: {e}", tmp.display()))?,
                )),
                Some(tmp),
            )
        }
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let meter = Meter::start("Saving", Some(total));
    let mut body = resp.into_body();
    let mut result: Result<(), Failure> = Ok(());
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    meter.done.fetch_add(d.len() as u64, Ordering::Relaxed);
                    if let Err(e) = out.write_all(&d) {
                        result = Err(e.into());
                        break;
                    }
                }
            }
            Err(e) => {
                result = Err(format!("Error response from daemon: {e}").into());
                break;
            }
        }
    }
    meter.finish();
    let flushed = out.flush();
    drop(out);
    match (result, flushed, tmp, &o.output) {
        (Ok(()), Ok(()), Some(tmp), Some(p)) => std::fs::rename(&tmp, p).map_err(Failure::from),
        (Ok(()), Ok(()), _, _) => Ok(()),
        (r, f, tmp, _) => {
            if let Some(t) = tmp {
                let _ = std::fs::remove_file(t);
            }
            r.and(f.map_err(Failure::from))
        }
    }
}
