//! `$lib.auth` (`users`, `roles`, `gates`, `ruleFromText`, `textFromRule`), the `auth:user`,
//! `auth:role` and `auth:gate` objects, and the `auth.*` commands, over the Cell's users,
//! roles and gates with the reference's permissions.

use std::sync::Arc;

use rmpv::Value;
use synapse_cell::{Auth, PackRoles, Rule};

use super::cmds::Opts;
use super::error::{Flow, RResult, StormError, rterr};
use super::ext::{
    Args, Body, ExtObj, allowed_default, cell_err, cortex, nosuchname, opt, req_not_readonly,
};
use super::runt::Runt;
use super::value::{Obj, Val, new_list};
use crate::cortex::Cortex;

/// The functions of each library of this module.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.auth" => &["ruleFromText", "textFromRule"],
        "lib.auth.users" => &["add", "del", "list", "get", "byname", "byemail"],
        "lib.auth.roles" => &["add", "del", "list", "get", "byname"],
        "lib.auth.gates" => &["get", "list"],
        _ => &[],
    }
}

/// The methods of a user object.
pub(crate) const USER_METHODS: &[&str] = &[
    "get",
    "pack",
    "gates",
    "roles",
    "allowed",
    "grant",
    "revoke",
    "addRule",
    "delRule",
    "popRule",
    "setRoles",
    "getRules",
    "setRules",
    "setAdmin",
    "setEmail",
    "setLocked",
    "setPasswd",
    "setArchived",
];

/// The methods of a role object.
pub(crate) const ROLE_METHODS: &[&str] = &[
    "get", "pack", "gates", "addRule", "delRule", "popRule", "setRules", "getRules",
];

/// The commands of this module.
pub(crate) const CMDS: &[&str] = &[
    "auth.user.add",
    "auth.user.list",
    "auth.user.mod",
    "auth.user.show",
    "auth.user.addrule",
    "auth.user.delrule",
    "auth.user.grant",
    "auth.user.revoke",
    "auth.role.add",
    "auth.role.del",
    "auth.role.list",
    "auth.role.mod",
    "auth.role.show",
    "auth.role.addrule",
    "auth.role.delrule",
    "auth.gate.show",
];

fn obj(ext: ExtObj) -> Val {
    Val::Obj(Arc::new(Obj::Ext(ext)))
}

fn user_val(iden: &str) -> Val {
    obj(ExtObj::User(iden.to_owned()))
}

fn role_val(iden: &str) -> Val {
    obj(ExtObj::Role(iden.to_owned()))
}

fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// The user def as `getUserDef` packs it (roles as idens or as role defs).
fn user_def(auth: &Auth, iden: &str, roles: PackRoles) -> RResult<Value> {
    let user = auth.req_user(iden).map_err(cell_err)?;
    Ok(auth.pack_user(&user, roles))
}

fn role_def(auth: &Auth, iden: &str) -> RResult<Value> {
    Ok(auth.req_role(iden).map_err(cell_err)?.pack())
}

fn gate_val(auth: &Auth, iden: &str) -> Option<Val> {
    auth.gate(iden).map(|_| obj(ExtObj::Gate(iden.to_owned())))
}

/// `$lib.auth.ruleFromText(text)`: `(allow, (parts...))`.
fn rule_from_text(text: &str) -> Val {
    let (allow, text) = match text.strip_prefix('!') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let parts: Vec<Val> = text.split('.').map(Val::from).collect();
    Val::Tuple(Arc::from(vec![
        Val::Bool(allow),
        Val::Tuple(Arc::from(parts)),
    ]))
}

fn rule_of(valu: &Val) -> RResult<Rule> {
    Rule::parse(&valu.to_msgpack()?).map_err(cell_err)
}

/// Rules as `getRules()` returns them: a list of `(allow, path)` tuples.
fn rules_val(rules: &[Rule]) -> Val {
    new_list(
        rules
            .iter()
            .map(|rule| Val::from_msgpack(&rule.to_value()))
            .collect(),
    )
}

fn opt_str(valu: Option<Val>) -> RResult<Option<String>> {
    match valu {
        None | Some(Val::Null) => Ok(None),
        Some(v) => v.to_str().map(Some),
    }
}

/// `runt.confirm(perm, gateiden=gate)`: the gate's type names it in the error.
fn confirm_gate(runt: &Runt, auth: &Auth, perm: &[&str], gate: Option<&str>) -> RResult<()> {
    match gate {
        None => runt.confirm(perm, None),
        Some(gate) => {
            let kind = auth.gate(gate).map(|g| g.typ.clone()).unwrap_or_default();
            runt.confirm(perm, Some((gate, &kind)))
        }
    }
}

