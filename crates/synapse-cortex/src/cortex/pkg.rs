//! Storm packages: definitions validated as the reference's `_normStormPkg` and
//! `reqValidPkgdef`, stored in the Cortex slab (`storm:pkgs`, by name) and loaded at boot; their
//! modules (`$lib.import`) and commands (pure Storm commands) by name; package variables
//! (`storm:pkg:vars`); and the `inits` / `onload` queries run after a package loads.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use rmpv::Value;
use serde_json::Value as Json;
use synapse_cell::{ConfType, Error, Result, Schema, map_get};
use synapse_slab::{Db, DbOptions, Scan, Slab};

use super::{Cortex, StormCall, poisoned};
use crate::nodeedit::{packb, unpackb};

/// The Synapse version packages are checked against.
pub(crate) const SYNAPSE_VERSION: (u64, u64, u64) = (2, 256, 0);

fn slab_error(err: synapse_slab::Error) -> Error {
    Error::storage(err.to_string()).with_source(err)
}

/// The loaded packages: definitions by name, and their modules and commands by name.
#[derive(Default)]
struct Loaded {
    defs: BTreeMap<String, Value>,
    mods: BTreeMap<String, Value>,
    cmds: BTreeMap<String, Value>,
}

/// The package records of a Cortex.
pub(crate) struct Pkgs {
    slab: Slab,
    defs: Db,
    vars: Db,
    loaded: RwLock<Loaded>,
}

impl Pkgs {
    pub(crate) async fn open(slab: &Slab) -> Result<Pkgs> {
        let plain = DbOptions::default();
        let defs = slab.initdb("storm:pkgs", plain).await.map_err(slab_error)?;
        let vars = slab
            .initdb("storm:pkg:vars", plain)
            .await
            .map_err(slab_error)?;
        let pkgs = Pkgs {
            slab: slab.clone(),
            defs,
            vars,
            loaded: RwLock::new(Loaded::default()),
        };
        Ok(pkgs)
    }

    /// Every stored definition.
    async fn stored(&self) -> Result<Vec<Value>> {
        let db = self.defs;
        let rows = self
            .slab
            .snapshot(move |txn| {
                let mut out = Vec::new();
                for row in txn.scan(db, Scan::full())? {
                    let (_, val) = row?;
                    out.push(val.to_vec());
                }
                Ok::<_, synapse_slab::Error>(out)
            })
            .await
            .map_err(slab_error)?;
        Ok(rows.iter().filter_map(|byts| unpackb(byts)).collect())
    }

    fn var_key(pkg: &str, name: &str) -> Vec<u8> {
        let mut key = pkg.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(name.as_bytes());
        key
    }
}

// ----- map helpers -----

fn get<'a>(valu: &'a Value, key: &str) -> Option<&'a Value> {
    match map_get(valu, key) {
        Some(Value::Nil) | None => None,
        Some(v) => Some(v),
    }
}

fn get_str<'a>(valu: &'a Value, key: &str) -> Option<&'a str> {
    get(valu, key).and_then(Value::as_str)
}

fn set(valu: &mut Value, key: &str, item: Value) {
    if let Value::Map(items) = valu {
        match items.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
            Some(slot) => slot.1 = item,
            None => items.push((Value::from(key), item)),
        }
    }
}

fn setdefault<'a>(valu: &'a mut Value, key: &str, dflt: Value) -> Option<&'a mut Value> {
    let Value::Map(items) = valu else { return None };
    let pos = match items.iter().position(|(k, _)| k.as_str() == Some(key)) {
        Some(pos) => pos,
        None => {
            items.push((Value::from(key), dflt));
            items.len() - 1
        }
    };
    items.get_mut(pos).map(|(_, v)| v)
}

fn items_mut<'a>(valu: &'a mut Value, key: &str) -> Vec<&'a mut Value> {
    let Value::Map(items) = valu else {
        return Vec::new();
    };
    match items.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some((_, Value::Array(list))) => list.iter_mut().collect(),
        _ => Vec::new(),
    }
}

fn list<'a>(valu: &'a Value, key: &str) -> &'a [Value] {
    match get(valu, key) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

// ----- versions -----

/// `(major, minor, patch)` of a version string (`1.2.3`, pre-release and build ignored).
pub(crate) fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let text = text.trim().trim_start_matches('v');
    let core = text.split(['-', '+']).next().unwrap_or_default();
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let maj = parts.next()??;
    let min = parts.next().flatten().unwrap_or(0);
    let pat = parts.next().flatten().unwrap_or(0);
    Some((maj, min, pat))
}

