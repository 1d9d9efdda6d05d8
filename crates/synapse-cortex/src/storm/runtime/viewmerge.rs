//! The view methods around merging and rearranging forks (`merge`, the merge requests and
//! votes of quorum views, `detach`, `insertParentFork`, `insertChildFork`, `swapLayer`,
//! `addNodeEdits`, and `set(quorum, ...)`), and the layer storage edits of admins
//! (`setStorNodeProp`, `delStorNode`, `delStorNodeProp`). The Cortex side lives in
//! `cortex/mergereq.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cond::tostor;
use super::error::{Flow, RResult, StormError};
use super::lib::{arg, req};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Obj, Val, new_list};
use crate::cortex::Cortex;
use crate::layer::{EdgeDir, Layer};
use crate::nodeedit::{Buid, EditMeta, EditOp, NodeEdit};
use crate::view::View;

/// The view methods answered here.
pub(crate) const VIEW_METHODS: &[&str] = &[
    "merge",
    "detach",
    "swapLayer",
    "addNodeEdits",
    "insertParentFork",
    "insertChildFork",
    "getMerges",
    "delMergeVote",
    "setMergeVote",
    "setMergeVoteComment",
    "getMergeRequest",
    "getMergeRequestSummary",
    "delMergeRequest",
    "setMergeRequest",
    "setMergeComment",
    "getMergingViews",
];

/// The layer methods answered here.
pub(crate) const LAYER_METHODS: &[&str] = &[
    "setStorNodeProp",
    "delStorNode",
    "delStorNodeProp",
    "verify",
];

fn cerr(err: synapse_cell::Error) -> Flow {
    Flow::Err(super::host::cell_error(err))
}

fn deny(runt: &Runt, mesg: impl Into<String>) -> Flow {
    let user = &runt.shared.user;
    Flow::Err(
        StormError::new("AuthDeny", mesg)
            .with("user", user.iden.as_str())
            .with("username", user.name.as_str()),
    )
}

fn opt_str(v: Option<Val>) -> RResult<Option<String>> {
    match v {
        None | Some(Val::Null) => Ok(None),
        Some(v) => v.to_str().map(Some),
    }
}

/// The runtime's `isAdmin(gateiden=)`: a global admin, or an admin of the gate.
fn is_admin(runt: &Runt, core: &Cortex, gate: Option<&str>) -> bool {
    if runt.asroot || runt.shared.user.admin {
        return true;
    }
    let Some(gate) = gate else {
        return false;
    };
    core.cell()
        .auth()
        .user(&runt.shared.user.iden)
        .is_some_and(|u| u.authgates.iter().any(|(g, e)| g == gate && e.is_admin()))
}

/// The runtime's `reqAdmin(gateiden=, mesg=)`.
fn req_admin(runt: &Runt, core: &Cortex, gate: Option<&str>, mesg: Option<&str>) -> RResult<()> {
    if is_admin(runt, core, gate) {
        return Ok(());
    }
    let mesg = match (mesg, gate) {
        (Some(m), _) => m.to_owned(),
        (None, Some(g)) => format!("This action requires admin permissions on gate: {g}"),
        (None, None) => "This action requires global admin permissions.".to_owned(),
    };
    Err(deny(runt, mesg))
}

fn view_val(view: &View) -> Val {
    Val::Obj(Arc::new(Obj::View(view.iden())))
}

fn msg(v: Value) -> Val {
    Val::from_msgpack(&v)
}

/// `$view.set(quorum, valu)`.
pub(crate) async fn set_quorum(runt: &Arc<Runt>, view: &View, valu: Val) -> RResult<Val> {
    let core = super::ext::cortex(runt)?;
    let iden = view.iden();
    let valu = match valu {
        Val::Undef => Value::Nil,
        v => v.to_msgpack()?,
    };
    runt.confirm(&["view", "set", "quorum"], Some((&iden, "view")))?;
    let out = core.set_view_quorum(&iden, &valu).await.map_err(cerr)?;
    Ok(msg(out))
}

