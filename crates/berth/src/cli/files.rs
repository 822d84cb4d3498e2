//! Commands on a container's files: `cp`, `diff`, `commit`, `export` (also
//! as `container cp|diff|commit|export`). `cp` follows docker/cli's copy
//! rules (its `archive.CopyInfo*` and `PrepareArchiveCopy`): the client
//! decides which directory the daemon extracts into and renames the top
//! entry of the archive, so `cp a c:/x` makes `/x` whether or not it exists.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::Path;

use api::client::Client;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;

use super::images::enc;
use super::{CmdResult, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum FilesCommand {
    /// Copy files/folders between a container and the local filesystem
    Cp(CpOpts),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffOpts),
    /// Create a new image from a container's changes
    Commit(CommitOpts),
    /// Export a container's filesystem as a tar archive
    Export(ExportOpts),
}

#[derive(Debug, clap::Args)]
pub struct CpOpts {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short, long)]
    quiet: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    source: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    destination: String,
}

#[derive(Debug, clap::Args)]
pub struct DiffOpts {
    container: String,
}

#[derive(Debug, clap::Args)]
pub struct CommitOpts {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pause: bool,
    container: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExportOpts {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    container: String,
}

pub async fn files(client: &Client, c: FilesCommand) -> CmdResult {
    match c {
        FilesCommand::Cp(o) => cp(client, o).await,
        FilesCommand::Diff(o) => diff(client, o).await,
        FilesCommand::Commit(o) => commit(client, o).await,
        FilesCommand::Export(o) => export(client, o).await,
    }
}

fn fail(message: impl Into<String>) -> Failure {
    Failure { message: message.into(), code: 1 }
}

pub async fn diff(client: &Client, o: DiffOpts) -> CmdResult {
    let v = client.get_json(&format!("/containers/{}/changes", enc(&o.container))).await?;
    let mut out = String::new();
    for c in v.as_array().into_iter().flatten() {
        let kind = match c["Kind"].as_u64() {
            Some(0) => 'C',
            Some(1) => 'A',
            Some(2) => 'D',
            _ => '?',
        };
        out.push_str(&format!("{kind} {}\n", c["Path"].as_str().unwrap_or_default()));
    }
    print!("{out}");
    Ok(())
}

pub async fn commit(client: &Client, o: CommitOpts) -> CmdResult {
    let (mut repo, mut tag) = (String::new(), String::new());
    if let Some(r) = &o.reference {
        let parsed = reference::Reference::parse_normalized(r).map_err(|e| fail(e.to_string()))?;
        if parsed.digest().is_some() {
            return Err(fail("refusing to create a tag with a digest reference"));
        }
        tag = parsed.tag().unwrap_or_default().to_string();
        repo = parsed.without_tag_or_digest().to_string();
    }
    let mut q = format!(
        "/commit?author={}&comment={}&container={}&repo={}&tag={}",
        enc(o.author.as_deref().unwrap_or_default()),
        enc(o.message.as_deref().unwrap_or_default()),
        enc(&o.container),
        enc(&repo),
        enc(&tag)
    );
    for c in &o.change {
        q.push_str(&format!("&changes={}", enc(c)));
    }
    if !o.pause {
        q.push_str("&pause=0");
    }
    let v = client.send_json(Method::POST, &q).await?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn export(client: &Client, o: ExportOpts) -> CmdResult {
    if o.output.is_none() && std::io::stdout().is_terminal() {
        return Err(fail("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
    }
    let resp = client
        .request(
            Method::GET,
            &format!("/containers/{}/export", enc(&o.container)),
            api::client::empty(),
            None,
        )
        .await?;
    match &o.output {
        Some(p) => {
            let tmp = p.with_file_name(format!(
                ".{}.berth-tmp",
                p.file_name().and_then(|f| f.to_str()).unwrap_or("export")
            ));
            let file =
                std::fs::File::create(&tmp).map_err(|e| fail(format!("open {}: {e}", tmp.display())))?;
            let result = write_body(resp.into_body(), std::io::BufWriter::new(file)).await;
            match result {
                Ok(()) => std::fs::rename(&tmp, p).map_err(Failure::from),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e)
                }
            }
        }
        None => write_body(resp.into_body(), std::io::stdout().lock()).await,
    }
}

/// Copies a response body into `out`; a stream the daemon broke off is an error.
async fn write_body(mut body: hyper::body::Incoming, mut out: impl Write) -> CmdResult {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| fail(format!("Error response from daemon: {e}")))?;
        if let Ok(d) = frame.into_data() {
            out.write_all(&d)?;
        }
    }
    out.flush()?;
    Ok(())
}