/// Whether `vers` satisfies the requirement `spec` (`>=1.0.0,<2.0.0`: comma-separated
/// clauses, the reference's `packaging` specifier sets). `None` if the text is not one.
pub(crate) fn version_matches(vers: &str, spec: &str) -> Option<bool> {
    let have = parse_version(vers)?;
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let ops = ["===", "==", "!=", ">=", "<=", "~=", ">", "<"];
        let op = ops.iter().find(|op| clause.starts_with(**op))?;
        let want_text = clause[op.len()..].trim();
        let want = parse_version(want_text.trim_end_matches(".*"))?;
        let ok = match *op {
            "==" | "===" if want_text.ends_with(".*") => {
                let depth = want_text.trim_end_matches(".*").split('.').count();
                let a = [have.0, have.1, have.2];
                let b = [want.0, want.1, want.2];
                a[..depth.min(3)] == b[..depth.min(3)]
            }
            "==" | "===" => have == want,
            "!=" => have != want,
            ">=" => have >= want,
            "<=" => have <= want,
            ">" => have > want,
            "<" => have < want,
            _ => {
                // ~=X.Y.Z: >=X.Y.Z and ==X.Y.*
                have >= want && have.0 == want.0 && have.1 == want.1
            }
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

fn vers_tuple(vers: (u64, u64, u64)) -> String {
    format!("({}, {}, {})", vers.0, vers.1, vers.2)
}

// ----- validation -----

/// The model base types a command argument may name (`datamodel_basetypes`).
const BASETYPES: &[&str] = &[
    "int",
    "float",
    "range",
    "str",
    "hex",
    "bool",
    "time",
    "duration",
    "ival",
    "guid",
    "syn:tag:part",
    "syn:tag",
    "comp",
    "loc",
    "ndef",
    "array",
    "edge",
    "timeedge",
    "data",
    "nodeprop",
    "hugenum",
    "taxon",
    "taxonomy",
    "velocity",
];

const SEMVER: &str = r"^(?P<maj>(0(?![0-9])|[1-9][0-9]*))\.(?P<min>(0(?![0-9])|[1-9][0-9]*))\.(?P<pat>(0(?![0-9])|[1-9][0-9]*))(\-(?P<pre>([0-9A-Za-z\-\.]+)))?(\+(?P<bld>([0-9A-Za-z\.\-]+)))?$";

/// The reference's semver pattern without its lookaheads (numbers have no leading zero).
fn is_semver(text: &str) -> bool {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z\-.]+)?(\+[0-9A-Za-z.\-]+)?$",
        )
        .ok()
    });
    RE.as_ref().is_some_and(|re| re.is_match(text))
}

fn ty(types: &[ConfType]) -> Schema {
    Schema::of(types)
}

fn string() -> Schema {
    ty(&[ConfType::String])
}

fn object() -> Schema {
    ty(&[ConfType::Object])
}

fn strlist() -> Schema {
    ty(&[ConfType::Array]).items(string())
}

fn perm_lists() -> Schema {
    ty(&[ConfType::Array]).items(strlist())
}

