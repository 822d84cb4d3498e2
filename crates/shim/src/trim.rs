//! Keeping the shim's resident memory small.
//!
//! The shim is part of the `berth` binary, whose code is mostly the daemon
//! and CLI. Start-up touches a lot of it (argument parsing, the runtime's
//! container creation, seccomp compilation), and the kernel maps code in
//! 64 KiB "fault-around" chunks, so after start-up the shim has several
//! hundred KiB of code mapped that the event loop never runs again. Those
//! pages are clean copies of the executable's page cache (shared with the
//! daemon), so unmapping them from the shim costs nothing: the loop faults
//! back in only the code it runs.

/// Drops the shim's page-table entries for executable file mappings (the
/// binary's and libc's code). Code is never written, so `MADV_DONTNEED`
/// only forgets mappings; the next access maps the page cache page again.
/// Best effort: errors are ignored.
pub fn drop_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        // Only private, read-execute, file-backed mappings: never written,
        // so nothing but the mapping itself is lost. [vdso] and anonymous
        // mappings are skipped.
        let path = fields.nth(3);
        if perms != "r-xp" || !path.is_some_and(|p| p.starts_with('/')) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
            continue;
        };
        // SAFETY: the range is a whole mapping of this process, taken from
        // /proc/self/maps; it is read-execute and private, so its pages
        // are unmodified file pages and MADV_DONTNEED only drops the page
        // table entries (the contents come back from the file on access).
        // The process is single-threaded: the mapping cannot change
        // between reading the maps and this call.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_still_runs_after_dropping_its_pages() {
        super::drop_code_pages();
        // Code in this binary and in libc keeps working.
        let v: Vec<u32> = (0..1000).collect();
        assert_eq!(v.iter().sum::<u32>(), 499_500);
        assert!(std::fs::read_to_string("/proc/self/status").unwrap().contains("VmRSS"));
    }
}