// ---- cp ----------------------------------------------------------------------

/// What docker/cli knows about one side of a copy (`archive.CopyInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    rebase_name: String,
}

/// `CONTAINER:PATH` or a local path (absolute, `./x:y`, or without `:`).
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (Some(c), p),
        _ => (None, arg),
    }
}

/// Go's `filepath.Clean`.
fn go_clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`.
fn go_base(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if p.is_empty() {
        return ".".into();
    }
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's `filepath.Dir`.
fn go_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => go_clean(&p[..=i]),
        None => ".".into(),
    }
}

fn specifies_current_dir(p: &str) -> bool {
    go_base(p) == "."
}

fn has_trailing_separator(p: &str) -> bool {
    p.ends_with('/')
}

fn asserts_directory(p: &str) -> bool {
    has_trailing_separator(p) || specifies_current_dir(p)
}

/// `archive.SplitPathDirEntry`: `/a/b/` → (`/a`, `b`); `/a/.` → (`/a`, `.`).
fn split_path_dir_entry(p: &str) -> (String, String) {
    let mut cleaned = go_clean(p);
    if specifies_current_dir(p) {
        cleaned.push_str("/.");
    }
    (go_dir(&cleaned), go_base(&cleaned))
}

/// `archive.PreserveTrailingDotOrSeparator`.
fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut c = cleaned.to_string();
    if !specifies_current_dir(&c) && specifies_current_dir(original) {
        if !has_trailing_separator(&c) {
            c.push('/');
        }
        c.push('.');
    }
    if !has_trailing_separator(&c) && has_trailing_separator(original) {
        c.push('/');
    }
    c
}

/// An absolute local path, keeping a trailing `/` or `/.`.
fn resolve_local_path(p: &str) -> Result<String, Failure> {
    let abs = if p.starts_with('/') {
        go_clean(p)
    } else {
        let cwd = std::env::current_dir()?;
        go_clean(&format!("{}/{p}", cwd.display()))
    };
    Ok(preserve_trailing(&abs, p))
}

/// `archive.GetRebaseName`.
fn get_rebase_name(path: &str, resolved: &str) -> (String, String) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&resolved) {
        resolved.push('/');
    }
    let rebase = if go_base(path) != go_base(&resolved) { go_base(path) } else { String::new() };
    (resolved, rebase)
}

fn io_msg(op: &str, p: &str, e: &std::io::Error) -> Failure {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    fail(format!("{op} {p}: {reason}"))
}

/// `archive.CopyInfoSourcePath` for a local source.
fn copy_info_source_path(path: &str, follow_link: bool) -> Result<CopyInfo, Failure> {
    let (resolved, rebase_name) = if follow_link {
        let r = std::fs::canonicalize(path).map_err(|e| io_msg("lstat", path, &e))?;
        get_rebase_name(path, &r.to_string_lossy())
    } else {
        let (dir, base) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("./", path),
        };
        let rdir = std::fs::canonicalize(dir).map_err(|e| io_msg("lstat", path, &e))?;
        let resolved = format!("{}/{base}", rdir.to_string_lossy().trim_end_matches('/'));
        let rebase = if has_trailing_separator(path) && go_base(path) != go_base(&resolved) {
            go_base(path)
        } else {
            String::new()
        };
        (resolved, rebase)
    };
    let st = std::fs::symlink_metadata(&resolved).map_err(|e| io_msg("lstat", &resolved, &e))?;
    Ok(CopyInfo { path: resolved, exists: true, is_dir: st.is_dir(), rebase_name })
}

/// `archive.CopyInfoDestinationPath` for a local destination.
fn copy_info_destination_path(path: &str) -> Result<CopyInfo, Failure> {
    let mut path = path.to_string();
    let original = path.clone();
    let mut st = std::fs::symlink_metadata(&path);
    let mut n = 0;
    while let Ok(m) = &st {
        if !m.file_type().is_symlink() {
            break;
        }
        n += 1;
        if n > 10 {
            return Err(fail(format!("too many symlinks in {original}")));
        }
        let target = std::fs::read_link(&path).map_err(|e| io_msg("readlink", &path, &e))?;
        let t = target.to_string_lossy().to_string();
        path =
            if t.starts_with('/') { t } else { go_clean(&format!("{}/{t}", split_path_dir_entry(&path).0)) };
        st = std::fs::symlink_metadata(&path);
    }
    match st {
        Ok(m) => Ok(CopyInfo { path, exists: true, is_dir: m.is_dir(), ..Default::default() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (parent, _) = split_path_dir_entry(&path);
            let m = std::fs::metadata(&parent).map_err(|e| io_msg("stat", &parent, &e))?;
            if !m.is_dir() {
                return Err(fail("not a directory"));
            }
            Ok(CopyInfo { path, ..Default::default() })
        }
        Err(e) => Err(io_msg("lstat", &path, &e)),
    }
}

/// `archive.PrepareArchiveCopy`: the directory to extract into, and the
/// rename of the archive's top entry it needs (from, to).
fn prepare_archive_copy(
    src: &CopyInfo,
    dst: &CopyInfo,
) -> Result<(String, Option<(String, String)>), Failure> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let (_, mut src_base) = split_path_dir_entry(&src.path);
    if src_base == "/" {
        // The daemon sends the root's contents as `./…`.
        src_base = ".".into();
    }
    if !src.rebase_name.is_empty() {
        src_base = src.rebase_name.clone();
    }
    if dst.exists && dst.is_dir {
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err(fail("cannot copy directory"));
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err(fail("no such directory"));
    }
    Ok((dst_dir, Some((src_base, dst_base))))
}

/// The `X-Docker-Container-Path-Stat` of a response, decoded.
fn path_stat(resp: &hyper::Response<hyper::body::Incoming>) -> Option<Value> {
    let h = resp.headers().get("X-Docker-Container-Path-Stat")?.to_str().ok()?;
    use base64::Engine as _;
    serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(h).ok()?).ok()
}

const GO_MODE_DIR: u64 = 1 << 31;
const GO_MODE_SYMLINK: u64 = 1 << 27;
/// Device, named pipe, socket, char device, irregular: not a file to copy onto.
const GO_MODE_SPECIAL: u64 = (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19);

async fn stat_container(client: &Client, container: &str, path: &str) -> Option<Value> {
    let q = format!("/containers/{}/archive?path={}", enc(container), enc(path));
    let resp = client.request(Method::HEAD, &q, api::client::empty(), None).await.ok()?;
    path_stat(&resp)
}

pub async fn cp(client: &Client, o: CpOpts) -> CmdResult {
    if o.source.is_empty() {
        return Err(fail("source can not be empty"));
    }
    if o.destination.is_empty() {
        return Err(fail("destination can not be empty"));
    }
    let quiet = o.quiet || !std::io::stdout().is_terminal();
    match (split_cp_arg(&o.source), split_cp_arg(&o.destination)) {
        ((Some(_), _), (Some(_), _)) => Err(fail("copying between containers is not supported")),
        ((Some(c), src), (None, dst)) => copy_from_container(client, c, src, dst, o.follow_link, quiet).await,
        ((None, src), (Some(c), dst)) => copy_to_container(client, c, src, dst, &o, quiet).await,
        _ => Err(fail("must specify at least one container source")),
    }
}

async fn copy_from_container(
    client: &Client,
    container: &str,
    src: &str,
    dst: &str,
    follow_link: bool,
    quiet: bool,
) -> CmdResult {
    let dst_path = if dst == "-" { dst.to_string() } else { resolve_local_path(dst)? };
    if dst_path != "-" {
        let dir = go_dir(&go_clean(&dst_path));
        if !Path::new(&dir).exists() {
            return Err(fail(format!("invalid output path: directory {dir:?} does not exist")));
        }
    }
    let mut src_path = src.to_string();
    let mut rebase_name = String::new();
    if follow_link
        && let Some(st) = stat_container(client, container, &src_path).await
        && st["mode"].as_u64().unwrap_or(0) & GO_MODE_SYMLINK != 0
    {
        let mut target = st["linkTarget"].as_str().unwrap_or_default().to_string();
        if !target.starts_with('/') {
            target = go_clean(&format!("{}/{target}", split_path_dir_entry(&src_path).0));
        }
        (src_path, rebase_name) = get_rebase_name(&src_path, &target);
    }
    let q = format!("/containers/{}/archive?path={}", enc(container), enc(&src_path));
    let resp = client.request(Method::GET, &q, api::client::empty(), None).await?;
    if dst_path == "-" {
        return write_body(resp.into_body(), std::io::stdout().lock()).await;
    }
    let stat = path_stat(&resp).unwrap_or(Value::Null);
    let src_info = CopyInfo {
        path: src_path.clone(),
        exists: true,
        is_dir: stat["mode"].as_u64().unwrap_or(0) & GO_MODE_DIR != 0,
        rebase_name,
    };
    let dst_info = copy_info_destination_path(&dst_path)?;
    let (dst_dir, rebase) = prepare_archive_copy(&src_info, &dst_info)?;
    let mut reader = api::body::BodyReader::spawn(resp.into_body(), 0);
    let total = tokio::task::spawn_blocking(move || -> Result<u64, Failure> {
        let dir = rustix::fs::open(
            &dst_dir,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| fail(format!("open {dst_dir}: {e}")))?;
        let mut counted = Counted { inner: &mut reader, n: 0 };
        let opts = image::layer::UnpackOptions {
            dest: Vec::new(),
            whiteouts: false,
            no_overwrite_dir_non_dir: true,
            owner: image::layer::Owner::Extractor,
            rebase: rebase.map(|(a, b)| (a.into_bytes(), b.into_bytes())),
        };
        image::layer::unpack(&mut counted, dir.as_fd(), opts).map_err(|e| fail(e.to_string()))?;
        Ok(counted.n)
    })
    .await
    .map_err(|e| fail(e.to_string()))??;
    if !quiet {
        let size = if src_info.is_dir { total } else { stat["size"].as_u64().unwrap_or(total) };
        eprintln!("Successfully copied {} to {dst_path}", api::units::human_size(size, 3));
    }
    Ok(())
}

/// Counts the bytes read through it.
struct Counted<'a, R> {
    inner: &'a mut R,
    n: u64,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

async fn copy_to_container(
    client: &Client,
    container: &str,
    src: &str,
    dst: &str,
    o: &CpOpts,
    quiet: bool,
) -> CmdResult {
    let src_path = if src == "-" { src.to_string() } else { resolve_local_path(src)? };
    let mut dst_info = CopyInfo { path: dst.to_string(), ..Default::default() };
    if let Some(mut st) = stat_container(client, container, dst).await {
        if st["mode"].as_u64().unwrap_or(0) & GO_MODE_SYMLINK != 0 {
            let mut target = st["linkTarget"].as_str().unwrap_or_default().to_string();
            if !target.starts_with('/') {
                target = go_clean(&format!("{}/{target}", split_path_dir_entry(dst).0));
            }
            dst_info.path = target.clone();
            st = stat_container(client, container, &target).await.unwrap_or(Value::Null);
        }
        if let Some(mode) = st["mode"].as_u64() {
            if mode & GO_MODE_SPECIAL != 0 {
                return Err(fail(format!(
                    "destination \"{container}:{dst}\" must be a directory or a regular file"
                )));
            }
            dst_info.exists = true;
            dst_info.is_dir = mode & GO_MODE_DIR != 0;
        }
    }
    let (body, resolved_dst) = if src_path == "-" {
        if !dst_info.is_dir {
            return Err(fail(format!("destination \"{container}:{dst}\" must be a directory")));
        }
        (stdin_body()?, dst_info.path.clone())
    } else {
        let src_info = copy_info_source_path(&src_path, o.follow_link)?;
        let (dst_dir, rebase) = prepare_archive_copy(&src_info, &dst_info)?;
        let (source_dir, source_base) = split_path_dir_entry(&src_info.path);
        let top = match (&rebase, src_info.rebase_name.is_empty()) {
            (Some((_, to)), _) => to.clone(),
            (None, false) => src_info.rebase_name.clone(),
            (None, true) => source_base.clone(),
        };
        (tar_body(source_dir, source_base, top), dst_dir)
    };
    let mut q = format!(
        "/containers/{}/archive?noOverwriteDirNonDir=true&path={}",
        enc(container),
        enc(&resolved_dst)
    );
    if o.archive {
        q.push_str("&copyUIDGID=true");
    }
    client.request(Method::PUT, &q, body, Some("text/plain")).await?;
    if !quiet {
        eprintln!("Successfully copied to {container}:{}", dst_info.path);
    }
    Ok(())
}

/// A tar of the local `dir/base` (its top entry named `top`), streamed.
fn tar_body(dir: String, base: String, top: String) -> api::client::ReqBody {
    let (tx, body) = api::body::ChannelBody::new(8);
    tokio::task::spawn_blocking(move || {
        let writer = api::body::ChannelWriter::new(tx.clone());
        let result = (|| -> std::io::Result<()> {
            let fd = rustix::fs::open(
                &dir,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )?;
            let opts = image::layer::PackOptions { pseudo_fs_contents: true, ..Default::default() };
            let mut p = image::layer::Packer::new(writer, opts);
            if base == "." {
                p.add_dir(fd.as_fd(), top.as_bytes())?;
            } else {
                p.add(fd.as_fd(), base.as_bytes(), top.as_bytes())?;
            }
            p.finish()?.flush()
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    body.boxed()
}

/// Standard input, streamed as a request body.
fn stdin_body() -> Result<api::client::ReqBody, Failure> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let mut file = tokio::fs::File::from_std(std::fs::File::from(fd));
    let (tx, body) = api::body::ChannelBody::new(8);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let mut buf = vec![0u8; 256 << 10];
            match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
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
    Ok(body.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_arguments_split_like_docker() {
        assert_eq!(split_cp_arg("web:/etc/hostname"), (Some("web"), "/etc/hostname"));
        assert_eq!(split_cp_arg("/abs:x"), (None, "/abs:x"));
        assert_eq!(split_cp_arg("./file:name"), (None, "./file:name"));
        assert_eq!(split_cp_arg("plain"), (None, "plain"));
        assert_eq!(split_cp_arg("web:"), (Some("web"), ""));
    }

    #[test]
    fn go_path_helpers() {
        assert_eq!(go_clean("/a/b/../c/"), "/a/c");
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_base("/tmp/"), "tmp");
        assert_eq!(go_dir("/tmp/x"), "/tmp");
        assert_eq!(go_dir("x"), ".");
        assert_eq!(split_path_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_path_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(preserve_trailing("/a/b", "b/."), "/a/b/.");
        assert_eq!(preserve_trailing("/a/b", "b/"), "/a/b/");
        assert_eq!(get_rebase_name("/x/link/", "/x/real"), ("/x/real/".into(), "link".into()));
    }

    #[test]
    fn archive_copies_are_prepared_like_docker() {
        let file = CopyInfo { path: "/src/f".into(), exists: true, ..Default::default() };
        let dir = CopyInfo { path: "/src/d".into(), exists: true, is_dir: true, ..Default::default() };
        let into_dir = CopyInfo { path: "/tmp/".into(), exists: true, is_dir: true, ..Default::default() };
        let new = CopyInfo { path: "/tmp/renamed.txt".into(), ..Default::default() };
        let existing_file = CopyInfo { path: "/tmp/x".into(), exists: true, ..Default::default() };
        assert_eq!(prepare_archive_copy(&file, &into_dir).unwrap(), ("/tmp/".into(), None));
        assert_eq!(
            prepare_archive_copy(&file, &new).unwrap(),
            ("/tmp".into(), Some(("f".into(), "renamed.txt".into())))
        );
        assert_eq!(prepare_archive_copy(&dir, &existing_file).unwrap_err().message, "cannot copy directory");
        let new_dir = CopyInfo { path: "/tmp/nope/".into(), ..Default::default() };
        assert_eq!(prepare_archive_copy(&file, &new_dir).unwrap_err().message, "no such directory");
        assert_eq!(
            prepare_archive_copy(&dir, &new_dir).unwrap(),
            ("/tmp".into(), Some(("d".into(), "nope".into())))
        );
    }
}