/// The package schema (the reference's `_reqValidPkgdefSchema`, with its pattern checks on
/// semantic versions and command argument types done in [`check_extra`]).
fn pkg_schema() -> &'static Schema {
    static SCHEMA: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let arr_or_null = |items: Schema| ty(&[ConfType::Array, ConfType::Null]).items(items);
        let module = object()
            .property("name", string())
            .property("storm", string())
            .property("modconf", object())
            .property("asroot", ty(&[ConfType::Boolean]))
            .property("asroot:perms", perm_lists())
            .required(&["name", "storm"]);
        let cmdarg = ty(&[ConfType::Array])
            .tuple_items(vec![
                string(),
                object()
                    .property("help", string())
                    .property("dest", string())
                    .property("required", ty(&[ConfType::Boolean]))
                    .property("action", string())
                    .property("nargs", ty(&[ConfType::String, ConfType::Integer]))
                    .property("choices", ty(&[ConfType::Array]).min_items(1))
                    .property("type", string()),
            ])
            .max_items(2);
        let endpoint = object()
            .property("path", string())
            .property("url", string())
            .property("host", string())
            .property("desc", string())
            .required(&["path"])
            .closed();
        let command = object()
            .property("name", string().pattern("^[a-z][a-z0-9.]+$"))
            .property("endpoints", ty(&[ConfType::Array]).items(endpoint))
            .property("cmdargs", arr_or_null(cmdarg))
            .property(
                "cmdinputs",
                arr_or_null(
                    object()
                        .property("form", string())
                        .property("help", string())
                        .required(&["form"]),
                ),
            )
            .property(
                "cmdconf",
                object().property("svciden", string().pattern("^[0-9a-f]{32}$")),
            )
            .property("storm", string())
            .property("perms", perm_lists())
            .required(&["name", "storm"]);
        let initdef = object()
            .property("desc", string())
            .property("inaugural", ty(&[ConfType::Boolean]))
            .property("name", string())
            .property("query", string())
            .property("queryopts", object())
            .property("version", ty(&[ConfType::Integer]).minimum(0.0))
            .required(&["name", "query", "version"])
            .closed();
        let permdef = object()
            .property("perm", strlist())
            .property("desc", string())
            .property("gate", string())
            .property("ex", string())
            .property("workflowconfig", ty(&[ConfType::Boolean]))
            .property("default", ty(&[ConfType::Boolean]))
            .required(&["perm", "desc", "gate"]);
        let configvar = object()
            .property("name", string())
            .property("varname", string())
            .property("desc", string())
            .property("workflowconfig", ty(&[ConfType::Boolean]))
            .property("scopes", ty(&[ConfType::Array]).items(string()))
            .required(&["name", "varname", "desc", "type", "scopes"]);
        object()
            .property("name", string())
            .property("version", string())
            .property(
                "build",
                object()
                    .property("time", ty(&[ConfType::Number]))
                    .property("synapse:version", string())
                    .property("synapse:commit", string().pattern("^[0-9a-fA-F]*$"))
                    .required(&["time"]),
            )
            .property(
                "codesign",
                object()
                    .property("sign", string())
                    .property("cert", string())
                    .required(&["cert", "sign"]),
            )
            .property("synapse_minversion", arr_or_null(ty(&[ConfType::Number])))
            .property("synapse_version", string())
            .property("modules", arr_or_null(module))
            .property(
                "docs",
                arr_or_null(
                    object()
                        .property("title", string())
                        .property("content", string())
                        .required(&["title", "content"]),
                ),
            )
            .property(
                "logo",
                object()
                    .property("mime", string())
                    .property("file", string())
                    .required(&["mime", "file"]),
            )
            .property("commands", arr_or_null(command))
            .property("desc", string())
            .property(
                "svciden",
                ty(&[ConfType::String, ConfType::Null]).pattern("^[0-9a-f]{32}$"),
            )
            .property("onload", string())
            .property(
                "inits",
                object()
                    .property(
                        "versions",
                        ty(&[ConfType::Array]).items(initdef).min_items(1),
                    )
                    .required(&["versions"]),
            )
            .property(
                "author",
                object()
                    .property("url", string())
                    .property("name", string())
                    .required(&["name", "url"]),
            )
            .property(
                "depends",
                Schema::of(&[])
                    .property(
                        "requires",
                        ty(&[ConfType::Array]).items(
                            object()
                                .property("name", string())
                                .property("version", string())
                                .property("desc", string())
                                .property("optional", ty(&[ConfType::Boolean]))
                                .required(&["name", "version"]),
                        ),
                    )
                    .property(
                        "conflicts",
                        ty(&[ConfType::Array]).items(
                            object()
                                .property("name", string())
                                .property("version", string())
                                .property("desc", string())
                                .required(&["name"]),
                        ),
                    ),
            )
            .property("perms", ty(&[ConfType::Array]).items(permdef))
            .property("configvars", ty(&[ConfType::Array]).items(configvar))
            .required(&["name", "version"])
    })
}

fn violation(mesg: String) -> Error {
    let name = mesg.split(' ').next().unwrap_or("data").to_owned();
    Error::named("SchemaViolation", mesg).with("name", name.as_str())
}

/// The checks the schema builder has no words for: the semver patterns and the enum of
/// command argument types.
fn check_extra(json: &Json) -> Result<()> {
    if let Some(vers) = json.get("version").and_then(Json::as_str)
        && !is_semver(vers)
    {
        return Err(violation(format!(
            "data.version must match pattern {SEMVER}"
        )));
    }
    if let Some(vers) = json
        .get("build")
        .and_then(|b| b.get("synapse:version"))
        .and_then(Json::as_str)
        && !is_semver(vers)
    {
        return Err(violation(format!(
            "data.build.synapse:version must match pattern {SEMVER}"
        )));
    }
    let depr_ok = |item: Option<&Json>, path: String| -> Result<()> {
        match item {
            Some(Json::Object(depr))
                if depr.contains_key("eolvers") == depr.contains_key("eoldate") =>
            {
                Err(violation(format!(
                    "{path} must be valid exactly by one definition (0 matches found)"
                )))
            }
            _ => Ok(()),
        }
    };
    for (ci, cdef) in json
        .get("commands")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        depr_ok(
            cdef.get("deprecated"),
            format!("data.commands[{ci}].deprecated"),
        )?;
        for (ai, arg) in cdef
            .get("cmdargs")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(argty) = arg
                .get(1)
                .and_then(|o| o.get("type"))
                .and_then(Json::as_str)
                && !BASETYPES.contains(&argty)
            {
                let names: Vec<String> = BASETYPES.iter().map(|t| format!("'{t}'")).collect();
                return Err(violation(format!(
                    "data.commands[{ci}].cmdargs[{ai}][1].type must be one of ({})",
                    names.join(", ")
                )));
            }
            depr_ok(
                arg.get(1).and_then(|o| o.get("deprecated")),
                format!("data.commands[{ci}].cmdargs[{ai}][1].deprecated"),
            )?;
        }
    }
    Ok(())
}

