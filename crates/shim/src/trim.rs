//! Keeping the shim's resident memory small.
//!
//! The shim is part of the `berth` binary, whose code is mostly the daemon
//! and CLI. Start-up touches a lot of it (argument parsing, the runtime's
//! container creation, seccomp compilation), and the kernel maps code in
//! 64 KiB "fault-around" chunks, so after start-up the shim has several
//! hundred KiB of code mapped that the event loop never runs again. Those
//! pages are clean copies of the executable's page cache (shared with the
//! daemon), so unmapping them from the shim costs nothing: the loop faults
//! back in only the code it runs. The loop trims again whenever it has been
//! idle for a while after some activity (an exec, `docker stats`...).

/// Drops the shim's page-table entries for the file mappings it never wrote
/// to: the code of the binary and of libc, and read-only data such as the
/// binary's symbol tables and constants. Such pages are clean copies of the
/// page cache, so `MADV_DONTNEED` only forgets the mapping; the next access
/// maps the page cache page again. Mappings holding private (anonymous)
/// pages, such as relocated data, are left alone: dropping those would lose
/// their contents. Best effort: errors are ignored.
pub fn drop_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in clean_file_mappings(&smaps) {
        // SAFETY: the range is a whole mapping of this process, taken from
        // /proc/self/smaps: private, file-backed, not writable, without a
        // single private page, so MADV_DONTNEED only drops page table
        // entries (the contents come back from the file on access). The
        // process is single-threaded: nothing can write to or remap the
        // range between reading smaps and this call.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// The address ranges of private, read-only (`r--p`, `r-xp`), file-backed
/// mappings without a single private page, in memory or swapped out, from
/// the text of `/proc/PID/smaps`. (Relocated read-only data, such as a
/// library's GOT, is private: in memory it shows as `Anonymous`, swapped out
/// as `Swap`; dropping it would bring back the unrelocated file page.)
fn clean_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    struct Block {
        range: (usize, usize),
        candidate: bool,
        anonymous: Option<u64>,
        swap: Option<u64>,
    }
    let keep = |b: &Block| b.candidate && b.anonymous == Some(0) && b.swap == Some(0);
    let mut found = Vec::new();
    let mut block: Option<Block> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        {
            // A mapping's header: range, perms, offset, dev, inode, path.
            if let Some(b) = block.take().filter(keep) {
                found.push(b.range);
            }
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            block = Some(Block {
                range: (start, end),
                candidate: matches!(perms, "r--p" | "r-xp") && path.starts_with('/'),
                anonymous: None,
                swap: None,
            });
        } else if let Some(b) = block.as_mut() {
            let kb = || fields.clone().next().and_then(|v| v.parse().ok());
            match first {
                "Anonymous:" => b.anonymous = kb(),
                "Swap:" => b.swap = kb(),
                _ => {}
            }
        }
    }
    if let Some(b) = block.filter(keep) {
        found.push(b.range);
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_still_runs_after_dropping_its_pages() {
        super::drop_clean_file_pages();
        // Code in this binary and in libc keeps working.
        let v: Vec<u32> = (0..1000).collect();
        assert_eq!(v.iter().sum::<u32>(), 499_500);
        assert!(std::fs::read_to_string("/proc/self/status").unwrap().contains("VmRSS"));
    }

    #[test]
    fn only_clean_read_only_file_mappings_are_chosen() {
        let smaps = "\
55d0-55e0 r--p 00000000 fe:00 12 /usr/bin/berth
Rss:                  40 kB
Anonymous:             0 kB
Swap:                  0 kB
55e0-55f0 r-xp 00010000 fe:00 12 /usr/bin/berth
Anonymous:             0 kB
Swap:                  0 kB
55f0-5600 r--p 00020000 fe:00 12 /usr/bin/berth
Anonymous:            12 kB
Swap:                  0 kB
5600-5610 r--p 00030000 fe:00 13 /usr/lib/libm.so.6
Anonymous:             0 kB
Swap:                  8 kB
5610-5620 rw-p 00030000 fe:00 12 /usr/bin/berth
Anonymous:             0 kB
Swap:                  0 kB
5620-5630 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
Swap:                  0 kB
5630-5640 r-xp 00000000 fe:00 14 /usr/lib/libc.so.6
Anonymous:             0 kB
";
        // The last has no Swap line: not known to be clean, kept.
        assert_eq!(super::clean_file_mappings(smaps), [(0x55d0, 0x55e0), (0x55e0, 0x55f0)]);
    }
}
