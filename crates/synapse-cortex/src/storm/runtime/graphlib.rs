//! `$lib.graph`: graph projections stored in the Cortex (`add`, `get`, `del`, `mod`, `list`,
//! `grant`, `revoke`, `activate`).
//!
//! A projection is the reference's graph definition: the rules of the `graph` option plus
//! `iden`, `name`, `scope`, `creator`, times and "easy perm" `permissions`. Definitions are
//! checked against the reference's schema (with its defaults filled in and its
//! `SchemaViolation` messages), their queries must parse and their forms exist. A stored
//! projection is used by iden as the `graph` option, or chosen inside a query with
//! `activate` (see `graph::project_chosen`).

use std::sync::Arc;

use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, allowed_default, cell_err, cortex, nosuchname, req_not_readonly};
use super::macros::{
    PERM_ADMIN, PERM_EDIT, PERM_READ, check_storm, deny, get, has_easy_perm, perm_name, set,
    set_easy_perm, str_of,
};
use super::runt::Runt;
use super::value::{Val, lock, new_list};
use crate::cortex::Cortex;

/// The `$lib` path of the library.
pub(crate) const LIB: &str = "lib.graph";

/// The functions of the library.
pub(crate) const LIB_FUNCS: &[&str] = &[
    "add", "get", "del", "mod", "list", "grant", "revoke", "activate",
];

/// The fields `mod` may change.
const USER_EDITABLE: &[&str] = &[
    "name",
    "refs",
    "edges",
    "forms",
    "pivots",
    "degrees",
    "filters",
    "filterinput",
    "yieldfiltered",
];

