//! A ruby daemon run from its directory with a `require_relative` library (cause 4).

use super::{daemon_command, write, Running, Service, TestbedError};
use std::path::Path;

pub const SERVICE: Service = Service::corpus(
    "ruby",
    ("/usr/bin/ruby", "ruby"),
    "4 (relative script, require_relative)",
    start,
);

fn start(dir: &Path, port: u16) -> Result<Running, TestbedError> {
    let app = dir.join("rubyapp");
    write(
        &app.join("app.rb"),
        "require 'socket'\nrequire_relative 'lib/greeter'\n\
         server = TCPServer.new('127.0.0.1', ARGV[0].to_i)\n\
         loop do\n  c = server.accept\n  c.puts Greeter.hello\n  c.close\nend\n",
    )?;
    write(
        &app.join("lib/greeter.rb"),
        "module Greeter\n  def self.hello\n    'hello from a ruby library of its own'\n  end\nend\n",
    )?;
    super::spawn_background(
        "ruby",
        daemon_command("/usr/bin/ruby")
            .arg("app.rb")
            .arg(port.to_string())
            .current_dir(&app),
        &dir.join("ruby.log"),
    )?;
    super::started("ruby", port, probe, &dir.join("ruby.log"))
}

fn probe(port: u16) -> Result<String, String> {
    let a = super::exchange(port, b"", None)?;
    Ok(String::from_utf8_lossy(&a).trim().to_string())
}
