//! Times layer extraction of a real layer blob, plain and pipelined, against
//! decompression alone: `cargo run --release -p image --example layer_apply -- LAYER.tar.gz`.

use std::io::BufReader;
use std::time::Instant;

use image::layer::{apply, apply_pipelined, decompress};

fn main() {
    let path = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: layer_apply LAYER_BLOB"));
    let dir = tempfile::tempdir_in(path.parent().expect("a file path")).expect("temp dir");
    let open = || BufReader::with_capacity(256 << 10, std::fs::File::open(&path).expect("open the layer"));
    let start = Instant::now();
    let (c, mut r) = decompress(open()).expect("decompress");
    let n = std::io::copy(&mut r, &mut std::io::sink()).expect("read");
    println!("{c}: decompressing {} MB alone: {:?}", n >> 20, start.elapsed());
    for pipelined in [false, true] {
        let dest = dir.path().join(if pipelined { "pipelined" } else { "plain" });
        std::fs::create_dir(&dest).expect("mkdir");
        let start = Instant::now();
        let (_, r) = decompress(open()).expect("decompress");
        let applied = if pipelined { apply_pipelined(r, &dest) } else { apply(r, &dest) }.expect("apply");
        let took = start.elapsed();
        println!(
            "{c}{}: {} MB tar, {} MB unpacked in {took:?} ({:.0} MB/s of tar)",
            if pipelined { " pipelined" } else { "" },
            applied.tar_size >> 20,
            applied.unpacked_size >> 20,
            applied.tar_size as f64 / 1e6 / took.as_secs_f64()
        );
    }
}
