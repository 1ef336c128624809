//! Exposes loopback-only listeners on the host's address (host-image `--expose-loopback`): the app
//! keeps listening on 127.0.0.1 as on the source, and its clients still arrive from 127.0.0.1
//! (redis' protected mode, nginx `allow 127.0.0.1` keep working), while the VM's network reaches it.

use crate::warn;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};

pub fn expose(addr: Ipv4Addr, port: u16) {
    let listener = match TcpListener::bind((addr, port)) {
        Ok(l) => l,
        Err(e) => {
            warn(&format!("expose {addr}:{port} → 127.0.0.1:{port}: {e}"));
            return;
        }
    };
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || relay(client, port));
        }
    });
}

fn relay(client: TcpStream, port: u16) {
    let Ok(upstream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return; // the app is not up (yet): the client sees a closed connection, as it would
    };
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let (mut client, mut upstream) = (client, upstream);
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
}