/// Call one of [`VIEW_METHODS`].
pub(crate) async fn view_method(
    runt: &Arc<Runt>,
    view: &View,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let core = super::ext::cortex(runt)?;
    let iden = view.iden();
    let user = runt.shared.user.iden.clone();
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    match name {
        "getMerges" => {
            let merges = core.merges(&iden).await.map_err(cerr)?;
            let items: Vec<RResult<GenItem>> = merges
                .into_iter()
                .map(|m| Ok(GenItem::Val(msg(m))))
                .collect();
            Ok(GenVal::val(futures::stream::iter(items).boxed()))
        }
        "getMergeRequestSummary" => {
            runt.confirm(&["view", "read"], Some((&iden, "view")))?;
            Ok(msg(core.merge_summary(&iden).await.map_err(cerr)?))
        }
        "getMergeRequest" => {
            runt.confirm(&["view", "read"], Some((&iden, "view")))?;
            Ok(msg(core
                .merge_request(&iden)
                .await
                .map_err(cerr)?
                .unwrap_or(Value::Nil)))
        }
        "getMergingViews" => {
            runt.confirm(&["view", "read"], Some((&iden, "view")))?;
            let idens = core.merging_views(&iden).await.map_err(cerr)?;
            Ok(new_list(idens.into_iter().map(Val::from).collect()))
        }
        "delMergeRequest" | "setMergeRequest" | "setMergeComment" => {
            let comment = match name {
                "setMergeComment" => Some(r(0, "comment")?.to_str()?),
                "setMergeRequest" => opt_str(arg(args, kwargs, 0, "comment"))?,
                _ => None,
            };
            core.req_parent_quorum(&iden).map_err(cerr)?;
            if !is_admin(runt, &core, Some(&iden)) {
                let what = match name {
                    "delMergeRequest" => "Deleting",
                    "setMergeRequest" => "Creating",
                    _ => "Editing",
                };
                return Err(deny(
                    runt,
                    format!("{what} a merge request requires admin permissions on the view."),
                ));
            }
            let out = match name {
                "delMergeRequest" => core.del_merge_request(&iden).await,
                "setMergeRequest" => core.set_merge_request(&iden, &user, comment).await,
                _ => {
                    core.set_merge_comment(&iden, comment.as_deref().unwrap_or_default())
                        .await
                }
            };
            Ok(msg(out.map_err(cerr)?))
        }
        "setMergeVote" => {
            let approved = arg(args, kwargs, 0, "approved").is_none_or(|v| v.truthy());
            let comment = opt_str(arg(args, kwargs, 1, "comment"))?;
            let quorum = core.req_parent_quorum(&iden).map_err(cerr)?;
            let reqroles: Vec<String> = crate::layer::map_get(&quorum, "roles")
                .and_then(Value::as_array)
                .map(|roles| {
                    roles
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let roles = core
                .cell()
                .auth()
                .user(&user)
                .map(|u| u.roles.clone())
                .unwrap_or_default();
            if !roles.iter().any(|r| reqroles.contains(r)) {
                return Err(deny(
                    runt,
                    "You are not a member of a role with voting privileges for this merge request.",
                ));
            }
            core.req_valid_voter(&iden, &user).await.map_err(cerr)?;
            let vote = core
                .set_merge_vote(&iden, &user, approved, comment)
                .await
                .map_err(cerr)?;
            Ok(msg(vote))
        }
        "setMergeVoteComment" => {
            let comment = r(0, "comment")?.to_str()?;
            let vote = core
                .set_merge_vote_comment(&iden, &user, &comment)
                .await
                .map_err(cerr)?;
            Ok(msg(vote))
        }
        "delMergeVote" => {
            core.req_parent_quorum(&iden).map_err(cerr)?;
            let other = opt_str(arg(args, kwargs, 0, "useriden"))?;
            if other.is_some() && !is_admin(runt, &core, None) {
                return Err(deny(
                    runt,
                    "Only a global admin may delete a vote for another user.",
                ));
            }
            let who = other.unwrap_or(user);
            Ok(msg(core.del_merge_vote(&iden, &who).await.map_err(cerr)?))
        }
        "merge" => {
            let _force = arg(args, kwargs, 0, "force").is_some_and(|v| v.truthy());
            req_no_parent_quorum(runt, view)?;
            let (_, parent) = core.merge_allowed(&iden).map_err(cerr)?;
            let gate = parent.write_layer().iden();
            if !is_admin(runt, &core, Some(&gate)) {
                confirm_layer_edit_perms(runt, &view.write_layer(), &gate).await?;
            }
            core.merge_view(&iden, &user).await.map_err(cerr)?;
            Ok(Val::Null)
        }
        "detach" => {
            if !is_admin(runt, &core, Some(&iden)) {
                return Err(deny(runt, "You must be an admin of the view to detach."));
            }
            core.detach_view(&iden).await.map_err(cerr)?;
            Ok(Val::Null)
        }
        "insertParentFork" => {
            let fname = opt_str(arg(args, kwargs, 0, "name"))?;
            req_admin(runt, &core, Some(&iden), None)?;
            let Some(parent) = view.def().parent else {
                return Err(Flow::Err(StormError::new(
                    "BadState",
                    format!(
                        "View ({iden}) is not a fork, cannot insert a new fork between it and parent."
                    ),
                )));
            };
            runt.confirm(&["view", "add"], None)?;
            runt.confirm(&["view", "read"], Some((&parent, "view")))?;
            runt.confirm(&["view", "fork"], Some((&parent, "view")))?;
            let fork = core
                .insert_parent_fork(&iden, &user, fname)
                .await
                .map_err(cerr)?;
            Ok(view_val(&fork))
        }
        "insertChildFork" => {
            let fname = opt_str(arg(args, kwargs, 0, "name"))?;
            req_admin(runt, &core, Some(&iden), None)?;
            runt.confirm(&["view", "add"], None)?;
            let fork = core
                .insert_child_fork(&iden, &user, fname)
                .await
                .map_err(cerr)?;
            Ok(view_val(&fork))
        }
        "swapLayer" => {
            req_admin(runt, &core, Some(&iden), None)?;
            let layer = view.write_layer().iden();
            runt.confirm(&["layer", "del"], Some((&layer, "layer")))?;
            core.swap_write_layer(&iden).await.map_err(cerr)?;
            Ok(Val::Null)
        }
        "addNodeEdits" => {
            let edits = r(0, "edits")?.to_msgpack()?;
            let layer = view.write_layer().iden();
            runt.confirm(&["node"], Some((&layer, "layer")))?;
            let items = match &edits {
                Value::Array(items) => items.clone(),
                _ => Vec::new(),
            };
            let mut nodeedits = Vec::with_capacity(items.len());
            for item in &items {
                let edit = NodeEdit::from_value(item).map_err(|e| {
                    Flow::Err(StormError::new("BadArg", format!("Invalid nodeedit: {e}")))
                })?;
                nodeedits.push(edit);
            }
            view.apply_edits(nodeedits, EditMeta::now(user))
                .await
                .map_err(Flow::from)?;
            Ok(Val::Null)
        }
        _ => Err(Flow::Err(
            StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
        )),
    }
}

/// The reference's `reqNoParentQuorum`: `SynErr` when the view's parent has a quorum.
pub(crate) fn req_no_parent_quorum(runt: &Runt, view: &View) -> RResult<()> {
    let views = runt.shared.core.views();
    let quorum = view
        .def()
        .parent
        .and_then(|p| views.view(&p))
        .is_some_and(|p| p.def().quorum.is_some());
    if quorum {
        return Err(Flow::Err(StormError::new(
            "SynErr",
            format!("Parent view of ({}) requires quorum voting.", view.iden()),
        )));
    }
    Ok(())
}

/// The reference's `confirmLayerEditPerms`: may the user make, on the layer `gate`, the
/// edits `layer` holds? Checked as the reference does: forms and props (in the order of
/// their msgpack encoding), tag properties, node data, edge verbs, then leaf tags.
async fn confirm_layer_edit_perms(runt: &Runt, layer: &Layer, gate: &str) -> RResult<()> {
    let allowed = |perm: &[&str]| runt.allowed(perm, Some(gate));
    let confirm = |perm: &[&str]| runt.confirm(perm, Some((gate, "layer")));
    if allowed(&["node"]) {
        return Ok(());
    }
    let forms = allowed(&["node", "add"]);
    let props = allowed(&["node", "prop", "set"]);
    let tags = allowed(&["node", "tag", "add"]);
    let ndata = allowed(&["node", "data", "set"]);
    let edges = allowed(&["node", "edge", "add"]);
    if forms && props && tags && ndata && edges {
        return Ok(());
    }
    let mut pairs: BTreeMap<Vec<u8>, (String, Option<String>)> = BTreeMap::new();
    let mut tagprops = std::collections::BTreeSet::new();
    let mut datanames = std::collections::BTreeSet::new();
    let mut verbs = std::collections::BTreeSet::new();
    let mut leaves = Vec::new();
    let mut sodes = layer.sodes();
    while let Some(item) = sodes.next().await {
        let (buid, sode) = item.map_err(lerr)?;
        let Some(form) = sode.form.clone() else {
            continue;
        };
        let mut add = |prop: Option<&str>| {
            let key = crate::nodeedit::packb(&Value::Array(vec![
                Value::from(form.as_str()),
                prop.map_or(Value::Nil, Value::from),
            ]));
            pairs.insert(key, (form.clone(), prop.map(str::to_owned)));
        };
        if sode.valu.is_some() {
            add(None);
        }
        for (prop, _, _) in &sode.props {
            add(Some(prop));
        }
        for (tag, _) in &sode.tagprops {
            tagprops.insert(tag.clone());
        }
        if !ndata {
            for (name, _) in layer.data_items(buid).await.map_err(lerr)? {
                datanames.insert(name);
            }
        }
        if !edges {
            for (verb, _) in scan_edges(layer, EdgeDir::N1, buid).await? {
                verbs.insert(verb);
            }
        }
        let names: Vec<&str> = sode.tags.iter().map(|(t, _)| t.as_str()).collect();
        for name in &names {
            let pref = format!("{name}.");
            if !names.iter().any(|other| other.starts_with(&pref)) {
                leaves.push((*name).to_owned());
            }
        }
    }
    if !forms || !props {
        for (form, prop) in pairs.values() {
            match prop {
                Some(prop) if !props => {
                    let full = if prop.starts_with('.') {
                        format!("{form}{prop}")
                    } else {
                        format!("{form}:{prop}")
                    };
                    if !allowed(&["node", "prop", "set", form, prop])
                        && !allowed(&["node", "prop", "set", &full])
                    {
                        confirm(&["node", "prop", "set", form, prop])?;
                    }
                }
                None if !forms => confirm(&["node", "add", form])?,
                _ => {}
            }
        }
    }
    let tag_perm = |tag: &str| -> Vec<String> {
        ["node", "tag", "add"]
            .into_iter()
            .map(str::to_owned)
            .chain(tag.split('.').map(str::to_owned))
            .collect()
    };
    let confirm_owned = |perm: Vec<String>| {
        let perm: Vec<&str> = perm.iter().map(String::as_str).collect();
        confirm(&perm)
    };
    if !tags {
        for tag in &tagprops {
            confirm_owned(tag_perm(tag))?;
        }
    }
    if !ndata {
        for name in &datanames {
            confirm(&["node", "data", "set", name])?;
        }
    }
    if !edges {
        for verb in &verbs {
            confirm(&["node", "edge", "add", verb])?;
        }
    }
    if !tags {
        for tag in &leaves {
            confirm_owned(tag_perm(tag))?;
        }
    }
    Ok(())
}

fn lerr(e: crate::layer::Error) -> Flow {
    Flow::from(crate::view::Error::from(e))
}

/// Call one of [`LAYER_METHODS`].
pub(crate) async fn layer_method(
    runt: &Arc<Runt>,
    layer: &Layer,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    if name == "verify" {
        let conf = match arg(args, kwargs, 0, "config") {
            None | Some(Val::Null) => Value::Nil,
            Some(v) => v.to_msgpack()?,
        };
        let conf = verify_config(&conf)?;
        let errs = layer.verify(conf).await.map_err(lerr)?;
        let items: Vec<RResult<GenItem>> = errs
            .into_iter()
            .map(|(name, info)| {
                Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                    Val::from(name),
                    msg(info),
                ]))))
            })
            .collect();
        return Ok(GenVal::val(futures::stream::iter(items).boxed()));
    }
    let buid = super::typesmore::to_buid(&r(0, "nodeid")?)?;
    let user = runt.shared.user.iden.clone();
    let edits = match name {
        "setStorNodeProp" => {
            let prop = r(1, "prop")?.to_str()?;
            let valu = tostor(&r(2, "valu")?)?;
            req_layer_admin(runt, name)?;
            let (form, rel, stortype, norm) = req_prop(runt, &prop, Some(&valu))?;
            let form = univ_form(layer, buid, form).await?;
            vec![NodeEdit::new(
                buid,
                form,
                vec![EditOp::PropSet {
                    prop: rel,
                    valu: norm,
                    oldv: Value::Nil,
                    stortype,
                }],
            )]
        }
        "delStorNodeProp" => {
            let prop = r(1, "prop")?.to_str()?;
            req_layer_admin(runt, name)?;
            let (form, rel, stortype, _) = req_prop(runt, &prop, None)?;
            let form = univ_form(layer, buid, form).await?;
            vec![NodeEdit::new(
                buid,
                form,
                vec![EditOp::PropDel {
                    prop: rel,
                    oldv: Value::Nil,
                    stortype,
                }],
            )]
        }
        _ => {
            req_layer_admin(runt, name)?;
            match del_stor_node_edits(layer, buid).await? {
                Some(edits) => edits,
                None => return Ok(Val::Bool(false)),
            }
        }
    };
    let mut changed = false;
    // the reference applies large deletions in batches of 1000 nodeedits
    for chunk in edits.chunks(1000) {
        let applied = layer
            .apply(chunk.to_vec(), EditMeta::now(user.clone()))
            .await
            .map_err(lerr)?;
        changed |= applied.edits.iter().any(|e| !e.edits.is_empty());
    }
    Ok(Val::Bool(changed))
}

