//! `$lib.macro` and the `macro.set/get/del/list/exec` commands: named Storm queries stored in
//! the Cortex, each with the reference's "easy perm" levels (`permissions`: users, roles and
//! a default level; deny 0, read 1, edit 2, admin 3).

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream, sub_query};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::{self, ItemStream};
use super::ext::{
    Args, Body, allowed_default, cell_err, cortex, nosuchname, opt, req_not_readonly,
};
use super::runt::Runt;
use super::value::{Val, new_list};
use crate::cortex::Cortex;

/// The functions of `$lib.macro`.
pub(crate) const LIB_FUNCS: &[&str] = &["set", "get", "del", "mod", "list", "grant"];

/// The commands of this module.
pub(crate) const CMDS: &[&str] = &[
    "macro.set",
    "macro.get",
    "macro.del",
    "macro.list",
    "macro.exec",
];

pub(crate) const PERM_DENY: i64 = 0;
pub(crate) const PERM_READ: i64 = 1;
pub(crate) const PERM_EDIT: i64 = 2;
pub(crate) const PERM_ADMIN: i64 = 3;

pub(crate) fn perm_name(level: i64) -> &'static str {
    match level {
        PERM_DENY => "deny",
        PERM_READ => "read",
        PERM_EDIT => "edit",
        _ => "admin",
    }
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

pub(crate) fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

pub(crate) fn set(map: &mut Value, key: &str, valu: Value) {
    if let Value::Map(items) = map {
        match items.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
            Some(slot) => slot.1 = valu,
            None => items.push((Value::from(key), valu)),
        }
    }
}

pub(crate) fn str_of<'a>(map: &'a Value, key: &str) -> &'a str {
    get(map, key).and_then(Value::as_str).unwrap_or_default()
}

/// The user's level on a definition with easy perms (or the admin/asroot shortcut).
pub(crate) fn has_easy_perm(runt: &Runt, core: &Cortex, item: &Value, level: i64) -> bool {
    if runt.asroot || runt.shared.user.admin {
        return true;
    }
    let perms = get(item, "permissions");
    let level_of = |scope: &str, iden: &str| {
        perms
            .and_then(|p| get(p, scope))
            .and_then(|s| get(s, iden))
            .and_then(Value::as_i64)
    };
    let useriden = &runt.shared.user.iden;
    if let Some(have) = level_of("users", useriden) {
        if have == PERM_DENY {
            return false;
        }
        if have >= level {
            return true;
        }
    }
    let roles = core
        .cell()
        .auth()
        .user(useriden)
        .map(|u| u.roles.clone())
        .unwrap_or_default();
    for role in roles {
        if let Some(have) = level_of("roles", &role) {
            if have == PERM_DENY {
                return false;
            }
            if have >= level {
                return true;
            }
        }
    }
    let default = perms
        .and_then(|p| get(p, "default"))
        .and_then(Value::as_i64)
        .unwrap_or(PERM_READ);
    level <= default
}

pub(crate) fn deny(runt: &Runt, mesg: String) -> Flow {
    Flow::Err(
        StormError::new("AuthDeny", mesg)
            .with("user", runt.shared.user.iden.as_str())
            .with("username", runt.shared.user.name.as_str()),
    )
}

fn check_name(name: &str) -> RResult<()> {
    if name.is_empty() {
        return Err(badarg("Macro names must be at least 1 character long"));
    }
    if name.chars().count() > 491 {
        return Err(badarg("Macro names may only be up to 491 chars."));
    }
    Ok(())
}

/// `getStormMacro(name, user)`: the definition if it exists (read permission required).
async fn lookup(runt: &Runt, core: &Cortex, name: &str) -> RResult<Option<Value>> {
    check_name(name)?;
    let Some(mdef) = core.macro_def(name).await.map_err(cell_err)? else {
        return Ok(None);
    };
    if !has_easy_perm(runt, core, &mdef, PERM_READ) {
        return Err(deny(
            runt,
            format!("User requires read permission on macro: {name}."),
        ));
    }
    Ok(Some(mdef))
}

