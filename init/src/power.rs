//! The ACPI power button, as the kernel's `button` driver reports it through evdev: a KEY_POWER
//! press on one of /dev/input/event*. qemu's `system_powerdown` presses it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

const EV_KEY: u16 = 1;
const KEY_POWER: u16 = 116;
/// `struct input_event` on 64-bit: timeval (16), type (2), code (2), value (4).
const EVENT_SIZE: usize = 24;

#[derive(Default)]
pub struct Buttons {
    open: BTreeMap<PathBuf, File>,
}

impl Buttons {
    /// Opens event devices not yet open (they appear as drivers bind).
    pub fn rescan(&mut self) {
        let Ok(dir) = std::fs::read_dir("/dev/input") else {
            return;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            let is_event = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("event"));
            if !is_event || self.open.contains_key(&path) {
                continue;
            }
            if let Ok(f) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(&path)
            {
                self.open.insert(path, f);
            }
        }
    }

    pub fn fds(&self) -> Vec<RawFd> {
        self.open.values().map(|f| f.as_raw_fd()).collect()
    }

    pub fn count(&self) -> usize {
        self.open.len()
    }

    /// Reads what is pending on `fd`; true when the power button was pressed.
    pub fn pressed(&mut self, fd: RawFd) -> bool {
        let Some(file) = self.open.values_mut().find(|f| f.as_raw_fd() == fd) else {
            return false;
        };
        let mut buf = [0u8; EVENT_SIZE * 16];
        let mut pressed = false;
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            pressed |= buf[..n].chunks_exact(EVENT_SIZE).any(is_power_press);
        }
        pressed
    }
}

fn is_power_press(ev: &[u8]) -> bool {
    let kind = u16::from_ne_bytes([ev[16], ev[17]]);
    let code = u16::from_ne_bytes([ev[18], ev[19]]);
    let value = i32::from_ne_bytes([ev[20], ev[21], ev[22], ev[23]]);
    kind == EV_KEY && code == KEY_POWER && value == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_a_power_key_press_only() {
        let mut ev = [0u8; EVENT_SIZE];
        ev[16..18].copy_from_slice(&EV_KEY.to_ne_bytes());
        ev[18..20].copy_from_slice(&KEY_POWER.to_ne_bytes());
        ev[20..24].copy_from_slice(&1i32.to_ne_bytes());
        assert!(is_power_press(&ev));
        ev[20..24].copy_from_slice(&0i32.to_ne_bytes());
        assert!(!is_power_press(&ev), "release");
        ev[18..20].copy_from_slice(&30u16.to_ne_bytes());
        ev[20..24].copy_from_slice(&1i32.to_ne_bytes());
        assert!(!is_power_press(&ev), "another key");
    }
}
