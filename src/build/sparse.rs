//! Copies a file's data and leaves its holes holes: a sparse multi-GB file on the host (a VM
//! disk, a preallocated database file) must not become dense in a volume copy, nor pass through
//! memory other than a small buffer at a time.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;

const BUFFER: usize = 128 << 10;

/// Copies the first `size` bytes of `from` (the size seen when it was opened: a file that grows
/// meanwhile is not chased) into the empty `to`, data ranges only; returns the data bytes
/// copied. Where the filesystem cannot tell data from holes, everything is data.
pub fn copy(from: &mut File, to: &mut File, size: u64) -> io::Result<u64> {
    let mut copied = 0;
    let mut at = 0;
    while at < size {
        let Some(start) = seek(from, at, libc::SEEK_DATA)? else {
            break; // only a hole is left
        };
        if start >= size {
            break;
        }
        let end = seek(from, start, libc::SEEK_HOLE)?
            .unwrap_or(size)
            .min(size);
        copied += copy_range(from, to, start, end - start)?;
        at = end;
    }
    // Trailing holes (and a file that shrank) still give the size seen at open.
    to.set_len(size)?;
    Ok(copied)
}

/// `lseek` with SEEK_DATA/SEEK_HOLE: None past the end (ENXIO); a filesystem without support
/// reports all of the file as data.
fn seek(f: &File, offset: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    let Ok(off) = libc::off_t::try_from(offset) else {
        return Ok(None);
    };
    // SAFETY: lseek on an open descriptor has no memory effects.
    let r = unsafe { libc::lseek(f.as_raw_fd(), off, whence) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENXIO) => Ok(None),
        Some(libc::EINVAL) if whence == libc::SEEK_DATA => Ok(Some(offset)),
        Some(libc::EINVAL) => Ok(None),
        _ => Err(e),
    }
}

fn copy_range(from: &mut File, to: &mut File, start: u64, len: u64) -> io::Result<u64> {
    from.seek(SeekFrom::Start(start))?;
    to.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; BUFFER];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => break, // shrank while copied: set_len pads with a hole
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(len - left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn holes_stay_holes_and_data_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("sparse");
        let dst = dir.path().join("copy");
        let size: u64 = 8 << 30;
        {
            let mut f = File::create(&src).unwrap();
            f.set_len(size).unwrap();
            f.seek(SeekFrom::Start(1 << 30)).unwrap();
            f.write_all(b"middle").unwrap();
            f.seek(SeekFrom::Start(size - 3)).unwrap();
            f.write_all(b"end").unwrap();
        }
        let mut from = File::open(&src).unwrap();
        let mut to = File::create(&dst).unwrap();
        let copied = copy(&mut from, &mut to, size).unwrap();
        assert!(copied < 1 << 20, "only data ranges read: {copied}");
        let meta = std::fs::metadata(&dst).unwrap();
        assert_eq!(meta.len(), size);
        assert!(meta.blocks() * 512 < 1 << 20, "the copy stays sparse");
        let mut f = File::open(&dst).unwrap();
        let mut buf = [0u8; 6];
        f.seek(SeekFrom::Start(1 << 30)).unwrap();
        f.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"middle");
        f.seek(SeekFrom::Start(size - 3)).unwrap();
        f.read_exact(&mut buf[..3]).unwrap();
        assert_eq!(&buf[..3], b"end");
    }

    #[test]
    fn a_dense_file_is_copied_whole() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("dense");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let dst = dir.path().join("copy");
        let mut to = File::create(&dst).unwrap();
        let n = copy(&mut File::open(&src).unwrap(), &mut to, data.len() as u64).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }
}