fn parse_check(text: &str) -> Result<()> {
    match crate::storm::parse_query(text) {
        Ok(_) => Ok(()),
        Err(err) => Err(crate::storm::runtime::to_cell_error(
            crate::storm::runtime::bad_syntax(text, &err),
        )),
    }
}

/// One `requires` / `conflicts` item of `verifyStormPkgDeps`.
fn dep_item(dep: &Value, installed: Option<&Value>, conflict: bool) -> Value {
    let mut item = dep.clone();
    if conflict {
        setdefault(&mut item, "version", Value::Nil);
    }
    setdefault(&mut item, "desc", Value::Nil);
    let cmpr = get_str(dep, "version");
    let (ok, actual) = match installed {
        None => (conflict, Value::Nil),
        Some(pkg) => {
            let cver = get_str(pkg, "version").unwrap_or_default();
            let matched = cmpr.and_then(|c| version_matches(cver, c)).unwrap_or(false);
            let ok = if conflict {
                cmpr.is_some() && !matched
            } else {
                matched
            };
            (ok, Value::from(cver))
        }
    };
    set(&mut item, "ok", Value::Boolean(ok));
    set(&mut item, "actual", actual);
    item
}

impl Cortex {
    /// The reference's `verifyStormPkgDeps`: `{"requires": [...], "conflicts": [...]}` with
    /// `ok` and the installed version as `actual` on each item.
    pub fn verify_pkg_deps(&self, pkgdef: &Value) -> Value {
        let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
        let deps = get(pkgdef, "depends");
        let mut requires = Vec::new();
        let mut conflicts = Vec::new();
        if let Some(deps) = deps {
            for dep in list(deps, "requires") {
                let name = get_str(dep, "name").unwrap_or_default();
                requires.push(dep_item(dep, loaded.defs.get(name), false));
            }
            for dep in list(deps, "conflicts") {
                let name = get_str(dep, "name").unwrap_or_default();
                conflicts.push(dep_item(dep, loaded.defs.get(name), true));
            }
        }
        synapse_cell::map([
            ("requires", Value::Array(requires)),
            ("conflicts", Value::Array(conflicts)),
        ])
    }