/// `NoSuchIden` for a missing projection.
pub(crate) fn no_such_graph(iden: &str) -> Flow {
    Flow::Err(StormError::new(
        "NoSuchIden",
        format!("No graph projection with iden {iden} exists!"),
    ))
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

fn violation(name: &str, mesg: String) -> Flow {
    Flow::Err(StormError::new("SchemaViolation", mesg).with("name", name))
}

/// Call a `$lib.graph` function.
pub(crate) async fn call_lib(runt: &Arc<Runt>, func: &str, args: &Args<'_>) -> RResult<Val> {
    if !LIB_FUNCS.contains(&func) {
        return Err(nosuchname(func));
    }
    if !matches!(func, "get" | "list") {
        req_not_readonly(runt, &format!("$lib.graph.{func}"))?;
    }
    let core = cortex(runt)?;
    match func {
        "add" => {
            let gdef = args.req(0, "gdef")?.to_msgpack()?;
            add(runt, &core, gdef).await.map(|g| Val::from_msgpack(&g))
        }
        "get" => match args.get(0, "iden") {
            None | Some(Val::Null) => {
                let active = lock(&runt.shared.graph).clone();
                Ok(active
                    .or_else(|| runt.shared.opts.graph.clone())
                    .map_or(Val::Null, |g| Val::from_msgpack(&g)))
            }
            Some(iden) => {
                let gdef = require(runt, &core, &iden.to_str()?, PERM_READ).await?;
                Ok(Val::from_msgpack(&gdef))
            }
        },
        "del" => {
            let iden = args.req(0, "iden")?.to_str()?;
            require(runt, &core, &iden, PERM_ADMIN).await?;
            core.del_graph(&iden).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "mod" => {
            let iden = args.req(0, "iden")?.to_str()?;
            let Value::Map(info) = args.req(1, "info")?.to_msgpack()? else {
                return Err(badarg("Graph info must be a dictionary object."));
            };
            for (key, _) in &info {
                let key = key.as_str().unwrap_or_default();
                if !USER_EDITABLE.contains(&key) {
                    return Err(badarg(format!("User may not edit the field: {key}.")));
                }
            }
            let mut gdef = require(runt, &core, &iden, PERM_EDIT).await?;
            for (key, valu) in info {
                set(&mut gdef, key.as_str().unwrap_or_default(), valu);
            }
            set(&mut gdef, "updated", Value::from(synapse_base::now_ms()));
            store(runt, &core, &iden, gdef).await?;
            Ok(Val::Null)
        }
        "list" => {
            let mut gdefs: Vec<Value> = core
                .graph_defs()
                .await
                .map_err(cell_err)?
                .into_iter()
                .filter(|gdef| has_easy_perm(runt, &core, gdef, PERM_READ))
                .collect();
            gdefs.sort_by(|a, b| str_of(a, "name").cmp(str_of(b, "name")));
            Ok(new_list(gdefs.iter().map(Val::from_msgpack).collect()))
        }
        "grant" | "revoke" => {
            let gden = args.req(0, "gden")?.to_str()?;
            let scope = args.req(1, "scope")?.to_str()?;
            let iden = args.req(2, "iden")?.to_str()?;
            let level = if func == "grant" {
                args.int(3, "level")?
            } else {
                None
            };
            let mut gdef = require(runt, &core, &gden, PERM_ADMIN).await?;
            set(&mut gdef, "updated", Value::from(synapse_base::now_ms()));
            set_easy_perm(&core, &mut gdef, &scope, &iden, level)?;
            store(runt, &core, &gden, gdef).await?;
            Ok(Val::Null)
        }
        _ => {
            // activate
            let iden = args.req(0, "iden")?.to_str()?;
            let gdef = require(runt, &core, &iden, PERM_READ).await?;
            *lock(&runt.shared.graph) = Some(gdef);
            Ok(Val::Null)
        }
    }
}

/// `addStormGraph`: the stored definition.
async fn add(runt: &Runt, core: &Cortex, mut gdef: Value) -> RResult<Value> {
    if !allowed_default(runt, core, &["storm", "graph", "add"], true) {
        return Err(Flow::Err(
            runt.shared.user.deny(&["storm", "graph", "add"], None),
        ));
    }
    if !matches!(gdef, Value::Map(_)) {
        return Err(violation("data", "data must be object".to_owned()));
    }
    let mut perms = get(&gdef, "permissions")
        .cloned()
        .unwrap_or_else(|| Value::Map(Vec::new()));
    for (key, defv) in [
        ("users", Value::Map(Vec::new())),
        ("roles", Value::Map(Vec::new())),
        ("default", Value::from(PERM_READ)),
    ] {
        if get(&perms, key).is_none() {
            set(&mut perms, key, defv);
        }
    }
    let user = runt.shared.user.iden.as_str();
    let mut users = get(&perms, "users")
        .cloned()
        .unwrap_or_else(|| Value::Map(Vec::new()));
    set(&mut users, user, Value::from(PERM_ADMIN));
    set(&mut perms, "users", users);
    set(&mut gdef, "permissions", perms);
    let now = Value::from(synapse_base::now_ms());
    let iden = crate::model::guid_random();
    set(&mut gdef, "iden", Value::from(iden.as_str()));
    set(&mut gdef, "scope", Value::from("user"));
    set(&mut gdef, "creator", Value::from(user));
    set(&mut gdef, "created", now.clone());
    set(&mut gdef, "updated", now);
    store(runt, core, &iden, gdef.clone()).await?;
    core.graph_def(&iden)
        .await
        .map_err(cell_err)?
        .ok_or_else(|| no_such_graph(&iden))
}

/// Check a definition (filling in the schema's defaults) and store it.
async fn store(runt: &Runt, core: &Cortex, iden: &str, mut gdef: Value) -> RResult<()> {
    check_schema(&mut gdef)?;
    check_rules(runt, &gdef)?;
    core.put_graph(iden, &gdef).await.map_err(cell_err)
}

/// `_reqStormGraphPerm`: the definition, if the user has `level` on it.
async fn require(runt: &Runt, core: &Cortex, iden: &str, level: i64) -> RResult<Value> {
    let gdef = core
        .graph_def(iden)
        .await
        .map_err(cell_err)?
        .ok_or_else(|| no_such_graph(iden))?;
    if !has_easy_perm(runt, core, &gdef, level) {
        return Err(deny(
            runt,
            format!(
                "User requires {} permission on graph: {iden}.",
                perm_name(level)
            ),
        ));
    }
    Ok(gdef)
}

/// `reqValidStormGraph`: every query parses and every form exists.
fn check_rules(runt: &Runt, gdef: &Value) -> RResult<()> {
    let queries = |rules: &Value| -> RResult<()> {
        for key in ["filters", "pivots"] {
            if let Some(Value::Array(texts)) = get(rules, key) {
                for text in texts {
                    check_storm(text.as_str().unwrap_or_default())?;
                }
            }
        }
        Ok(())
    };
    queries(gdef)?;
    if let Some(Value::Map(forms)) = get(gdef, "forms") {
        for (form, rules) in forms {
            let form = form.as_str().unwrap_or_default();
            if form != "*" && runt.model().form(form).is_none() {
                return Err(Flow::Err(
                    StormError::new("NoSuchForm", format!("No form named {form}."))
                        .with("name", form),
                ));
            }
            queries(rules)?;
        }
    }
    Ok(())
}

/// JSON schema kinds of the reference's graph definition schema.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    NonEmptyStr,
    Number,
    Bool,
    Strings,
    StringsOrNull,
    IntOrNull,
    Object,
}

/// The schema's properties, in its order, with their defaults.
const PROPS: &[(&str, Kind)] = &[
    ("iden", Kind::Str),
    ("name", Kind::NonEmptyStr),
    ("desc", Kind::Str),
    ("scope", Kind::Str),
    ("creator", Kind::Str),
    ("power-up", Kind::NonEmptyStr),
    ("maxsize", Kind::Number),
    ("existing", Kind::Strings),
    ("created", Kind::Number),
    ("updated", Kind::Number),
    ("refs", Kind::Bool),
    ("edges", Kind::Bool),
    ("edgelimit", Kind::Number),
    ("degrees", Kind::IntOrNull),
    ("filterinput", Kind::Bool),
    ("yieldfiltered", Kind::Bool),
    ("filters", Kind::StringsOrNull),
    ("pivots", Kind::StringsOrNull),
    ("forms", Kind::Object),
    ("permissions", Kind::Object),
];

/// The reference's `reqValidGdef`: types, ranges, required and unknown keys, and the defaults
/// it fills in (in its order), with fastjsonschema's messages.
fn check_schema(gdef: &mut Value) -> RResult<()> {
    for (key, kind) in PROPS {
        let Some(valu) = get(gdef, key) else {
            continue;
        };
        check_kind(&format!("data.{key}"), valu, *kind)?;
    }
    if let Some(scope) = get(gdef, "scope").and_then(Value::as_str)
        && scope != "user"
        && scope != "power-up"
    {
        return Err(violation(
            "data.scope",
            "data.scope must be one of ['user', 'power-up']".to_owned(),
        ));
    }
    for key in ["maxsize", "degrees"] {
        if let Some(num) = get(gdef, key).and_then(Value::as_f64)
            && num < 0.0
        {
            return Err(violation(
                &format!("data.{key}"),
                format!("data.{key} must be bigger than or equal to 0"),
            ));
        }
    }
    if let Some(Value::Map(forms)) = get(gdef, "forms") {
        for (form, rules) in forms {
            let form = form.as_str().unwrap_or_default();
            let name = format!("data.forms.{form}");
            check_kind(&name, rules, Kind::Object)?;
            for key in ["filters", "pivots"] {
                if let Some(valu) = get(rules, key) {
                    check_kind(&format!("{name}.{key}"), valu, Kind::StringsOrNull)?;
                }
            }
            unknown_keys(&name, rules, &["filters", "pivots"])?;
        }
    }
    let known: Vec<&str> = PROPS.iter().map(|(k, _)| *k).collect();
    unknown_keys("data", gdef, &known)?;
    let missing: Vec<&str> = ["iden", "name", "scope"]
        .into_iter()
        .filter(|k| get(gdef, k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(violation(
            "data",
            "data must contain ['iden', 'name', 'scope'] properties".to_owned(),
        ));
    }
    let extra = if str_of(gdef, "scope") == "power-up" {
        "power-up"
    } else {
        "creator"
    };
    if get(gdef, extra).is_none() {
        return Err(violation(
            "data",
            format!("data must contain ['{extra}'] properties"),
        ));
    }
    for (key, defv) in [
        ("desc", Value::from("")),
        ("refs", Value::Boolean(false)),
        ("edges", Value::Boolean(true)),
        ("edgelimit", Value::from(3000)),
        ("filterinput", Value::Boolean(true)),
        ("yieldfiltered", Value::Boolean(false)),
    ] {
        if get(gdef, key).is_none() {
            set(gdef, key, defv);
        }
    }
    Ok(())
}

fn check_kind(name: &str, valu: &Value, kind: Kind) -> RResult<()> {
    let fail = |what: &str| Err(violation(name, format!("{name} must be {what}")));
    let strings = |items: &[Value]| -> RResult<()> {
        for (idx, item) in items.iter().enumerate() {
            if !item.is_str() {
                let name = format!("{name}[{idx}]");
                return Err(violation(&name, format!("{name} must be string")));
            }
        }
        Ok(())
    };
    match (kind, valu) {
        (Kind::Str, Value::String(_)) => Ok(()),
        (Kind::NonEmptyStr, Value::String(s)) => {
            if s.as_str().is_some_and(str::is_empty) {
                return Err(violation(
                    name,
                    format!("{name} must be longer than or equal to 1 characters"),
                ));
            }
            Ok(())
        }
        (Kind::Str | Kind::NonEmptyStr, _) => fail("string"),
        (Kind::Number, Value::Integer(_) | Value::F32(_) | Value::F64(_)) => Ok(()),
        (Kind::Number, _) => fail("number"),
        (Kind::Bool, Value::Boolean(_)) => Ok(()),
        (Kind::Bool, _) => fail("boolean"),
        (Kind::IntOrNull, Value::Integer(_) | Value::Nil) => Ok(()),
        (Kind::IntOrNull, _) => fail("integer or null"),
        (Kind::Object, Value::Map(_)) => Ok(()),
        (Kind::Object, _) => fail("object"),
        (Kind::Strings, Value::Array(items)) => strings(items),
        (Kind::Strings, _) => fail("array"),
        (Kind::StringsOrNull, Value::Array(items)) => strings(items),
        (Kind::StringsOrNull, Value::Nil) => Ok(()),
        (Kind::StringsOrNull, _) => fail("array or null"),
    }
}

fn unknown_keys(name: &str, valu: &Value, known: &[&str]) -> RResult<()> {
    let Value::Map(items) = valu else {
        return Ok(());
    };
    let extra: Vec<String> = items
        .iter()
        .map(|(k, _)| k.as_str().unwrap_or_default())
        .filter(|k| !known.contains(k))
        .map(|k| format!("'{k}'"))
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    Err(violation(
        name,
        format!(
            "{name} must not contain {{{}}} properties",
            extra.join(", ")
        ),
    ))
}