/// `reqStormMacro`: the definition, or `NoSuchName`.
async fn require(core: &Cortex, name: &str) -> RResult<Value> {
    check_name(name)?;
    core.macro_def(name)
        .await
        .map_err(cell_err)?
        .ok_or_else(|| {
            Flow::Err(StormError::new(
                "NoSuchName",
                format!("Macro name not found: {name}"),
            ))
        })
}

/// `_reqStormMacroPerm`: the definition, if the user has `level` on it.
async fn require_level(runt: &Runt, core: &Cortex, name: &str, level: i64) -> RResult<Value> {
    let mdef = require(core, name).await?;
    let edit = allowed_default(runt, core, &["storm", "macro", "edit"], false);
    let admin = allowed_default(runt, core, &["storm", "macro", "admin"], false);
    if (level == PERM_EDIT && (edit || admin)) || (level == PERM_ADMIN && admin) {
        return Ok(mdef);
    }
    if !has_easy_perm(runt, core, &mdef, level) {
        return Err(deny(
            runt,
            format!(
                "User requires {} permission on macro: {name}",
                perm_name(level)
            ),
        ));
    }
    Ok(mdef)
}

pub(crate) fn check_storm(text: &str) -> RResult<()> {
    crate::storm::parse_query(text)
        .map(|_| ())
        .map_err(|e| Flow::Err(crate::storm::runtime::bad_syntax(text, &e)))
}

/// Apply `info` to the macro `name` (a rename when it has another `name`).
async fn modify(
    core: &Cortex,
    name: &str,
    mut mdef: Value,
    info: Vec<(String, Value)>,
) -> RResult<()> {
    for (key, valu) in &info {
        set(&mut mdef, key, valu.clone());
    }
    let newname = str_of(&mdef, "name").to_owned();
    if newname != name {
        check_name(&newname)?;
        if core.macro_def(&newname).await.map_err(cell_err)?.is_some() {
            return Err(Flow::Err(
                StormError::new(
                    "DupName",
                    format!("A macro named {newname} already exists!"),
                )
                .with("name", newname.as_str()),
            ));
        }
        core.put_macro(&newname, &mdef, Some(name))
            .await
            .map_err(cell_err)
    } else {
        core.put_macro(name, &mdef, None).await.map_err(cell_err)
    }
}

/// `$lib.macro.set(name, storm)`: add the macro, or replace its query.
async fn set_macro(runt: &Runt, core: &Cortex, name: &str, storm: &str) -> RResult<()> {
    req_not_readonly(runt, "$lib.macro.set")?;
    check_storm(storm)?;
    check_name(name)?;
    let now = Value::from(synapse_base::now_ms());
    match core.macro_def(name).await.map_err(cell_err)? {
        None => {
            if !allowed_default(runt, core, &["storm", "macro", "add"], true) {
                return Err(Flow::Err(
                    runt.shared.user.deny(&["storm", "macro", "add"], None),
                ));
            }
            let user = Value::from(runt.shared.user.iden.as_str());
            let mdef = Value::Map(vec![
                (Value::from("name"), Value::from(name)),
                (Value::from("storm"), Value::from(storm)),
                (
                    Value::from("iden"),
                    Value::from(crate::model::guid_random()),
                ),
                (Value::from("updated"), now.clone()),
                (Value::from("created"), now),
                (Value::from("user"), user.clone()),
                (Value::from("creator"), user.clone()),
                (
                    Value::from("permissions"),
                    Value::Map(vec![
                        (
                            Value::from("users"),
                            Value::Map(vec![(user, Value::from(PERM_ADMIN))]),
                        ),
                        (Value::from("roles"), Value::Map(Vec::new())),
                        (Value::from("default"), Value::from(PERM_READ)),
                    ]),
                ),
                (Value::from("desc"), Value::from("")),
            ]);
            core.put_macro(name, &mdef, None).await.map_err(cell_err)
        }
        Some(_) => {
            let mdef = require_level(runt, core, name, PERM_EDIT).await?;
            let info = vec![
                ("storm".to_owned(), Value::from(storm)),
                ("updated".to_owned(), now),
            ];
            modify(core, name, mdef, info).await
        }
    }
}

