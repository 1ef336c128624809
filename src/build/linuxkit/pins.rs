//! The LinuxKit images a generated host uses, pinned to the tags of LinuxKit's own examples
//! (upstream commit 3bf33c3a, see ../shared/linuxkit-examples/README.md): a host that builds
//! today builds the same tomorrow.

pub const KERNEL: &str = "linuxkit/kernel:6.12.59";
pub const INIT: &str = "linuxkit/init:b5506cc74a6812dc40982cacfd2f4328f8a4b12a";
pub const RUNC: &str = "linuxkit/runc:9442aa234715e751a16144f1d4ae3fd1a00fd492";
pub const CONTAINERD: &str = "linuxkit/containerd:ba19f64efd3331a8fd0a33e00eabd14f6ee1780e";
pub const CA_CERTIFICATES: &str =
    "linuxkit/ca-certificates:256f1950df59f2f209e9f0b81374177409eb11de";
pub const SYSCTL: &str = "linuxkit/sysctl:43ac1d39da329c3567fcb9689e5ca99de6d169b6";
pub const DHCPCD: &str = "linuxkit/dhcpcd:b87e9ececac55a65eaa592f4dd8b4e0c3009afdb";
pub const FORMAT: &str = "linuxkit/format:4f779c0b0d0ba145b7f03211b5cbf59fbbe12e54";
pub const MOUNT: &str = "linuxkit/mount:bd1c3bb45e48e68e47a9456d1669f7119f855184";

/// The base console line of LinuxKit's examples: every platform's first serial port.
pub const CONSOLE_CMDLINE: &str = "console=tty0 console=ttyS0 console=ttyAMA0";

/// Every pinned image, for the report's `linuxkit cache pull` list.
pub const ALL: &[&str] = &[
    KERNEL,
    INIT,
    RUNC,
    CONTAINERD,
    CA_CERTIFICATES,
    SYSCTL,
    DHCPCD,
    FORMAT,
    MOUNT,
];
