//! A perl daemon with its own module found through `use lib "$FindBin::Bin/../lib"` (cause 4).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "perl",
    ("/usr/bin/perl", "perl"),
    "4 (use lib, a module of its own)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let app = dir.join("perlapp");
    write(
        &app.join("bin/greetd.pl"),
        "#!/usr/bin/perl\nuse strict;\nuse warnings;\nuse FindBin;\nuse lib \"$FindBin::Bin/../lib\";\n\
         use Greeting;\nuse IO::Socket::INET;\nmy $port = shift or die \"usage: greetd PORT\\n\";\n\
         my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 5,\n  \
         ReuseAddr => 1) or die \"listen: $!\\n\";\n\
         while (my $c = $s->accept) { print $c Greeting::hello(), \"\\n\"; close $c; }\n",
    )?;
    write(
        &app.join("lib/Greeting.pm"),
        "package Greeting;\nuse strict;\nsub hello { return 'hello from a perl module of its own'; }\n1;\n",
    )?;
    super::spawn_background(
        "perl",
        daemon_command("/usr/bin/perl")
            .arg(app.join("bin/greetd.pl"))
            .arg(port.to_string()),
        &dir.join("perl.log"),
    )?;
    super::started("perl", port, probe, &dir.join("perl.log"))
}

fn probe(port: u16) -> Result<String, String> {
    let a = super::exchange(port, b"", None)?;
    Ok(String::from_utf8_lossy(&a).trim().to_string())
}
