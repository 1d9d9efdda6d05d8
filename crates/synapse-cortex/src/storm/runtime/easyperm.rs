//! `$lib.auth.easyperm`: the "easy perm" convention, a `permissions` dict of per-user and
//! per-role levels (deny, read, edit, admin) with a default, kept inside any Storm dict.

use std::sync::Arc;

use indexmap::IndexMap;

use super::error::{Flow, RResult, StormError, err};
use super::lib::{arg, req};
use super::runt::Runt;
use super::value::{Key, Val, lock, new_dict};

/// The library path.
pub(crate) const LIB: &str = "lib.auth.easyperm";
/// Its functions.
pub(crate) const LIB_FUNCS: &[&str] = &["set", "init", "allowed", "confirm"];

const DENY: i128 = 0;
const READ: i128 = 1;
const ADMIN: i128 = 3;
const LEVELS: &[&str] = &["deny", "read", "edit", "admin"];

fn key(text: &str) -> Key {
    Key::Str(Arc::from(text))
}

/// `$lib.auth.easyperm.level`: the level names and their values.
pub(crate) fn levels() -> Val {
    let mut out = IndexMap::new();
    for (n, name) in (0i128..).zip(LEVELS) {
        out.insert(key(name), Val::Int(n));
    }
    new_dict(out)
}

/// A deep copy of a dict argument (BadArg with `mesg` otherwise).
fn dict_copy(valu: &Val, mesg: &str) -> RResult<Val> {
    match valu {
        Val::Dict(_) => Ok(Val::from_msgpack(&valu.to_msgpack()?)),
        _ => err("BadArg", mesg),
    }
}

/// `edef["permissions"][sub]`, created (as `init` does) when missing.
fn perms_dict(edef: &Val, sub: &str) -> RResult<Val> {
    let Val::Dict(d) = edef else {
        return err("BadArg", "Object must be a dictionary.");
    };
    let perms = lock(d)
        .entry(key("permissions"))
        .or_insert_with(|| new_dict(IndexMap::new()))
        .clone();
    let Val::Dict(p) = &perms else {
        return err(
            "BadArg",
            "The permissions of the object must be a dictionary.",
        );
    };
    Ok(lock(p)
        .entry(key(sub))
        .or_insert_with(|| new_dict(IndexMap::new()))
        .clone())
}

fn check_level(level: i128) -> RResult<()> {
    if !(DENY..=ADMIN).contains(&level) {
        return err(
            "BadArg",
            format!("Invalid permission level: {level} (must be <= 3 and >= 0)"),
        );
    }
    Ok(())
}

/// The reference's `_hasEasyPerm`.
fn allowed(runt: &Runt, edef: &Val, level: i128) -> RResult<bool> {
    check_level(level)?;
    let user = &runt.shared.user;
    if user.admin {
        return Ok(true);
    }
    let grant = |v: Option<Val>| -> Option<bool> {
        let lvl = v?.to_int().ok()?;
        if lvl == DENY {
            Some(false)
        } else if lvl >= level {
            Some(true)
        } else {
            None
        }
    };
    let get = |d: &Val, k: &str| match d {
        Val::Dict(d) => lock(d).get(&key(k)).cloned(),
        _ => None,
    };
    let users = perms_dict(edef, "users")?;
    if let Some(ok) = grant(get(&users, &user.iden)) {
        return Ok(ok);
    }
    let roles = perms_dict(edef, "roles")?;
    if let Ok(core) = super::ext::cortex(runt) {
        let auth = core.cell().auth();
        if let Some(udef) = auth.user(&user.iden) {
            for role in auth.user_roles(&udef) {
                if let Some(ok) = grant(get(&roles, &role.iden)) {
                    return Ok(ok);
                }
            }
        }
    }
    let perms = match edef {
        Val::Dict(d) => lock(d).get(&key("permissions")).cloned(),
        _ => None,
    };
    let default = perms
        .and_then(|p| get(&p, "default"))
        .and_then(|v| v.to_int().ok())
        .unwrap_or(READ);
    Ok(level <= default)
}