    /// Normalize and validate a package definition in place (the reference's
    /// `_normStormPkg`): a version list becomes `x.y.z`, conflicts and the Synapse version are
    /// checked, the Storm texts parsed (with `validstorm`), modules get their `modconf` with
    /// `pkgmeta` and commands their `pkgname` and `cmdconf`, then the schema is applied.
    pub fn norm_pkgdef(&self, pkgdef: &mut Value, validstorm: bool) -> Result<()> {
        if !matches!(pkgdef, Value::Map(_)) {
            return Err(violation("data must be object".to_owned()));
        }
        if let Some(Value::Array(parts)) = get(pkgdef, "version") {
            let nums: Vec<String> = parts
                .iter()
                .map(|p| p.as_i64().map(|i| i.to_string()).unwrap_or_default())
                .collect();
            let text = nums.join(".");
            set(pkgdef, "version", Value::from(text.as_str()));
        }
        let name = get_str(pkgdef, "name").unwrap_or_default().to_owned();
        let deps = self.verify_pkg_deps(pkgdef);
        for require in list(&deps, "requires") {
            if get(require, "ok") != Some(&Value::Boolean(true)) {
                tracing::debug!(
                    pkg = %name,
                    require = get_str(require, "name").unwrap_or_default(),
                    "storm package requirement is currently unmet"
                );
            }
        }
        for conflict in list(&deps, "conflicts") {
            if get(conflict, "ok") != Some(&Value::Boolean(true)) {
                let other = get_str(conflict, "name").unwrap_or_default();
                let vers = get_str(conflict, "version").unwrap_or_default();
                return Err(Error::named(
                    "StormPkgConflicts",
                    format!("Storm package {name} conflicts with {other}{vers}."),
                ));
            }
        }
        let verstr = format!(
            "{}.{}.{}",
            SYNAPSE_VERSION.0, SYNAPSE_VERSION.1, SYNAPSE_VERSION.2
        );
        if let Some(req) = get(pkgdef, "synapse_version") {
            let req = req.as_str().unwrap_or_default();
            if version_matches(&verstr, req) != Some(true) {
                return Err(Error::named(
                    "BadVersion",
                    format!(
                        "Storm package {name} requires Synapse {req} but Cortex is running {}",
                        vers_tuple(SYNAPSE_VERSION)
                    ),
                )
                .with("verstr", verstr.as_str())
                .with("reqver", req));
            }
        } else if let Some(Value::Array(min)) = get(pkgdef, "synapse_minversion") {
            let min: Vec<u64> = min.iter().filter_map(Value::as_u64).collect();
            let have = [SYNAPSE_VERSION.0, SYNAPSE_VERSION.1, SYNAPSE_VERSION.2];
            if min.as_slice() > have.as_slice() {
                let shown: Vec<String> = min.iter().map(u64::to_string).collect();
                let shown = if shown.len() == 1 {
                    format!("({},)", shown[0])
                } else {
                    format!("({})", shown.join(", "))
                };
                return Err(Error::named(
                    "BadVersion",
                    format!(
                        "Storm package {name} requires Synapse {shown} but Cortex is running {}",
                        vers_tuple(SYNAPSE_VERSION)
                    ),
                ));
            }
        }
        if validstorm && let Some(onload) = get_str(pkgdef, "onload") {
            parse_check(onload)?;
        }
        if let Some(inits) = get(pkgdef, "inits") {
            let mut last: Option<i64> = None;
            for initdef in list(inits, "versions") {
                let cur = get(initdef, "version").and_then(Value::as_i64);
                if let (Some(last), Some(cur)) = (last, cur)
                    && cur <= last
                {
                    return Err(Error::named(
                        "BadPkgDef",
                        "Init versions must be monotonically increasing.",
                    )
                    .with("version", cur));
                }
                if cur.is_some() {
                    last = cur;
                }
                if validstorm && let Some(query) = get_str(initdef, "query") {
                    parse_check(query)?;
                }
            }
        }
        let svciden = get_str(pkgdef, "svciden").map(str::to_owned);
        for mdef in items_mut(pkgdef, "modules") {
            let modname = map_get(mdef, "name").cloned().unwrap_or(Value::Nil);
            let mut pkgmeta = synapse_cell::map([
                ("modname", modname),
                ("pkgname", Value::from(name.as_str())),
            ]);
            if let Some(svc) = &svciden {
                set(&mut pkgmeta, "svciden", Value::from(svc.as_str()));
            }
            if let Some(modconf) = setdefault(mdef, "modconf", Value::Map(Vec::new())) {
                setdefault(modconf, "pkgmeta", pkgmeta);
                if let Some(svc) = &svciden {
                    set(modconf, "svciden", Value::from(svc.as_str()));
                }
            }
            if validstorm && let Some(text) = get_str(mdef, "storm") {
                parse_check(text)?;
            }
        }
        for cdef in items_mut(pkgdef, "commands") {
            set(cdef, "pkgname", Value::from(name.as_str()));
            if let Some(cmdconf) = setdefault(cdef, "cmdconf", Value::Map(Vec::new()))
                && let Some(svc) = &svciden
            {
                set(cmdconf, "svciden", Value::from(svc.as_str()));
            }
            if validstorm && let Some(text) = get_str(cdef, "storm") {
                parse_check(text)?;
            }
            if get(cdef, "forms").is_some() {
                tracing::warn!(
                    pkg = %name,
                    "Storm command definition 'forms' key is deprecated and will be removed in 3.0.0 (command {} in package {name})",
                    get_str(cdef, "name").unwrap_or_default()
                );
            }
        }
        let json = synapse_cell::to_json(pkgdef);
        pkg_schema().validate(&json, "data").map_err(violation)?;
        check_extra(&json)?;
        for cvar in list(pkgdef, "configvars") {
            self.req_pkg_var_type(&name, map_get(cvar, "type").unwrap_or(&Value::Nil))?;
        }
        // The schema's default of a permission's `default`, as the reference's validator fills.
        if let Value::Map(items) = pkgdef
            && let Some((_, Value::Array(perms))) =
                items.iter_mut().find(|(k, _)| k.as_str() == Some("perms"))
        {
            for perm in perms.iter_mut() {
                if let Value::Map(pdef) = perm
                    && !pdef.iter().any(|(k, _)| k.as_str() == Some("default"))
                {
                    pdef.push((Value::from("default"), Value::Boolean(false)));
                }
            }
        }
        Ok(())
    }

    fn req_pkg_var_type(&self, pkgname: &str, vartype: &Value) -> Result<()> {
        if let Value::Array(items) = vartype {
            for item in items {
                self.req_pkg_var_type(pkgname, item)?;
            }
            return Ok(());
        }
        let name = vartype.as_str().unwrap_or_default();
        if self.model().ty(name).is_none() {
            return Err(Error::named(
                "NoSuchType",
                format!(
                    "Storm package {pkgname} has unknown config var type {}.",
                    name_repr(vartype)
                ),
            )
            .with("type", vartype.clone()));
        }
        Ok(())
    }