/// A `verify()` config as the reference reads it: `scanall` (default true) runs the scans
/// `scans` does not name; each scan of `scans` (`nodes`, `tagindex`, `propindex`,
/// `tagpropindex`) is a dict (with `include` and `autofix`) or null to skip it.
fn verify_config(conf: &Value) -> RResult<crate::layer::VerifyConfig> {
    use crate::layer::map_get;
    let bad = |mesg: String| Flow::Err(StormError::new("BadArg", mesg));
    let scanall = map_get(conf, "scanall").is_none_or(|v| v.as_bool() != Some(false));
    let scans = map_get(conf, "scans").cloned().unwrap_or(Value::Nil);
    let scan = |key: &str| -> Option<Value> {
        match map_get(&scans, key) {
            Some(v) if v.is_nil() => None,
            Some(v) => Some(v.clone()),
            None => scanall.then(|| Value::Map(Vec::new())),
        }
    };
    let strs = |v: Option<&Value>| -> Option<Vec<String>> {
        v.and_then(Value::as_array).map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
    };
    let autofix = |scan: &Value, what: &str, allowed: &[&str]| -> RResult<()> {
        match map_get(scan, "autofix") {
            None => Ok(()),
            Some(v) if v.is_nil() => Ok(()),
            Some(v) => {
                let text = v.as_str().unwrap_or_default().to_owned();
                if allowed.contains(&text.as_str()) {
                    // index repairs are not made by this implementation
                    return Err(bad(format!(
                        "{what} index autofix strategy \"{text}\" is not supported"
                    )));
                }
                Err(bad(format!(
                    "invalid {what} index autofix strategy \"{text}\""
                )))
            }
        }
    };
    let mut out = crate::layer::VerifyConfig {
        nodes: scan("nodes").is_some(),
        ..Default::default()
    };
    if let Some(tags) = scan("tagindex") {
        autofix(&tags, "tag", &["node", "index"])?;
        out.tags = Some(strs(map_get(&tags, "include")).filter(|g| !g.is_empty()));
    }
    if let Some(props) = scan("propindex") {
        autofix(&props, "prop", &["index"])?;
        let include = map_get(&props, "include")
            .and_then(Value::as_array)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|p| {
                        let p = p.as_array()?;
                        let text = |i: usize| p.get(i).and_then(Value::as_str).map(str::to_owned);
                        Some((text(0), text(1)))
                    })
                    .collect()
            });
        out.props = Some(include);
    }
    if let Some(tagprops) = scan("tagpropindex") {
        autofix(&tagprops, "tagprop", &["index"])?;
        out.tagprops = Some(strs(map_get(&tagprops, "include")));
    }
    Ok(out)
}

