//! Compiles `reaper/main.rs` into a freestanding static executable and
//! leaves it in `OUT_DIR` for `include_bytes!`.
//!
//! Why not a Cargo binary: the reaper is bind-mounted into arbitrary images,
//! so it must need nothing from them (no libc, no loader), and Cargo on stable
//! cannot build one package with other link flags and hand the artifact to
//! another. The program uses only `core`, so calling `rustc` directly is all
//! it takes.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "reaper/main.rs";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-changed=reaper/sys.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("berth-init");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").expect("TARGET");
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition", "2024", "--crate-type", "bin", "--crate-name", "berth_init", "--target", &target])
        .args(["-C", "opt-level=s", "-C", "panic=abort", "-C", "debuginfo=0", "-C", "strip=symbols"])
        // A plain static executable: without a loader or libc start files
        // nobody would apply the relocations a static PIE needs.
        .args(["-C", "relocation-model=static", "-C", "target-feature=+crt-static"])
        .args(["-C", "link-arg=-nostartfiles", "-C", "link-arg=-nostdlib"]);
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        cmd.arg("-C").arg(format!("linker={}", linker.to_string_lossy()));
    }
    let status = cmd.arg("-o").arg(&out).arg(src).status().expect("running rustc for the reaper");
    assert!(status.success(), "building the reaper failed");
}