    /// Load a normalized package: its modules and commands become visible.
    fn load_pkg(&self, pkgdef: &Value) {
        let name = get_str(pkgdef, "name").unwrap_or_default().to_owned();
        let vers = map_get(pkgdef, "version").cloned().unwrap_or(Value::Nil);
        let mut loaded = self.pkgs.loaded.write().unwrap_or_else(poisoned);
        if let Some(old) = loaded.defs.remove(&name) {
            drop_pkg(&mut loaded, &old);
        }
        for mdef in list(pkgdef, "modules") {
            let mut mdef = mdef.clone();
            set(&mut mdef, "pkgvers", vers.clone());
            if let Some(modname) = get_str(&mdef, "name") {
                loaded.mods.insert(modname.to_owned(), mdef.clone());
            }
        }
        for cdef in list(pkgdef, "commands") {
            if let Some(cmdname) = get_str(cdef, "name") {
                loaded.cmds.insert(cmdname.to_owned(), cdef.clone());
            }
        }
        loaded.defs.insert(name.clone(), pkgdef.clone());
        tracing::info!(pkg = %name, "Loaded Storm package: {name}@{}.", name_repr(&vers));
    }

    /// Load the stored packages (bad ones are logged and skipped, as the reference does).
    pub(crate) async fn load_pkgs(&self) -> Result<()> {
        for mut pkgdef in self.pkgs.stored().await? {
            match self.norm_pkgdef(&mut pkgdef, false) {
                Ok(()) => self.load_pkg(&pkgdef),
                Err(err) => {
                    let name = get_str(&pkgdef, "name").unwrap_or_default();
                    tracing::error!(pkg = %name, cause = %err, "Error loading pkg: {name}, {}", err.mesg());
                }
            }
        }
        Ok(())
    }

    /// Run the `inits` and `onload` queries of every loaded package (at start).
    pub(crate) fn start_pkgs(self: &Arc<Self>) {
        let defs: Vec<Value> = {
            let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
            loaded.defs.values().cloned().collect()
        };
        for pkgdef in defs {
            self.spawn_onload(pkgdef);
        }
    }

    fn spawn_onload(self: &Arc<Self>, pkgdef: Value) {
        let core = Arc::downgrade(self);
        let spawned = self.cell().base().spawn(async move {
            if let Some(core) = core.upgrade() {
                core.run_onload(&pkgdef).await;
            }
        });
        if spawned.is_err() {
            tracing::warn!("the cortex is shutting down: package onload queries will not run");
        }
    }

    /// Run one query as root for a package; its prints and warnings are logged with
    /// `prefix`; false on an error message.
    async fn run_pkg_query(self: &Arc<Self>, text: &str, opts: Value, prefix: &str) -> bool {
        let user = match self.user(&self.cell().auth().root_iden()) {
            Ok(user) => user,
            Err(err) => {
                tracing::warn!(cause = %err, "{prefix} failed: no root user");
                return false;
            }
        };
        let call = StormCall {
            text: text.to_owned(),
            opts,
            user,
        };
        let mut mesgs = match self.storm(call) {
            Ok(mesgs) => mesgs,
            Err(err) => {
                tracing::warn!(cause = %err, "{prefix} failed");
                return false;
            }
        };
        let mut ok = true;
        while let Some(mesg) = mesgs.next().await {
            let Value::Array(parts) = &mesg else { continue };
            let kind = parts.first().and_then(Value::as_str).unwrap_or_default();
            let info = parts.get(1).cloned().unwrap_or(Value::Nil);
            let text = || get_str(&info, "mesg").unwrap_or_default().to_owned();
            match kind {
                "print" => tracing::info!("{prefix} output: {}", text()),
                "warn" => tracing::warn!("{prefix} output: {}", text()),
                "err" => {
                    tracing::error!("{prefix} output: {info}");
                    ok = false;
                }
                _ => {}
            }
        }
        ok
    }