/// The reference's `reqAdmin(mesg='<name>() requires admin privileges.')`.
fn req_layer_admin(runt: &Runt, name: &str) -> RResult<()> {
    if runt.asroot || runt.shared.user.admin {
        return Ok(());
    }
    Err(deny(runt, format!("{name}() requires admin privileges.")))
}

/// A property by full name: its form, its name relative to the form, its storage type and,
/// given a value, the value normalized.
fn req_prop(
    runt: &Runt,
    full: &str,
    valu: Option<&Value>,
) -> RResult<(String, String, i64, Value)> {
    let model = runt.model();
    let Some(prop) = model.prop(full) else {
        return Err(Flow::Err(
            StormError::new("NoSuchProp", format!("No property named {full}.")).with("name", full),
        ));
    };
    let form = prop.form().map(|f| f.name().to_owned()).unwrap_or_default();
    let rel = prop.name().to_owned();
    let norm = match valu {
        Some(v) => prop.ty().norm(v)?.0,
        None => Value::Nil,
    };
    Ok((form, rel, prop.stortype(), norm))
}

/// The form of the node for a universal property (no form of its own): the form the layer
/// stores for the node (the reference fails with an `AttributeError` there).
async fn univ_form(layer: &Layer, buid: Buid, form: String) -> RResult<String> {
    if !form.is_empty() {
        return Ok(form);
    }
    match layer
        .get_sode(buid)
        .await
        .map_err(lerr)?
        .and_then(|s| s.form)
    {
        Some(form) => Ok(form),
        None => {
            let iden = hex::encode(buid);
            Err(Flow::Err(
                StormError::new("NoSuchIden", format!("No node found for buid {iden}."))
                    .with("buid", iden.as_str()),
            ))
        }
    }
}

