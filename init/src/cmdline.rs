//! The kernel command line options init reads (`liftkit.*`), parsed without side effects.

use std::net::Ipv4Addr;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Boot {
    /// `liftkit.ip=10.0.2.15/24`: the address of eth0.
    pub ip: Option<(Ipv4Addr, u8)>,
    /// `liftkit.gw=10.0.2.2`: the default route.
    pub gateway: Option<Ipv4Addr>,
    /// `liftkit.dns=10.0.2.3,…`: name servers with a static address.
    pub dns: Vec<Ipv4Addr>,
    /// `liftkit.dhcp.renew=SECONDS`: renew the lease this soon instead of at half its time.
    pub dhcp_renew: Option<u64>,
    /// `liftkit.system=hsqs:HEX`: the system image is the partition whose squashfs superblock
    /// is HEX (disk formats); without it the image is in the initramfs.
    pub system: Option<String>,
    /// `liftkit.data=/dev/vda`: the disk that holds the volumes.
    pub data: Option<String>,
    /// `liftkit.debug=1`: more messages.
    pub debug: bool,
}

pub fn parse(cmdline: &str) -> Boot {
    let mut boot = Boot::default();
    for word in cmdline.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        match key {
            "liftkit.ip" => boot.ip = parse_cidr(value),
            "liftkit.gw" => boot.gateway = value.parse().ok(),
            "liftkit.dns" => boot.dns = value.split(',').filter_map(|a| a.parse().ok()).collect(),
            "liftkit.dhcp.renew" => boot.dhcp_renew = value.parse().ok(),
            "liftkit.system" => boot.system = Some(value.to_string()).filter(|v| !v.is_empty()),
            "liftkit.data" => boot.data = Some(value.to_string()).filter(|v| !v.is_empty()),
            "liftkit.debug" => boot.debug = value != "0",
            _ => {}
        }
    }
    boot
}

fn parse_cidr(value: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = value.split_once('/').unwrap_or((value, "24"));
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((addr.parse().ok()?, prefix))
}

pub fn netmask(prefix: u8) -> Ipv4Addr {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    Ipv4Addr::from(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_liftkit_options_and_ignores_the_rest() {
        let b = parse(
            "console=ttyS0 quiet liftkit.ip=10.0.2.15/24 liftkit.gw=10.0.2.2 liftkit.data=/dev/vda",
        );
        assert_eq!(b.ip, Some(("10.0.2.15".parse().unwrap(), 24)));
        assert_eq!(b.gateway, Some("10.0.2.2".parse().unwrap()));
        assert_eq!(b.data.as_deref(), Some("/dev/vda"));
        assert_eq!(parse("liftkit.ip=10.0.2.15/40").ip, None);
        let d = parse("liftkit.dns=10.0.2.3,1.1.1.1 liftkit.dhcp.renew=5 liftkit.system=hsqs:ab");
        assert_eq!(d.dns.len(), 2);
        assert_eq!(d.dhcp_renew, Some(5));
        assert_eq!(d.system.as_deref(), Some("hsqs:ab"));
        assert_eq!(parse("").ip, None);
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
    }
}
