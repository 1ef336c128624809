//! The accounts an application runs as, written into the image's own passwd and group.

use super::vars::Vars;
use crate::plan::{Generated, Role};
use crate::snapshot::{Group, Process, Snapshot, User};

pub struct Accounts {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

/// root, the users every process runs as, and the user the configuration switches to (`user`).
pub fn accounts(snapshot: &Snapshot, procs: &[&Process], vars: &Vars) -> Accounts {
    let mut users: Vec<User> = Vec::new();
    let mut push_user = |u: Option<&User>| {
        if let Some(u) = u {
            if !users.iter().any(|x| x.uid == u.uid && x.name == u.name) {
                users.push(u.clone());
            }
        }
    };
    push_user(snapshot.user_by_uid(0));
    for p in procs {
        push_user(snapshot.user_by_uid(p.uids[1]));
        push_user(snapshot.user_by_uid(p.uids[0]));
    }
    for name in vars.get("user") {
        // nginx's `user www-data www-data;` and Apache's `User www-data` give a name; a number
        // is a uid.
        let u = name
            .parse::<u32>()
            .ok()
            .and_then(|uid| snapshot.user_by_uid(uid))
            .or_else(|| snapshot.user_by_name(name));
        push_user(u);
    }
    // System accounts (no password, no login) a daemon may switch to by a name compiled into it
    // (sshd's privilege separation user) or given in its config: cheap to carry, fatal to miss.
    for u in snapshot.users.iter().filter(|u| is_system(u.uid)) {
        push_user(Some(u));
    }
    let mut gids: Vec<u32> = users.iter().map(|u| u.gid).collect();
    for p in procs {
        gids.push(p.gids[1]);
        gids.extend(p.groups.iter().copied());
    }
    for name in vars.get("group") {
        if let Some(g) = snapshot.group_by_name(name) {
            gids.push(g.gid);
        }
    }
    gids.sort_unstable();
    gids.dedup();
    let groups = gids
        .into_iter()
        .filter_map(|gid| snapshot.group_by_gid(gid).cloned())
        .collect();
    let mut groups: Vec<Group> = groups;
    for g in snapshot.groups.iter().filter(|g| is_system(g.gid)) {
        if !groups.iter().any(|x| x.gid == g.gid) {
            groups.push(g.clone());
        }
    }
    groups.sort_by_key(|g| g.gid);
    users.sort_by_key(|u| u.uid);
    Accounts { users, groups }
}

fn is_system(id: u32) -> bool {
    (1..1000).contains(&id) || id == 65534
}

pub fn generated_files(a: &Accounts) -> Vec<Generated> {
    let names = |v: Vec<&str>| v.join(", ");
    let passwd: String = a.users.iter().map(|u| format!("{}\n", u.line)).collect();
    let group: String = a.groups.iter().map(|g| format!("{}\n", g.line)).collect();
    vec![
        Generated {
            path: "/etc/passwd".to_string(),
            role: Role::Config,
            why: format!(
                "accounts the app runs as and the host's system accounts ({}), copied from the host's /etc/passwd",
                names(a.users.iter().map(|u| u.name.as_str()).collect())
            ),
            content: passwd,
            mode: 0o644,
        },
        Generated {
            path: "/etc/group".to_string(),
            role: Role::Config,
            why: format!(
                "groups of those accounts ({}), copied from the host's /etc/group",
                names(a.groups.iter().map(|g| g.name.as_str()).collect())
            ),
            content: group,
            mode: 0o644,
        },
    ]
}