/// Everything the layer holds of a node, as deletions: its props, tag props, tags and value
/// (or, without a value, its node data and outgoing edges), then the edges pointing to it.
async fn del_stor_node_edits(layer: &Layer, buid: Buid) -> RResult<Option<Vec<NodeEdit>>> {
    let Some(sode) = layer.get_sode(buid).await.map_err(lerr)? else {
        return Ok(None);
    };
    let form = sode.form.clone().unwrap_or_default();
    let mut ops = Vec::new();
    for (prop, valu, stortype) in &sode.props {
        ops.push(EditOp::PropDel {
            prop: prop.clone(),
            oldv: valu.clone(),
            stortype: *stortype,
        });
    }
    for (tag, props) in &sode.tagprops {
        for (prop, valu, stortype) in props {
            ops.push(EditOp::TagPropDel {
                tag: tag.clone(),
                prop: prop.clone(),
                oldv: valu.clone(),
                stortype: *stortype,
            });
        }
    }
    for (tag, ival) in &sode.tags {
        ops.push(EditOp::TagDel {
            tag: tag.clone(),
            oldv: Some(*ival),
        });
    }
    match &sode.valu {
        Some((valu, stortype)) => ops.push(EditOp::NodeDel {
            valu: valu.clone(),
            stortype: *stortype,
        }),
        None => {
            for (name, valu) in layer.data_items(buid).await.map_err(lerr)? {
                ops.push(EditOp::NodeDataDel { name, oldv: valu });
            }
            for (verb, n2) in scan_edges(layer, EdgeDir::N1, buid).await? {
                ops.push(EditOp::EdgeDel { verb, n2 });
            }
        }
    }
    let mut edits = vec![NodeEdit::new(buid, form, ops)];
    let mut by_n1: BTreeMap<Buid, Vec<EditOp>> = BTreeMap::new();
    for (verb, n1) in scan_edges(layer, EdgeDir::N2, buid).await? {
        by_n1
            .entry(n1)
            .or_default()
            .push(EditOp::EdgeDel { verb, n2: buid });
    }
    for (n1, ops) in by_n1 {
        let form = layer
            .get_sode(n1)
            .await
            .map_err(lerr)?
            .and_then(|s| s.form)
            .unwrap_or_default();
        edits.push(NodeEdit::new(n1, form, ops));
    }
    Ok(Some(edits))
}

async fn scan_edges(layer: &Layer, dir: EdgeDir, buid: Buid) -> RResult<Vec<(String, Buid)>> {
    let mut out = Vec::new();
    let mut resume = None;
    loop {
        let (rows, next, done) = layer
            .scan_edges(dir, buid, None, resume, 1000)
            .await
            .map_err(lerr)?;
        out.extend(rows);
        if done {
            return Ok(out);
        }
        resume = next;
    }
}