async fn del_macro(runt: &Runt, core: &Cortex, name: &str) -> RResult<()> {
    req_not_readonly(runt, "$lib.macro.del")?;
    require_level(runt, core, name, PERM_ADMIN).await?;
    check_name(name)?;
    core.del_macro(name).await.map_err(cell_err)?;
    Ok(())
}

/// The macros the user may read.
async fn readable(runt: &Runt, core: &Cortex) -> RResult<Vec<Value>> {
    Ok(core
        .macro_defs()
        .await
        .map_err(cell_err)?
        .into_iter()
        .filter(|mdef| has_easy_perm(runt, core, mdef, PERM_READ))
        .collect())
}

/// Call a `$lib.macro` function.
pub(crate) async fn call_lib(runt: &Arc<Runt>, func: &str, args: &Args<'_>) -> RResult<Val> {
    let core = cortex(runt)?;
    match func {
        "list" => Ok(new_list(
            readable(runt, &core)
                .await?
                .iter()
                .map(|mdef| {
                    Val::Tuple(Arc::from(vec![
                        Val::from(str_of(mdef, "name")),
                        Val::from_msgpack(mdef),
                    ]))
                })
                .collect(),
        )),
        "get" => {
            let name = args.req(0, "name")?.to_str()?;
            Ok(lookup(runt, &core, &name)
                .await?
                .map_or(Val::Null, |mdef| Val::from_msgpack(&mdef)))
        }
        "del" => {
            del_macro(runt, &core, &args.req(0, "name")?.to_str()?).await?;
            Ok(Val::Null)
        }
        "set" => {
            let name = args.req(0, "name")?.to_str()?;
            let storm = args.req(1, "storm")?.to_str()?;
            set_macro(runt, &core, &name, &storm).await?;
            Ok(Val::Null)
        }
        "mod" => {
            let name = args.req(0, "name")?.to_str()?;
            let info = args.req(1, "info")?.to_msgpack()?;
            let Value::Map(items) = info else {
                return Err(badarg("Macro info must be a dictionary object."));
            };
            req_not_readonly(runt, "$lib.macro.mod")?;
            let mut edits = Vec::new();
            for (key, valu) in items {
                let key = key.as_str().unwrap_or_default().to_owned();
                if !["name", "desc", "storm"].contains(&key.as_str()) {
                    return Err(badarg(format!("User may not edit the field: {key}.")));
                }
                let Some(text) = valu.as_str() else {
                    return Err(badarg(format!("Macro field {key} must be a string.")));
                };
                if key == "storm" {
                    check_storm(text)?;
                }
                edits.push((key, valu));
            }
            edits.push(("updated".to_owned(), Value::from(synapse_base::now_ms())));
            let mdef = require_level(runt, &core, &name, PERM_EDIT).await?;
            modify(&core, &name, mdef, edits).await?;
            Ok(Val::Null)
        }
        "grant" => {
            let name = args.req(0, "name")?.to_str()?;
            let scope = args.req(1, "scope")?.to_str()?;
            let iden = args.req(2, "iden")?.to_str()?;
            let level = args.int(3, "level")?;
            req_not_readonly(runt, "$lib.macro.grant")?;
            let mut mdef = require_level(runt, &core, &name, PERM_ADMIN).await?;
            set_easy_perm(&core, &mut mdef, &scope, &iden, level)?;
            core.put_macro(&name, &mdef, None).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        other => Err(nosuchname(other)),
    }
}

/// The reference's `_setEasyPerm`: give a user or role a level on an item with easy perms
/// (`None` removes it), after checking the scope, the level and that the user or role exists.
pub(crate) fn set_easy_perm(
    core: &Cortex,
    item: &mut Value,
    scope: &str,
    iden: &str,
    level: Option<i128>,
) -> RResult<()> {
    if scope != "users" && scope != "roles" {
        return Err(badarg(format!(
            "Invalid permissions scope: {scope} (must be \"users\" or \"roles\")"
        )));
    }
    if let Some(level) = level
        && !(0..=3).contains(&level)
    {
        return Err(badarg(format!(
            "Invalid permission level: {level} (must be <= 3 and >= 0, or None)"
        )));
    }
    let auth = core.cell().auth();
    if scope == "users" {
        auth.req_user(iden).map_err(cell_err)?;
    } else {
        auth.req_role(iden).map_err(cell_err)?;
    }
    let mut perms = get(item, "permissions")
        .cloned()
        .unwrap_or_else(|| Value::Map(Vec::new()));
    let mut scoped = get(&perms, scope)
        .cloned()
        .unwrap_or_else(|| Value::Map(Vec::new()));
    if let Value::Map(items) = &mut scoped {
        items.retain(|(k, _)| k.as_str() != Some(iden));
        if let Some(level) = level {
            items.push((Value::from(iden), Value::from(level as i64)));
        }
    }
    set(&mut perms, scope, scoped);
    set(item, "permissions", perms);
    Ok(())
}

/// Run the body of a macro command (not `macro.exec`).
///
/// `macro.list` counts the macros in a variable its loop sets: for an inbound node that is a
/// path variable of each iteration, so each line is followed by `1 macros found`, as the
/// reference prints.
pub(crate) async fn cmd_body(
    runt: &Arc<Runt>,
    cmd: &str,
    opts: &Opts,
    pernode: bool,
) -> RResult<Body> {
    let core = cortex(runt)?;
    if cmd == "macro.list" {
        let macros = readable(runt, &core).await?;
        let auth = core.cell().auth();
        let each: Vec<Vec<String>> = macros
            .iter()
            .map(|mdef| {
                let creator = str_of(mdef, "creator");
                let owner = match auth.user(creator) {
                    Some(user) => user.name.clone(),
                    None => format!("User not found ({creator})"),
                };
                let line = format!("{:<20} (owner: {owner})", str_of(mdef, "name"));
                if pernode {
                    vec![line, "1 macros found".to_owned()]
                } else {
                    vec![line]
                }
            })
            .collect();
        let after = if pernode {
            Vec::new()
        } else {
            vec![format!("{} macros found", each.len())]
        };
        return Ok(Body {
            before: Vec::new(),
            each: Some(each),
            after,
            ..Body::default()
        });
    }
    let name = opt(opts, "name").to_str()?;
    let line = match cmd {
        "macro.set" => {
            let storm = opt(opts, "storm").to_str()?;
            set_macro(runt, &core, &name, &storm).await?;
            format!("Set macro: {name}")
        }
        "macro.get" => match lookup(runt, &core, &name).await? {
            Some(mdef) => str_of(&mdef, "storm").to_owned(),
            None => format!("Macro not found: {name}"),
        },
        _ => {
            del_macro(runt, &core, &name).await?;
            format!("Removed macro: {name}")
        }
    };
    Ok(Body::lines(vec![line]))
}

/// `macro.exec <name>`: run the macro's query over the inbound nodes.
pub(crate) fn exec_cmd(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        if !runtsafe {
            Err(rterr("macro.exec does not support per-node invocation"))?;
        }
        let mut input = input.peekable();
        let opts = match std::pin::Pin::new(&mut input).peek().await {
            Some(Ok((_, opts))) => Some(Arc::clone(opts)),
            _ => idle,
        };
        let Some(opts) = opts else {
            // the first inbound item was an error: pass it on
            while let Some(x) = input.next().await {
                x?;
            }
            return;
        };
        let name = opt(&opts, "name").to_str()?;
        let core = cortex(&runt)?;
        let mdef = require(&core, &name).await?;
        if !has_easy_perm(&runt, &core, &mdef, PERM_READ) {
            Err(deny(&runt, format!("User requires read permission on macro: {name}.")))?;
        }
        let (subr, body) = sub_query(&runt, str_of(&mdef, "storm"))?;
        let items: ItemStream = input.map(|x| x.map(|(item, _)| item)).boxed();
        let mut out = exec::run_pipeline(&subr, &body, items);
        while let Some(item) = out.next().await {
            yield item?;
        }
    }
    .boxed()
}