/// Call a `$lib.auth.easyperm` function.
pub(crate) async fn call(
    runt: &Arc<Runt>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    match name {
        "set" => {
            let edef = dict_copy(
                &r(0, "edef")?,
                "Object to set easy perms on must be a dictionary.",
            )?;
            let scope = r(1, "scope")?.to_str()?;
            let iden = r(2, "iden")?.to_str()?;
            let level = match r(3, "level")? {
                Val::Null => None,
                v => Some(v.to_int()?),
            };
            if scope != "users" && scope != "roles" {
                return err(
                    "BadArg",
                    format!("Invalid permissions scope: {scope} (must be \"users\" or \"roles\")"),
                );
            }
            if let Some(level) = level
                && !(DENY..=ADMIN).contains(&level)
            {
                return err(
                    "BadArg",
                    format!("Invalid permission level: {level} (must be <= 3 and >= 0, or None)"),
                );
            }
            let core = super::ext::cortex(runt)?;
            let auth = core.cell().auth();
            if scope == "users" {
                auth.req_user(&iden).map_err(super::ext::cell_err)?;
            } else {
                auth.req_role(&iden).map_err(super::ext::cell_err)?;
            }
            let perms = perms_dict(&edef, &scope)?;
            if let Val::Dict(p) = &perms {
                match level {
                    None => {
                        lock(p).shift_remove(&key(&iden));
                    }
                    Some(level) => {
                        lock(p).insert(key(&iden), Val::Int(level));
                    }
                }
            }
            Ok(edef)
        }
        "init" => {
            let edef = match arg(args, kwargs, 0, "edef") {
                None | Some(Val::Null) => new_dict(IndexMap::new()),
                Some(v) => dict_copy(&v, "Object to add easy perms to must be a dictionary.")?,
            };
            let default = match arg(args, kwargs, 1, "default") {
                None => READ,
                Some(v) => v.to_int()?,
            };
            if !(DENY..=ADMIN).contains(&default) {
                return err(
                    "BadArg",
                    format!("Invalid permission level: {default} (must be <= 3 and >= 0)"),
                );
            }
            perms_dict(&edef, "users")?;
            perms_dict(&edef, "roles")?;
            if let Val::Dict(d) = &edef
                && let Some(Val::Dict(p)) = lock(d).get(&key("permissions")).cloned()
            {
                lock(&p).entry(key("default")).or_insert(Val::Int(default));
            }
            let users = perms_dict(&edef, "users")?;
            if let Val::Dict(u) = &users {
                lock(u).insert(key(&runt.shared.user.iden), Val::Int(ADMIN));
            }
            Ok(edef)
        }
        "allowed" => {
            let edef = dict_copy(
                &r(0, "edef")?,
                "Object to check easy perms on must be a dictionary.",
            )?;
            let level = r(1, "level")?.to_int()?;
            Ok(Val::Bool(allowed(runt, &edef, level)?))
        }
        "confirm" => {
            let edef = dict_copy(
                &r(0, "edef")?,
                "Object to check easy perms on must be a dictionary.",
            )?;
            let level = r(1, "level")?.to_int()?;
            let mesg = match arg(args, kwargs, 2, "mesg") {
                None | Some(Val::Null) => None,
                Some(v) => Some(v.to_str()?),
            };
            if allowed(runt, &edef, level)? {
                return Ok(Val::Null);
            }
            let user = &runt.shared.user;
            let mesg = mesg.unwrap_or_else(|| {
                let permname = usize::try_from(level)
                    .ok()
                    .and_then(|l| LEVELS.get(l))
                    .copied()
                    .unwrap_or("None");
                format!(
                    "User ({}) has insufficient permissions (requires: {permname}).",
                    user.name
                )
            });
            Err(Flow::Err(
                StormError::new("AuthDeny", mesg)
                    .with("user", user.iden.as_str())
                    .with("username", user.name.as_str()),
            ))
        }
        _ => err("NoSuchName", format!("Cannot find name [{name}]")),
    }
}