    /// The reference's `_runStormPkgOnload`: the package's `inits` versions newer than its
    /// `storage:version` variable (all but `inaugural` ones are skipped on a first load),
    /// then `onload`.
    async fn run_onload(self: &Arc<Self>, pkgdef: &Value) {
        let name = get_str(pkgdef, "name").unwrap_or_default().to_owned();
        let verskey = "storage:version";
        match get(pkgdef, "inits") {
            None => {
                if let Err(err) = self.set_pkg_var(&name, verskey, Value::from(-1)).await {
                    tracing::warn!(pkg = %name, cause = %err, "cannot set the package storage version");
                }
            }
            Some(inits) => {
                if let Some(key) = get_str(inits, "key")
                    && key != verskey
                    && let Ok(Some(valu)) = self.pop_pkg_var(&name, key).await
                {
                    let _ = self.set_pkg_var(&name, verskey, valu).await;
                }
                let cur = self.get_pkg_var(&name, verskey).await.ok().flatten();
                let inaugural = cur.is_none();
                let mut curvers = cur.and_then(|v| v.as_i64()).unwrap_or(-1);
                for initdef in list(inits, "versions") {
                    let vers = get(initdef, "version").and_then(Value::as_i64).unwrap_or(0);
                    let vname = get_str(initdef, "name").unwrap_or_default();
                    if vers <= curvers {
                        continue;
                    }
                    if inaugural && get(initdef, "inaugural") != Some(&Value::Boolean(true)) {
                        let _ = self.set_pkg_var(&name, verskey, Value::from(vers)).await;
                        curvers = vers;
                        continue;
                    }
                    tracing::info!(pkg = %name, "{name} starting init vers={vers}: {vname}");
                    let query = get_str(initdef, "query").unwrap_or_default();
                    let opts = get(initdef, "queryopts")
                        .cloned()
                        .unwrap_or(Value::Map(Vec::new()));
                    let prefix = format!("{name} init vers={vers}");
                    if !self.run_pkg_query(query, opts, &prefix).await {
                        break;
                    }
                    let stored = self
                        .get_pkg_var(&name, verskey)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|v| v.as_i64())
                        .unwrap_or(-1);
                    curvers = vers.max(stored);
                    let _ = self.set_pkg_var(&name, verskey, Value::from(curvers)).await;
                    tracing::info!(pkg = %name, "{name} finished init vers={vers}: {vname}");
                }
            }
        }
        if let Some(onload) = get_str(pkgdef, "onload") {
            let prefix = format!("{name} onload");
            self.run_pkg_query(onload, Value::Map(Vec::new()), &prefix)
                .await;
            tracing::info!(pkg = %name, "{name} finished onload");
        }
    }

    /// Add (or replace, by name) a package: normalized, validated, stored, loaded, then its
    /// `inits` and `onload` queries run in the background. `verify` (code signatures) is
    /// refused: this Cortex has no code-signing certificates.
    pub async fn add_storm_pkg(self: &Arc<Self>, mut pkgdef: Value, verify: bool) -> Result<()> {
        if verify {
            let signed = get(&pkgdef, "codesign");
            let mesg = match signed {
                None => "Storm package is not signed!",
                Some(sign) if get(sign, "cert").is_none() => "Storm package has no certificate!",
                Some(sign) if get(sign, "sign").is_none() => "Storm package has no signature!",
                Some(_) => "Storm package has invalid certificate!",
            };
            return Err(Error::named("BadPkgDef", mesg));
        }
        self.norm_pkgdef(&mut pkgdef, true)?;
        let name = get_str(&pkgdef, "name").unwrap_or_default().to_owned();
        let same = {
            let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
            loaded.defs.get(&name) == Some(&pkgdef)
        };
        if same {
            return Ok(());
        }
        let db = self.pkgs.defs;
        let key = name.as_bytes().to_vec();
        let byts = packb(&pkgdef);
        self.pkgs
            .slab
            .write_commit(move |txn| txn.put(db, &key, &byts).map(|_| ()))
            .await
            .map_err(slab_error)?;
        self.load_pkg(&pkgdef);
        self.spawn_onload(pkgdef);
        Ok(())
    }

    /// Remove a package (`NoSuchPkg` if there is none).
    pub async fn del_storm_pkg(&self, name: &str) -> Result<()> {
        let exists = {
            let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
            loaded.defs.contains_key(name)
        };
        if !exists {
            return Err(Error::named(
                "NoSuchPkg",
                format!("No storm package: {name}."),
            ));
        }
        let db = self.pkgs.defs;
        let key = name.as_bytes().to_vec();
        self.pkgs
            .slab
            .write_commit(move |txn| txn.delete(db, &key, None).map(|_| ()))
            .await
            .map_err(slab_error)?;
        let mut loaded = self.pkgs.loaded.write().unwrap_or_else(poisoned);
        if let Some(old) = loaded.defs.remove(name) {
            drop_pkg(&mut loaded, &old);
        }
        Ok(())
    }

    /// A package definition by name.
    pub fn storm_pkg(&self, name: &str) -> Option<Value> {
        let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
        loaded.defs.get(name).cloned()
    }

    /// Every package definition.
    pub fn storm_pkgs(&self) -> Vec<Value> {
        let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
        loaded.defs.values().cloned().collect()
    }

    /// Every module of the loaded packages, by name (each with its package's `pkgvers`).
    pub fn storm_mods(&self) -> Value {
        let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
        Value::Map(
            loaded
                .mods
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                .collect(),
        )
    }

    /// A module by name; with `reqvers`, only if its package version matches it (the
    /// reference's `getStormMod`).
    pub fn storm_mod(&self, name: &str, reqvers: Option<&str>) -> Option<Value> {
        let mdef = {
            let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
            loaded.mods.get(name).cloned()
        }?;
        let Some(req) = reqvers else {
            return Some(mdef);
        };
        let Some(vers) = get_str(&mdef, "pkgvers") else {
            tracing::warn!(
                "getStormMod: requested storm module {name}@{req}has no version information to check."
            );
            return None;
        };
        (version_matches(vers, req) == Some(true)).then_some(mdef)
    }

    /// A package command definition by name.
    pub fn storm_pkg_cmd(&self, name: &str) -> Option<Value> {
        let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
        loaded.cmds.get(name).cloned()
    }

    /// Every package command definition, by name.
    pub fn storm_pkg_cmds(&self) -> Vec<Value> {
        let loaded = self.pkgs.loaded.read().unwrap_or_else(poisoned);
        loaded.cmds.values().cloned().collect()
    }

    /// Add the commands of the loaded packages to `getCoreInfoV2()`'s storm docs (`name`,
    /// the first line of `descr` as `doc`, `package`, `svciden`).
    pub(crate) fn add_pkg_cmd_docs(&self, docs: &mut Value) {
        let entries: Vec<Value> = self
            .storm_pkg_cmds()
            .iter()
            .map(|cdef| {
                let name = get_str(cdef, "name").unwrap_or_default();
                let descr = get_str(cdef, "descr").unwrap_or("No description");
                let brief = descr.trim().split('\n').next().unwrap_or_default();
                let mut entry =
                    synapse_cell::map([("name", Value::from(name)), ("doc", Value::from(brief))]);
                if let Some(pkg) = get_str(cdef, "pkgname") {
                    set(&mut entry, "package", Value::from(pkg));
                }
                if let Some(svc) = get(cdef, "cmdconf")
                    .and_then(|c| get_str(c, "svciden"))
                    .filter(|s| !s.is_empty())
                {
                    set(&mut entry, "svciden", Value::from(svc));
                }
                entry
            })
            .collect();
        if let Value::Map(items) = docs
            && let Some((_, Value::Array(cmds))) = items
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some("commands"))
        {
            cmds.extend(entries);
        }
    }

    // ----- package variables -----

    /// A package variable.
    pub async fn get_pkg_var(&self, pkg: &str, name: &str) -> Result<Option<Value>> {
        super::stormobjs::row_get(&self.pkgs.slab, self.pkgs.vars, &Pkgs::var_key(pkg, name)).await
    }

    /// Set a package variable.
    pub async fn set_pkg_var(&self, pkg: &str, name: &str, valu: Value) -> Result<()> {
        let key = Pkgs::var_key(pkg, name);
        super::stormobjs::row_put(&self.pkgs.slab, self.pkgs.vars, key, &valu, None).await
    }

    /// Remove a package variable; its value if it had one.
    pub async fn pop_pkg_var(&self, pkg: &str, name: &str) -> Result<Option<Value>> {
        let key = Pkgs::var_key(pkg, name);
        super::stormobjs::row_pop(&self.pkgs.slab, self.pkgs.vars, key).await
    }

    /// Every variable of a package, `(name, value)` by name.
    pub async fn pkg_vars(&self, pkg: &str) -> Result<Vec<(String, Value)>> {
        let mut prefix = pkg.as_bytes().to_vec();
        prefix.push(0);
        let plen = prefix.len();
        let rows =
            super::stormobjs::rows_with_prefix(&self.pkgs.slab, self.pkgs.vars, prefix).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, val)| {
                Some((String::from_utf8(key.get(plen..)?.to_vec()).ok()?, val))
            })
            .collect())
    }
}

