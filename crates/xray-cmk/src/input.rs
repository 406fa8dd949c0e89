//! Reading an input file the user names (the policy file, a plan, an `--accounts @FILE` list):
//! only a regular file, never more than a documented cap, and never a read that blocks. A FIFO,
//! a device (`/dev/zero`) or a directory is refused with its type; a file over the cap with the
//! cap. The file is opened without blocking and checked after opening (so a file swapped for a
//! FIFO between a check and the read is refused too), then read at most one byte past the cap.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The most a policy file may hold.
pub(crate) const POLICY_CAP: u64 = 1024 * 1024;
/// The most a plan file may hold. A plan for a very large organization can be split with
/// `plan --accounts`.
pub(crate) const PLAN_CAP: u64 = 64 * 1024 * 1024;
/// The most an `--accounts @FILE` (or `--exclude-accounts @FILE`) list may hold: about 80,000
/// account ids.
pub(crate) const ACCOUNTS_CAP: u64 = 1024 * 1024;

/// The most a `guard generate --key-arns FILE` list may hold: thousands of key ARNs.
pub(crate) const KEY_ARNS_CAP: u64 = 1024 * 1024;

fn human(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading blocks until a writer comes: never wait for one.
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// The text of `path`, `what` it is for the messages ("policy file"), at most `cap` bytes.
pub(crate) fn read_text(path: &Path, what: &str, cap: u64) -> Result<String> {
    let shown = path.display();
    // Refused before opening when the type is already clear: a FIFO opened without blocking
    // would still be read as empty.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            bail!("{what} {shown} is {}, not a regular file", kind(&meta));
        }
    }
    let file = open(path).with_context(|| format!("reading {what} {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading {what} {shown}"))?;
    if !meta.is_file() {
        bail!("{what} {shown} is {}, not a regular file", kind(&meta));
    }
    if meta.len() > cap {
        bail!(
            "{what} {shown} is {} bytes, more than the {} a {what} may hold",
            meta.len(),
            human(cap)
        );
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {shown}"))?;
    if bytes.len() as u64 > cap {
        bail!(
            "{what} {shown} grew past the {} a {what} may hold while it was read",
            human(cap)
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what} {shown} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_under_the_cap_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "x = 1\n").expect("write");
        assert_eq!(read_text(&p, "policy file", 100).expect("read"), "x = 1\n");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_with_the_cap() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("big.toml");
        std::fs::write(&p, vec![b'#'; 2048]).expect("write");
        let err = read_text(&p, "policy file", 1024).expect_err("too big");
        assert!(
            err.to_string()
                .contains("is 2048 bytes, more than the 1024 bytes a policy file may hold"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_and_binary_junk_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("dir");
        let err = read_text(dir.path(), "plan", 1024).expect_err("a directory");
        assert!(err.to_string().contains("is a directory"), "{err}");
        let p = dir.path().join("junk");
        std::fs::write(&p, [0xff, 0xfe, 0x00]).expect("write");
        let err = read_text(&p, "plan", 1024).expect_err("junk");
        assert!(err.to_string().contains("is not UTF-8 text"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let started = std::time::Instant::now();
        let err = read_text(Path::new("/dev/zero"), "policy file", POLICY_CAP).expect_err("dev");
        assert!(err.to_string().contains("is a character device"), "{err}");
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let err = read_text(&fifo, "plan", PLAN_CAP).expect_err("fifo");
        assert!(err.to_string().contains("is a FIFO"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
