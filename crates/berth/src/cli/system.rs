//! `version`, `info`, `system df`, `system check`, `events`.

use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{Value, json};

use super::images::{enc, filters_query};
use super::output::{self, print_rows, short_id, since};
use super::{CmdResult, Failure};
use api::client::Client;

#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Show berth disk usage
    Df(DfOpts),
    /// Get real time events from the server
    Events(EventsOpts),
    /// Display system-wide information
    Info(FormatOpt),
    /// Verify every blob, snapshot and record of a stopped daemon's store
    Check(CheckOpts),
}

#[derive(Debug, clap::Args)]
pub struct FormatOpt {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DfOpts {
    /// Show detailed information on space usage
    #[arg(short, long)]
    verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CheckOpts {
    /// Root of the store to check (the daemon must not be running on it)
    #[arg(long, default_value = "/var/lib/berth")]
    root: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EventsOpts {
    /// Filter output based on conditions provided
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
}

pub async fn system(client: &Client, c: SystemCommand) -> CmdResult {
    match c {
        SystemCommand::Df(o) => df(client, o).await,
        SystemCommand::Events(o) => events(client, o).await,
        SystemCommand::Info(o) => info(client, o).await,
        SystemCommand::Check(o) => check(o),
    }
}

pub async fn version(client: &Client, o: FormatOpt) -> CmdResult {
    let server = client.get_json("/version").await;
    let client_info = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api::API_VERSION,
        "Os": "linux",
        "Arch": image::config::go_arch(),
    });
    if let Some(f) = &o.format {
        let v = json!({"Client": client_info, "Server": server.as_ref().ok()});
        println!("{}", output::render(f, &v)?);
        return server.map(|_| ()).map_err(Into::into);
    }
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", api::API_VERSION);
    println!(" OS/Arch:           linux/{}", image::config::go_arch());
    let s = server?;
    println!("\nServer:\n Engine:");
    println!("  Version:          {}", s["Version"].as_str().unwrap_or_default());
    println!(
        "  API version:      {} (minimum version {})",
        s["ApiVersion"].as_str().unwrap_or_default(),
        s["MinAPIVersion"].as_str().unwrap_or_default()
    );
    println!(
        "  OS/Arch:          {}/{}",
        s["Os"].as_str().unwrap_or_default(),
        s["Arch"].as_str().unwrap_or_default()
    );
    println!("  Kernel:           {}", s["KernelVersion"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn info(client: &Client, o: FormatOpt) -> CmdResult {
    let v = client.get_json("/info").await?;
    if let Some(f) = &o.format {
        println!("{}", output::render(f, &v)?);
        return Ok(());
    }
    let s = |k: &str| v[k].as_str().map(str::to_string).unwrap_or_else(|| v[k].to_string());
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(" Total Memory: {}", api::units::bytes_size(v["MemTotal"].as_u64().unwrap_or(0)));
    println!(" Name: {}", s("Name"));
    println!(" ID: {}", s("ID"));
    println!(" Berth Root Dir: {}", s("DockerRootDir"));
    Ok(())
}

pub async fn df(client: &Client, o: DfOpts) -> CmdResult {
    let v = client.get_json("/system/df").await?;
    let images = v["Images"].as_array().cloned().unwrap_or_default();
    let containers = v["Containers"].as_array().cloned().unwrap_or_default();
    let size = |x: &Value| x.as_u64().unwrap_or(0);
    let active = images.iter().filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0).count();
    let total_size = size(&v["LayersSize"]);
    let reclaimable: u64 = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) == 0)
        .map(|i| size(&i["Size"]) - size(&i["SharedSize"]).min(size(&i["Size"])))
        .sum::<u64>()
        .max(if active == 0 { total_size } else { 0 });
    let pct = |r: u64, t: u64| (r * 100).checked_div(t).map(|p| format!(" ({p}%)")).unwrap_or_default();
    if o.verbose {
        println!("Images space usage:\n");
        let headers = json!({"Repository":"REPOSITORY","Tag":"TAG","ID":"IMAGE ID","CreatedSince":"CREATED","Size":"SIZE","SharedSize":"SHARED SIZE","UniqueSize":"UNIQUE SIZE","Containers":"CONTAINERS"});
        let mut rows = Vec::new();
        for i in &images {
            let tags: Vec<&str> =
                i["RepoTags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let (repo, tag) = tags.first().and_then(|t| t.rsplit_once(':')).unwrap_or(("<none>", "<none>"));
            rows.push(json!({
                "Repository": repo, "Tag": tag, "ID": short_id(i["Id"].as_str().unwrap_or_default()),
                "CreatedSince": since(i["Created"].as_i64().unwrap_or(0)),
                "Size": api::units::human_size(size(&i["Size"]), 3),
                "SharedSize": api::units::human_size(size(&i["SharedSize"]), 3),
                "UniqueSize": api::units::human_size(size(&i["Size"]) - size(&i["SharedSize"]).min(size(&i["Size"])), 3),
                "Containers": i["Containers"].as_i64().unwrap_or(0),
            }));
        }
        print_rows(
            None,
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &headers,
            &rows,
        )?;
        println!("\nContainers space usage:\n");
        let rows: Vec<Value> = containers
            .iter()
            .map(|c| {
                let mut row = super::containers::ps_row(c, false);
                row["Size"] = json!(api::units::human_size(size(&c["SizeRw"]), 3));
                row
            })
            .collect();
        print_rows(
            None,
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
            &serde_json::from_str(super::containers::PS_HEADERS).expect("headers"),
            &rows,
        )?;
        println!("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE");
        println!(
            "\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED"
        );
        return Ok(());
    }
    let h = |n| api::units::human_size(n, 4);
    // Containers: their writable layers; a stopped one's can be reclaimed.
    let is_running = |c: &Value| matches!(c["State"].as_str(), Some("running" | "paused" | "restarting"));
    let running = containers.iter().filter(|c| is_running(c)).count();
    let containers_size: u64 = containers.iter().map(|c| size(&c["SizeRw"])).sum();
    let stopped_size: u64 = containers.iter().filter(|c| !is_running(c)).map(|c| size(&c["SizeRw"])).sum();
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len(), "Active": active, "Size": h(total_size), "Reclaimable": format!("{}{}", h(reclaimable), pct(reclaimable, total_size))}),
        json!({"Type": "Containers", "TotalCount": containers.len(), "Active": running, "Size": h(containers_size), "Reclaimable": format!("{}{}", h(stopped_size), pct(stopped_size, containers_size))}),
        json!({"Type": "Local Volumes", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Build Cache", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
    ];
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    print_rows(
        o.format.as_deref(),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &headers,
        &rows,
    )
}

/// Opens a stopped daemon's store directly (taking its lock, so never under a
/// live daemon) and verifies everything in it, changing nothing.
fn check(o: CheckOpts) -> CmdResult {
    let c = engine::check_root(&o.root)
        .map_err(|e| Failure { message: format!("berth system check: {e}"), code: 1 })?;
    println!("checked {} blobs, {} snapshots, {} images", c.blobs, c.snapshots, c.images);
    if c.interrupted > 0 {
        println!("{} interrupted writes in staging (removed when the daemon next starts)", c.interrupted);
    }
    if c.problems.is_empty() {
        println!("store is consistent");
        Ok(())
    } else {
        for p in &c.problems {
            println!("problem: {p}");
        }
        Err(Failure { message: format!("{} problems found", c.problems.len()), code: 1 })
    }
}

/// Unix seconds for `--since`/`--until`: as given when numeric or RFC 3339,
/// else a duration before now (`10m`), as the docker CLI converts them.
fn time_arg(v: &str) -> Result<String, Failure> {
    if v.parse::<f64>().is_ok() {
        return Ok(v.to_string());
    }
    engine::images::parse_until(v)
        .map(|t| t.to_string())
        .map_err(|e| Failure { message: e.to_string(), code: 125 })
}

pub async fn events(client: &Client, o: EventsOpts) -> CmdResult {
    let mut q = Vec::new();
    let f = filters_query(&o.filter)?;
    if !f.is_empty() {
        q.push(format!("filters={}", enc(&f)));
    }
    if let Some(s) = &o.since {
        q.push(format!("since={}", time_arg(s)?));
    }
    if let Some(u) = &o.until {
        q.push(format!("until={}", time_arg(u)?));
    }
    let resp =
        client.request(Method::GET, &format!("/events?{}", q.join("&")), api::client::empty(), None).await?;
    let template = o
        .format
        .as_deref()
        .map(|f| gotmpl::Template::parse(if f == "json" { "{{json .}}" } else { f }))
        .transpose()
        .map_err(|e| Failure { message: format!("template parsing error: {e}"), code: 64 })?;
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    use std::io::Write;
    let mut out = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(d) = frame.into_data() {
            buf.extend_from_slice(&d);
        }
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(ev) = serde_json::from_slice::<Value>(&line) else { continue };
            let text = match &template {
                Some(t) => t.render(&ev).map_err(|e| Failure { message: e.to_string(), code: 1 })?,
                None => event_line(&ev),
            };
            writeln!(out, "{text}")?;
            out.flush()?;
        }
    }
    Ok(())
}

/// `2026-11-24T04:40:59.161905040Z image load sha256:… (name=…)`
fn event_line(ev: &Value) -> String {
    let nanos = ev["timeNano"].as_i64().unwrap_or(0) as i128;
    let t =
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let ts = t
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
        ))
        .expect("format");
    let attrs: Vec<String> = ev["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let attrs = if attrs.is_empty() { String::new() } else { format!(" ({})", attrs.join(", ")) };
    format!(
        "{ts} {} {} {}{attrs}",
        ev["Type"].as_str().unwrap_or_default(),
        ev["Action"].as_str().unwrap_or_default(),
        ev["Actor"]["ID"].as_str().unwrap_or_default()
    )
}