/// `allowed(auth.<kind>.<op>)` or else `confirm(storm.lib.auth.<kinds>.<op>)`.
fn confirm_either(runt: &Runt, kind: &str, op: &str) -> RResult<()> {
    if runt.allowed(&["auth", kind, op], None) {
        return Ok(());
    }
    let kinds = format!("{kind}s");
    runt.confirm(&["storm", "lib", "auth", &kinds, op], None)
}

/// Confirm a permission a user has on themselves by default (`auth.self.set.<what>`), or
/// the one over other users (`auth.user.set.<what>`).
fn confirm_self_or_user(runt: &Runt, core: &Cortex, iden: &str, what: &str) -> RResult<()> {
    if runt.shared.user.iden == iden {
        let perm = ["auth", "self", "set", what];
        if allowed_default(runt, core, &perm, true) {
            return Ok(());
        }
        return Err(Flow::Err(runt.shared.user.deny(&perm, None)));
    }
    runt.confirm(&["auth", "user", "set", what], None)
}

/// Call a function of `$lib.auth` or its sub-libraries.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    func: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    let core = cortex(runt)?;
    let auth = core.cell().auth();
    match (path, func) {
        ("lib.auth", "ruleFromText") => Ok(rule_from_text(&args.req(0, "text")?.to_str()?)),
        ("lib.auth", "textFromRule") => Ok(Val::from(rule_of(&args.req(0, "rule")?)?.text())),
        ("lib.auth.users", "list") => Ok(new_list(
            auth.users().iter().map(|u| user_val(&u.iden)).collect(),
        )),
        ("lib.auth.users", "get") => {
            let iden =
                opt_str(args.get(0, "iden"))?.unwrap_or_else(|| runt.shared.user.iden.clone());
            Ok(auth.user(&iden).map_or(Val::Null, |u| user_val(&u.iden)))
        }
        ("lib.auth.users", "byname") => {
            let name = args.req(0, "name")?.to_str()?;
            Ok(auth
                .user_by_name(&name)
                .map_or(Val::Null, |u| user_val(&u.iden)))
        }
        ("lib.auth.users", "byemail") => {
            let email = args.req(0, "email")?.to_str()?;
            let user = auth.user_by_email(&email).map_err(cell_err)?;
            Ok(user.map_or(Val::Null, |u| user_val(&u.iden)))
        }
        ("lib.auth.users", "add") => {
            req_not_readonly(runt, "$lib.auth.users.add")?;
            confirm_either(runt, "user", "add")?;
            let name = args.req(0, "name")?.to_str()?;
            let passwd = opt_str(args.get(1, "passwd"))?;
            let email = opt_str(args.get(2, "email"))?;
            let iden = opt_str(args.get(3, "iden"))?;
            let user = auth
                .add_user(&name, passwd.as_deref(), email.as_deref(), iden.as_deref())
                .await
                .map_err(cell_err)?;
            Ok(user_val(&user.iden))
        }
        ("lib.auth.users", "del") => {
            req_not_readonly(runt, "$lib.auth.users.del")?;
            confirm_either(runt, "user", "del")?;
            let iden = args.req(0, "iden")?.to_str()?;
            auth.del_user(&iden).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        ("lib.auth.roles", "list") => Ok(new_list(
            auth.roles().iter().map(|r| role_val(&r.iden)).collect(),
        )),
        ("lib.auth.roles", "get") => Ok(match opt_str(args.get(0, "iden"))? {
            None => Val::Null,
            Some(iden) => auth.role(&iden).map_or(Val::Null, |r| role_val(&r.iden)),
        }),
        ("lib.auth.roles", "byname") => {
            let name = args.req(0, "name")?.to_str()?;
            Ok(auth
                .role_by_name(&name)
                .map_or(Val::Null, |r| role_val(&r.iden)))
        }
        ("lib.auth.roles", "add") => {
            req_not_readonly(runt, "$lib.auth.roles.add")?;
            confirm_either(runt, "role", "add")?;
            let name = args.req(0, "name")?.to_str()?;
            let iden = opt_str(args.get(1, "iden"))?;
            let role = auth
                .add_role(&name, iden.as_deref())
                .await
                .map_err(cell_err)?;
            Ok(role_val(&role.iden))
        }
        ("lib.auth.roles", "del") => {
            req_not_readonly(runt, "$lib.auth.roles.del")?;
            confirm_either(runt, "role", "del")?;
            let iden = args.req(0, "iden")?.to_str()?;
            auth.del_role(&iden).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        ("lib.auth.gates", "list") => Ok(new_list(
            auth.gates()
                .iter()
                .map(|g| obj(ExtObj::Gate(g.iden.clone())))
                .collect(),
        )),
        ("lib.auth.gates", "get") => {
            let iden = args.req(0, "iden")?.to_str()?;
            Ok(gate_val(auth, &iden).unwrap_or(Val::Null))
        }
        _ => Err(nosuchname(func)),
    }
}

/// `$user.<name>` / `$role.<name>` / `$gate.<name>` for a name that is not a method.
pub(crate) fn attr(runt: &Runt, ext: &ExtObj, name: &str) -> RResult<Val> {
    let core = cortex(runt)?;
    let auth = core.cell().auth();
    let (def, iden) = match ext {
        ExtObj::User(iden) => (user_def(auth, iden, PackRoles::Idens)?, iden),
        ExtObj::Role(iden) => (role_def(auth, iden)?, iden),
        ExtObj::Gate(iden) => match auth.gate(iden) {
            Some(gate) => (gate.pack(), iden),
            None => return Ok(Val::Null),
        },
        _ => return Err(nosuchname(name)),
    };
    if name == "iden" {
        return Ok(Val::from(iden.as_str()));
    }
    match map_get(&def, name) {
        Some(valu) => Ok(Val::from_msgpack(valu)),
        None => Err(Flow::Err(
            StormError::new(
                "NoSuchName",
                format!("Cannot find name [{name}] on type {}", ext.typename()),
            )
            .with("name", name),
        )),
    }
}

/// The primitive of an auth object: the iden (users, roles) or the packed gate.
pub(crate) fn prim(ext: &ExtObj) -> Value {
    match ext {
        ExtObj::User(iden) | ExtObj::Role(iden) | ExtObj::Gate(iden) => Value::from(iden.as_str()),
        _ => Value::Nil,
    }
}

/// `$user.name = x`, `$user.email = x`, `$role.name = x`.
pub(crate) async fn set_attr(runt: &Runt, ext: &ExtObj, name: &str, valu: &Val) -> RResult<()> {
    let core = cortex(runt)?;
    let auth = core.cell().auth();
    match (ext, name) {
        (ExtObj::User(iden), "name") => {
            confirm_self_or_user(runt, &core, iden, "name")?;
            auth.set_user_name(iden, &valu.to_str()?)
                .await
                .map_err(cell_err)
        }
        (ExtObj::User(iden), "email") => {
            confirm_self_or_user(runt, &core, iden, "email")?;
            auth.set_user_email(iden, Some(&valu.to_str()?))
                .await
                .map_err(cell_err)
        }
        (ExtObj::Role(iden), "name") => {
            runt.confirm(&["auth", "role", "set", "name"], None)?;
            auth.set_role_name(iden, &valu.to_str()?)
                .await
                .map_err(cell_err)
        }
        _ => Err(rterr(format!(
            "Setting {name} on {} is not supported.",
            ext.typename()
        ))),
    }
}

/// The gates a user or role has an entry on.
fn gates_of(auth: &Auth, entries: &[(String, synapse_cell::GateEntry)]) -> Val {
    new_list(
        entries
            .iter()
            .filter_map(|(gate, _)| gate_val(auth, gate))
            .collect(),
    )
}

/// Call a method of a user object.
pub(crate) async fn call_user(
    runt: &Arc<Runt>,
    iden: &str,
    func: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    let core = cortex(runt)?;
    let auth = core.cell().auth();
    let gate = || opt_str(args.get(1, "gateiden"));
    match func {
        "get" => {
            let name = args.req(0, "name")?.to_str()?;
            let how = if name == "roles" {
                PackRoles::Defs
            } else {
                PackRoles::Idens
            };
            let def = user_def(auth, iden, how)?;
            Ok(map_get(&def, &name).map_or(Val::Null, Val::from_msgpack))
        }
        "pack" => Ok(Val::from_msgpack(&user_def(auth, iden, PackRoles::Defs)?)),
        "gates" => Ok(gates_of(
            auth,
            &auth.req_user(iden).map_err(cell_err)?.authgates,
        )),
        "roles" => {
            let user = auth.req_user(iden).map_err(cell_err)?;
            Ok(new_list(
                auth.user_roles(&user)
                    .iter()
                    .map(|r| role_val(&r.iden))
                    .collect(),
            ))
        }
        "allowed" => {
            let perm: Vec<String> = args
                .req(0, "permname")?
                .to_str()?
                .split('.')
                .map(str::to_owned)
                .collect();
            let gate = gate()?;
            let default = args.bool(2, "default", false);
            auth.req_user(iden).map_err(cell_err)?;
            Ok(Val::Bool(
                auth.allowed(iden, &perm, Some(default), gate.as_deref()) == Some(true),
            ))
        }
        "grant" => {
            req_not_readonly(runt, "$user.grant")?;
            runt.confirm(&["auth", "user", "grant"], None)?;
            let role = args.req(0, "iden")?.to_str()?;
            let indx = args.int(1, "indx")?.map(|i| i as i64);
            auth.grant(iden, &role, indx).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "revoke" => {
            req_not_readonly(runt, "$user.revoke")?;
            runt.confirm(&["auth", "user", "revoke"], None)?;
            let role = args.req(0, "iden")?.to_str()?;
            auth.revoke(iden, &role).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "setRoles" => {
            req_not_readonly(runt, "$user.setRoles")?;
            runt.confirm(&["auth", "user", "grant"], None)?;
            runt.confirm(&["auth", "user", "revoke"], None)?;
            let idens = args
                .req(0, "idens")?
                .seq_items()
                .unwrap_or_default()
                .iter()
                .map(Val::to_str)
                .collect::<RResult<Vec<_>>>()?;
            auth.set_user_roles(iden, idens).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "getRules" => {
            let gate = opt_str(args.get(0, "gateiden"))?;
            let user = auth.req_user(iden).map_err(cell_err)?;
            Ok(match gate {
                None => rules_val(&user.rules),
                Some(gate) => rules_val(user.gate(&gate).map(|e| e.rules()).unwrap_or(&[])),
            })
        }
        "setRules" | "addRule" | "delRule" | "popRule" => {
            req_not_readonly(runt, &format!("$user.{func}"))?;
            let gate = gate()?;
            confirm_gate(
                runt,
                auth,
                &["auth", "user", "set", "rules"],
                gate.as_deref(),
            )?;
            rule_edit(runt, auth, iden, true, func, args, gate.as_deref()).await
        }
        "setAdmin" => {
            req_not_readonly(runt, "$user.setAdmin")?;
            let gate = gate()?;
            confirm_gate(
                runt,
                auth,
                &["auth", "user", "set", "admin"],
                gate.as_deref(),
            )?;
            let admin = args.req(0, "admin")?.truthy();
            auth.set_user_admin(iden, admin, gate.as_deref())
                .await
                .map_err(cell_err)?;
            Ok(Val::Null)
        }
        "setEmail" => {
            req_not_readonly(runt, "$user.setEmail")?;
            set_attr(
                runt,
                &ExtObj::User(iden.to_owned()),
                "email",
                &args.req(0, "email")?,
            )
            .await?;
            Ok(Val::Null)
        }
        "setPasswd" => {
            req_not_readonly(runt, "$user.setPasswd")?;
            confirm_self_or_user(runt, &core, iden, "passwd")?;
            let passwd = opt_str(args.get(0, "passwd"))?;
            auth.set_user_passwd(iden, passwd.as_deref(), true)
                .await
                .map_err(cell_err)?;
            Ok(Val::Null)
        }
        "setLocked" | "setArchived" => {
            req_not_readonly(runt, &format!("$user.{func}"))?;
            let flag = args.req(0, "locked")?.truthy();
            if func == "setLocked" {
                runt.confirm(&["auth", "user", "set", "locked"], None)?;
                auth.set_user_locked(iden, flag).await.map_err(cell_err)?;
            } else {
                runt.confirm(&["auth", "user", "set", "archived"], None)?;
                auth.set_user_archived(iden, flag).await.map_err(cell_err)?;
            }
            Ok(Val::Null)
        }
        other => Err(nosuchname(other)),
    }
}

/// The rule methods of users and roles (permission already confirmed).
async fn rule_edit(
    runt: &Runt,
    auth: &Auth,
    iden: &str,
    isuser: bool,
    func: &str,
    args: &Args<'_>,
    gate: Option<&str>,
) -> RResult<Val> {
    let current = || -> RResult<Vec<Rule>> {
        Ok(if isuser {
            let user = auth.req_user(iden).map_err(cell_err)?;
            match gate {
                None => user.rules.clone(),
                Some(g) => user.gate(g).map(|e| e.rules().to_vec()).unwrap_or_default(),
            }
        } else {
            let role = auth.req_role(iden).map_err(cell_err)?;
            match gate {
                None => role.rules.clone(),
                Some(g) => role.gate(g).map(|e| e.rules().to_vec()).unwrap_or_default(),
            }
        })
    };
    let set = |rules: Vec<Rule>| async move {
        if isuser {
            auth.set_user_rules(iden, rules, gate).await
        } else {
            auth.set_role_rules(iden, rules, gate).await
        }
        .map_err(cell_err)
    };
    match func {
        "setRules" => {
            let rules = args
                .req(0, "rules")?
                .seq_items()
                .unwrap_or_default()
                .iter()
                .map(rule_of)
                .collect::<RResult<Vec<_>>>()?;
            set(rules).await?;
            Ok(Val::Null)
        }
        "addRule" => {
            let rule = rule_of(&args.req(0, "rule")?)?;
            let indx = args.int(2, "indx")?.map(|i| i as i64);
            if gate == Some("cortex") {
                runt.shared
                    .warn(
                        "Adding rule on the \"cortex\" authgate. This authgate is not used for \
                         permission checks and will be removed in Synapse v3.0.0.",
                        Vec::new(),
                    )
                    .await;
            }
            if isuser {
                auth.add_user_rule(iden, rule, indx, gate).await
            } else {
                auth.add_role_rule(iden, rule, indx, gate).await
            }
            .map_err(cell_err)?;
            Ok(Val::Null)
        }
        "delRule" => {
            let rule = rule_of(&args.req(0, "rule")?)?;
            if isuser {
                auth.del_user_rule(iden, &rule, gate).await
            } else {
                auth.del_role_rule(iden, &rule, gate).await
            }
            .map_err(cell_err)?;
            Ok(Val::Null)
        }
        _ => {
            let indx = args.req(0, "indx")?.to_int()?;
            let mut rules = current()?;
            let kind = if isuser { "User" } else { "Role" };
            if indx < 0 || rules.len() as i128 <= indx {
                return Err(Flow::Err(StormError::new(
                    "BadArg",
                    format!("{kind} {iden} only has {} rules.", rules.len()),
                )));
            }
            let rule = rules.remove(indx as usize);
            set(rules).await?;
            Ok(Val::from_msgpack(&rule.to_value()))
        }
    }
}

/// Call a method of a role object.
pub(crate) async fn call_role(
    runt: &Arc<Runt>,
    iden: &str,
    func: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    let core = cortex(runt)?;
    let auth = core.cell().auth();
    match func {
        "get" => {
            let name = args.req(0, "name")?.to_str()?;
            let def = role_def(auth, iden)?;
            Ok(map_get(&def, &name).map_or(Val::Null, Val::from_msgpack))
        }
        "pack" => Ok(Val::from_msgpack(&role_def(auth, iden)?)),
        "gates" => Ok(gates_of(
            auth,
            &auth.req_role(iden).map_err(cell_err)?.authgates,
        )),
        "getRules" => {
            let gate = opt_str(args.get(0, "gateiden"))?;
            let role = auth.req_role(iden).map_err(cell_err)?;
            Ok(match gate {
                None => rules_val(&role.rules),
                Some(gate) => rules_val(role.gate(&gate).map(|e| e.rules()).unwrap_or(&[])),
            })
        }
        "setRules" | "addRule" | "delRule" | "popRule" => {
            req_not_readonly(runt, &format!("$role.{func}"))?;
            let gate = opt_str(args.get(1, "gateiden"))?;
            confirm_gate(
                runt,
                auth,
                &["auth", "role", "set", "rules"],
                gate.as_deref(),
            )?;
            rule_edit(runt, auth, iden, false, func, args, gate.as_deref()).await
        }
        other => Err(nosuchname(other)),
    }
}

/// What `$lib.print` shows for an auth object.
pub(crate) fn repr(runt: Option<&Runt>, ext: &ExtObj) -> String {
    let def = runt.and_then(|runt| {
        let core = cortex(runt).ok()?;
        let auth = core.cell().auth();
        match ext {
            ExtObj::User(iden) => user_def(auth, iden, PackRoles::Defs).ok(),
            ExtObj::Role(iden) => role_def(auth, iden).ok(),
            ExtObj::Gate(iden) => auth.gate(iden).map(|g| g.pack()),
            _ => None,
        }
    });
    match def {
        Some(def) => format!("{}: {}", ext.typename(), Val::from_msgpack(&def).py_repr()),
        None => format!(
            "{}: {}",
            ext.typename(),
            prim(ext).as_str().unwrap_or_default()
        ),
    }
}

// ----- commands -----

fn warn_line(text: String) -> Body {
    Body {
        warn: vec![text],
        ..Body::default()
    }
}

fn rule_lines(rules: &[Rule], indent: &str) -> Vec<String> {
    rules
        .iter()
        .enumerate()
        .map(|(indx, rule)| format!("{indent}[{:<3}] - {}", indx.to_string(), rule.text()))
        .collect()
}

fn pybool(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

/// Run the body of an `auth.*` command.
pub(crate) async fn cmd_body(runt: &Arc<Runt>, cmd: &str, opts: &Opts) -> RResult<Body> {
    let core = cortex(runt)?;
    let auth = core.cell().auth();
    let text = |name: &str| -> RResult<String> { opt(opts, name).to_str() };
    let maybe = |name: &str| -> RResult<Option<String>> { opt_str(opts.get(name).cloned()) };
    let exit = |mesg: String| -> RResult<Body> { Ok(Body::exit(mesg)) };
    match cmd {
        "auth.user.add" => {
            req_not_readonly(runt, "$lib.auth.users.add")?;
            confirm_either(runt, "user", "add")?;
            let name = text("name")?;
            let email = maybe("email")?;
            let user = auth
                .add_user(&name, None, email.as_deref(), None)
                .await
                .map_err(cell_err)?;
            Ok(Body::lines(vec![format!(
                "User ({}) added with iden: {}",
                user.name, user.iden
            )]))
        }
        "auth.role.add" => {
            req_not_readonly(runt, "$lib.auth.roles.add")?;
            confirm_either(runt, "role", "add")?;
            let role = auth
                .add_role(&text("name")?, None)
                .await
                .map_err(cell_err)?;
            Ok(Body::lines(vec![format!(
                "Role ({}) added with iden: {}",
                role.name, role.iden
            )]))
        }
        "auth.user.list" => {
            let (mut users, mut locked): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
            for user in auth.users() {
                if user.is_locked() {
                    locked.push(user.name.clone());
                } else {
                    users.push(user.name.clone());
                }
            }
            users.sort();
            locked.sort();
            let mut lines = vec!["Users:".to_owned()];
            lines.extend(users.iter().map(|u| format!("  {u}")));
            lines.push(String::new());
            lines.push("Locked Users:".to_owned());
            lines.extend(locked.iter().map(|u| format!("  {u}")));
            Ok(Body::lines(lines))
        }
        "auth.role.list" => {
            let mut roles: Vec<String> = auth.roles().iter().map(|r| r.name.clone()).collect();
            roles.sort();
            let mut lines = vec!["Roles:".to_owned()];
            lines.extend(roles.iter().map(|r| format!("  {r}")));
            Ok(Body::lines(lines))
        }
        "auth.role.del" => {
            let name = text("name")?;
            let Some(role) = auth.role_by_name(&name) else {
                return Ok(warn_line(format!("Role ({name}) not found!")));
            };
            req_not_readonly(runt, "$lib.auth.roles.del")?;
            confirm_either(runt, "role", "del")?;
            auth.del_role(&role.iden).await.map_err(cell_err)?;
            Ok(Body::lines(vec![format!("Role ({name}) deleted.")]))
        }
        "auth.role.mod" => {
            let name = text("rolename")?;
            let Some(role) = auth.role_by_name(&name) else {
                return Ok(warn_line(format!("Role ({name}) not found!")));
            };
            let mut lines = Vec::new();
            if let Some(newname) = maybe("name")?.filter(|n| !n.is_empty()) {
                set_attr(
                    runt,
                    &ExtObj::Role(role.iden.clone()),
                    "name",
                    &Val::from(newname.as_str()),
                )
                .await?;
                lines.push(format!("Role ({name}) renamed to {newname}."));
            }
            Ok(Body::lines(lines))
        }
        "auth.user.mod" => {
            let name = text("username")?;
            let Some(user) = auth.user_by_name(&name) else {
                return Ok(warn_line(format!("User ({name}) not found!")));
            };
            let obj = ExtObj::User(user.iden.clone());
            let mut lines = Vec::new();
            if let Some(newname) = maybe("name")?.filter(|n| !n.is_empty()) {
                set_attr(runt, &obj, "name", &Val::from(newname.as_str())).await?;
                lines.push(format!("User ({name}) renamed to {newname}."));
            }
            if let Some(email) = maybe("email")?.filter(|n| !n.is_empty()) {
                set_attr(runt, &obj, "email", &Val::from(email.as_str())).await?;
                lines.push(format!("User ({name}) email address set to {email}."));
            }
            if let Some(passwd) = maybe("passwd")?.filter(|n| !n.is_empty()) {
                confirm_self_or_user(runt, &core, &user.iden, "passwd")?;
                auth.set_user_passwd(&user.iden, Some(&passwd), true)
                    .await
                    .map_err(cell_err)?;
                lines.push(format!("User ({name}) password updated."));
            }
            if !opt(opts, "locked").is_null() {
                let locked = opt(opts, "locked").truthy();
                runt.confirm(&["auth", "user", "set", "locked"], None)?;
                auth.set_user_locked(&user.iden, locked)
                    .await
                    .map_err(cell_err)?;
                lines.push(format!(
                    "User ({name}) locked status set to {}.",
                    pybool(locked)
                ));
            }
            let gate = maybe("gate")?;
            if !opt(opts, "admin").is_null() {
                let admin = opt(opts, "admin").truthy();
                confirm_gate(
                    runt,
                    auth,
                    &["auth", "user", "set", "admin"],
                    gate.as_deref(),
                )?;
                auth.set_user_admin(&user.iden, admin, gate.as_deref())
                    .await
                    .map_err(cell_err)?;
                match gate.as_deref().filter(|g| !g.is_empty()) {
                    Some(gate) => lines.push(format!(
                        "User ({name}) admin status set to {} for auth gate {gate}.",
                        pybool(admin)
                    )),
                    None => lines.push(format!(
                        "User ({name}) admin status set to {}.",
                        pybool(admin)
                    )),
                }
            } else if gate.is_some() {
                let mut body = Body::lines(lines);
                body.exit = Some(
                    "Granting/revoking admin status on an auth gate, requires the use of \
                     `--admin <true|false>` also."
                        .to_owned(),
                );
                return Ok(body);
            }
            Ok(Body::lines(lines))
        }
        "auth.user.addrule" | "auth.role.addrule" | "auth.user.delrule" | "auth.role.delrule" => {
            let isuser = cmd.starts_with("auth.user");
            let name = text("name")?;
            let kind = if isuser { "User" } else { "Role" };
            let iden = if isuser {
                auth.user_by_name(&name).map(|u| u.iden.clone())
            } else {
                auth.role_by_name(&name).map(|r| r.iden.clone())
            };
            let ruletext = text("rule")?;
            let Some(iden) = iden else {
                return Ok(warn_line(format!("{kind} ({name}) not found!")));
            };
            let gate = maybe("gate")?;
            let which = if isuser { "user" } else { "role" };
            req_not_readonly(runt, "$user.addRule")?;
            confirm_gate(
                runt,
                auth,
                &["auth", which, "set", "rules"],
                gate.as_deref(),
            )?;
            let target = if isuser { "user" } else { "role" };
            if cmd.ends_with("addrule") {
                let rule = rule_of(&rule_from_text(&ruletext))?;
                let indx = match opt(opts, "index") {
                    Val::Null => None,
                    v => Some(v.to_int()? as i64),
                };
                let vals = [
                    rule_from_text(&ruletext),
                    gate.as_deref().map_or(Val::Null, Val::from),
                    indx.map_or(Val::Null, |i| Val::Int(i.into())),
                ];
                let _ = rule;
                let args = Args::new("addRule", &vals, &[]);
                rule_edit(runt, auth, &iden, isuser, "addRule", &args, gate.as_deref()).await?;
                return Ok(Body::lines(vec![format!(
                    "Added rule {ruletext} to {target} {name}."
                )]));
            }
            let removed = if opt(opts, "index").truthy() {
                let vals = [Val::from(ruletext.as_str())];
                let args = Args::new("popRule", &vals, &[]);
                let popped =
                    rule_edit(runt, auth, &iden, isuser, "popRule", &args, gate.as_deref()).await?;
                rule_of(&popped)?.text()
            } else {
                let vals = [rule_from_text(&ruletext)];
                let args = Args::new("delRule", &vals, &[]);
                rule_edit(runt, auth, &iden, isuser, "delRule", &args, gate.as_deref()).await?;
                rule_of(&vals[0])?.text()
            };
            Ok(Body::lines(vec![format!(
                "Removed rule {removed} from {target} {name}."
            )]))
        }
        "auth.user.grant" | "auth.user.revoke" => {
            let username = text("username")?;
            let rolename = text("rolename")?;
            let Some(user) = auth.user_by_name(&username) else {
                return exit(format!("No user named: {username}"));
            };
            let Some(role) = auth.role_by_name(&rolename) else {
                return exit(format!("No role named: {rolename}"));
            };
            req_not_readonly(runt, "$user.grant")?;
            if cmd == "auth.user.grant" {
                let line = format!("Granting role {} to user {}.", role.name, user.name);
                runt.shared.print(&line).await;
                runt.confirm(&["auth", "user", "grant"], None)?;
                let indx = match opt(opts, "index") {
                    Val::Null => None,
                    v => Some(v.to_int()? as i64),
                };
                auth.grant(&user.iden, &role.iden, indx)
                    .await
                    .map_err(cell_err)?;
                return Ok(Body::default());
            }
            if !user.roles.contains(&role.iden) {
                return exit(format!("User {username} does not have role {rolename}"));
            }
            let line = format!("Revoking role {} from user {}.", role.name, user.name);
            runt.shared.print(&line).await;
            runt.confirm(&["auth", "user", "revoke"], None)?;
            auth.revoke(&user.iden, &role.iden)
                .await
                .map_err(cell_err)?;
            Ok(Body::default())
        }
        "auth.user.show" => {
            let username = text("username")?;
            let Some(user) = auth.user_by_name(&username) else {
                return exit(format!("No user named: {username}"));
            };
            let email = user.email.clone().map_or("$lib.null".to_owned(), |e| e);
            let mut lines = vec![
                format!("User: {} ({})", user.name, user.iden),
                String::new(),
                format!("  Locked: {}", pybool(user.is_locked())),
                format!("  Admin: {}", pybool(user.is_admin())),
                format!("  Email: {email}"),
                "  Rules:".to_owned(),
            ];
            lines.extend(rule_lines(&user.rules, "    "));
            lines.push(String::new());
            lines.push("  Roles:".to_owned());
            for role in auth.user_roles(&user) {
                lines.push(format!("    {} - {}", role.iden, role.name));
            }
            lines.push(String::new());
            lines.push("  Gates:".to_owned());
            for (gate, entry) in &user.authgates {
                let kind = auth.gate(gate).map(|g| g.typ.clone()).unwrap_or_default();
                lines.push(format!("    {gate} - ({kind})"));
                lines.push(format!("      Admin: {}", pybool(entry.is_admin())));
                lines.extend(rule_lines(entry.rules(), "      "));
            }
            Ok(Body::lines(lines))
        }
        "auth.role.show" => {
            let rolename = text("rolename")?;
            let Some(role) = auth.role_by_name(&rolename) else {
                return exit(format!("No role named: {rolename}"));
            };
            let mut lines = vec![
                format!("Role: {} ({})", role.name, role.iden),
                String::new(),
                "  Rules:".to_owned(),
            ];
            lines.extend(rule_lines(&role.rules, "    "));
            lines.push(String::new());
            lines.push("  Gates:".to_owned());
            for (gate, entry) in &role.authgates {
                let kind = auth.gate(gate).map(|g| g.typ.clone()).unwrap_or_default();
                lines.push(format!("    {gate} - ({kind})"));
                lines.extend(rule_lines(entry.rules(), "      "));
            }
            Ok(Body::lines(lines))
        }
        _ => {
            let iden = text("gateiden")?;
            let Some(gate) = auth.gate(&iden) else {
                return exit(format!("No auth gate found for iden: {iden}."));
            };
            let packed = gate.pack();
            let mut lines = vec![
                format!("Gate Type: {}", gate.typ),
                String::new(),
                "Auth Gate Users:".to_owned(),
            ];
            let entries = |key: &str| -> Vec<Value> {
                map_get(&packed, key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            let rules_in = |entry: &Value| -> Vec<Rule> {
                map_get(entry, "rules")
                    .map(|r| Rule::parse_list(r).unwrap_or_default())
                    .unwrap_or_default()
            };
            for entry in entries("users") {
                let uiden = map_get(&entry, "iden")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let uname = auth.user(uiden).map(|u| u.name.clone()).unwrap_or_default();
                let admin = map_get(&entry, "admin")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                lines.push(format!("  {uiden} - {uname}"));
                lines.push(format!("    Admin: {}", pybool(admin)));
                lines.push("    Rules:".to_owned());
                lines.extend(rule_lines(&rules_in(&entry), "     "));
            }
            lines.push(String::new());
            lines.push("Auth Gate Roles:".to_owned());
            for entry in entries("roles") {
                let riden = map_get(&entry, "iden")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let rname = auth.role(riden).map(|r| r.name.clone()).unwrap_or_default();
                lines.push(format!("  {riden} - {rname}"));
                lines.push("    Rules:".to_owned());
                lines.extend(rule_lines(&rules_in(&entry), "      "));
            }
            Ok(Body::lines(lines))
        }
    }
}
