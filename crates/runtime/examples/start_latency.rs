//! Times create + start + wait of a container running `true`, 20 runs over
//! the busybox fixture, and prints the median (and spread), for comparison
//! with `runc run` on the same machine. Also prints this process's peak
//! resident memory, a stand-in for the shim's footprint.
//!
//! ```text
//! sudo cargo run --release -p runtime --example start_latency [-- RUNS]
//! ```
//!
//! Needs root. The image layer is extracted once, by a child process (so
//! decompression buffers do not count towards the memory figure); each run
//! gets a fresh upper/work directory and cgroup, as a real container would.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use runtime::{ExitStatus, Stdio};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--extract") {
        common::extract_busybox(&PathBuf::from(&args[2]));
        return;
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("start_latency needs root");
        std::process::exit(2);
    }
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let busybox = tempfile::Builder::new().prefix("berth-latency-").tempdir().unwrap();
    let extracted = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--extract")
        .arg(busybox.path())
        .status()
        .unwrap();
    assert!(extracted.success());
    let env = common::Env::with_busybox("latency", busybox.path().to_path_buf());
    let devnull = std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap();

    let (mut create, mut start, mut total, mut cleanup) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..=runs {
        let spec = env.spec(&["true"]);
        let t0 = Instant::now();
        let c = runtime::create(&spec, Stdio::all_to(&devnull).unwrap()).expect("create");
        let t1 = Instant::now();
        runtime::start(&c).expect("start");
        let t2 = Instant::now();
        assert_eq!(c.wait().unwrap(), ExitStatus::Exited(0));
        let t3 = Instant::now();
        runtime::cleanup(&spec).unwrap();
        let t4 = Instant::now();
        if i == 0 {
            continue; // warm-up: page cache, the shared parent cgroup
        }
        create.push(t1 - t0);
        start.push(t2 - t1);
        total.push(t3 - t0);
        cleanup.push(t4 - t3);
    }
    println!(
        "{runs} runs of `true` (busybox on overlay, default caps and seccomp, cgroup {:?}):",
        env.hierarchy().version()
    );
    report("create", &mut create);
    report("start", &mut start);
    report("create+start+wait", &mut total);
    report("cleanup", &mut cleanup);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    for key in ["VmHWM", "VmRSS", "RssAnon", "RssFile"] {
        if let Some(line) = status.lines().find(|l| l.starts_with(key)) {
            println!("  {}", line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what:<18} median {:7.2} ms   min {:7.2} ms   max {:7.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}