/// A value as Python's `str()` shows it in messages (strings bare).
fn name_repr(valu: &Value) -> String {
    match valu {
        Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
        Value::Nil => "None".to_owned(),
        other => other.to_string(),
    }
}

fn drop_pkg(loaded: &mut Loaded, pkgdef: &Value) {
    for mdef in list(pkgdef, "modules") {
        if let Some(name) = get_str(mdef, "name") {
            loaded.mods.remove(name);
        }
    }
    for cdef in list(pkgdef, "commands") {
        if let Some(name) = get_str(cdef, "name") {
            loaded.cmds.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_specifier_sets() {
        assert_eq!(version_matches("2.256.0", ">=2.0.0,<3.0.0"), Some(true));
        assert_eq!(version_matches("2.256.0", ">=3.0.0"), Some(false));
        assert_eq!(version_matches("1.2.3", "==1.2.*"), Some(true));
        assert_eq!(version_matches("1.3.0", "==1.2.*"), Some(false));
        assert_eq!(version_matches("1.2.5", "~=1.2.3"), Some(true));
        assert_eq!(version_matches("1.2.3", "!=1.2.3"), Some(false));
        assert_eq!(version_matches("1.2.3", "nope"), None);
    }

    #[test]
    fn semver_pattern() {
        assert!(is_semver("1.0.0"));
        assert!(is_semver("0.1.2-rc1+build.5"));
        assert!(!is_semver("01.0.0"));
        assert!(!is_semver("1.x"));
    }
}
