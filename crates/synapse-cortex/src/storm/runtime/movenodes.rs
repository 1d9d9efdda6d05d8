//! `movenodes`: move the storage nodes of inbound nodes between the layers of the view (or
//! print what would move, without `--apply`).

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::ItemStream;
use super::runt::{Item, Runt};
use super::value::Val;
use crate::layer::{Layer, Sode};
use crate::nodeedit::{Buid, EditMeta, EditOp, NodeEdit, stortype};

fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

fn badoperarg(mesg: String, key: &str, valu: Value) -> Flow {
    Flow::Err(StormError::new("BadOperArg", mesg).with(key, valu))
}

fn layer_err(err: crate::layer::Error) -> Flow {
    Flow::from(crate::view::Error::from(err))
}

/// A list option (`nargs='*'`), `None` when absent or empty.
fn idens(valu: &Val) -> RResult<Option<Vec<String>>> {
    let items = match valu {
        Val::Null => return Ok(None),
        other => other.seq_items().unwrap_or_else(|| vec![other.clone()]),
    };
    if items.is_empty() {
        return Ok(None);
    }
    items
        .iter()
        .map(Val::to_str)
        .collect::<RResult<_>>()
        .map(Some)
}

/// Where nodes move: the layers taking part (in precedence order) and the destination.
struct Plan {
    layers: Vec<Layer>,
    dest: String,
    apply: bool,
}

fn plan(runt: &Runt, opts: &Opts) -> RResult<Plan> {
    let viewlayers = runt.view.layers();
    if viewlayers.len() < 2 {
        return Err(rterr(
            "You may only move nodes in views with multiple layers.",
        ));
    }
    let inview = |iden: &str| viewlayers.iter().any(|l| l.iden() == iden);
    let srcs = match idens(opt(opts, "srclayers"))? {
        Some(srcs) => {
            for iden in &srcs {
                if !inview(iden) {
                    return Err(badoperarg(
                        format!("No layer with iden {iden} in this view, cannot move nodes."),
                        "layr",
                        Value::from(iden.as_str()),
                    ));
                }
            }
            srcs
        }
        None => viewlayers[1..].iter().map(Layer::iden).collect(),
    };
    let dest = match opt(opts, "destlayer") {
        Val::Null => viewlayers[0].iden(),
        v => {
            let iden = v.to_str()?;
            if !inview(&iden) {
                return Err(badoperarg(
                    format!("No layer with iden {iden} in this view, cannot move nodes."),
                    "layr",
                    Value::from(iden.as_str()),
                ));
            }
            iden
        }
    };
    if srcs.contains(&dest) {
        return Err(rterr(format!(
            "Source layer {dest} cannot also be the destination layer."
        )));
    }
    let order: Vec<String> = match idens(opt(opts, "precedence"))? {
        Some(prec) => {
            let mut left: Vec<String> = srcs.iter().cloned().chain([dest.clone()]).collect();
            for iden in &prec {
                if !inview(iden) {
                    return Err(badoperarg(
                        format!(
                            "No layer with iden {iden} in this view, cannot be used to specify precedence."
                        ),
                        "layr",
                        Value::from(iden.as_str()),
                    ));
                }
                let Some(pos) = left.iter().position(|l| l == iden) else {
                    return Err(Flow::Err(
                        StormError::new(
                            "StormRuntimeError",
                            format!(
                                "Layer {iden} in precedence is not in the set of source/destination layers."
                            ),
                        )
                        .with("layr", iden.as_str()),
                    ));
                };
                left.remove(pos);
            }
            if !left.is_empty() {
                let missing: Vec<String> = left
                    .iter()
                    .map(|l| crate::model::value::py_repr_str(l))
                    .collect();
                return Err(badoperarg(
                    format!(
                        "All source layers and the destination layer must be included when specifying precedence (missing [{}]).",
                        missing.join(", ")
                    ),
                    "layrlist",
                    Value::Array(left.iter().map(|l| Value::from(l.as_str())).collect()),
                ));
            }
            prec
        }
        None => viewlayers.iter().map(Layer::iden).collect(),
    };
    let mut layers = Vec::new();
    for iden in order {
        if (iden == dest || srcs.contains(&iden))
            && !layers.iter().any(|l: &Layer| l.iden() == iden)
            && let Some(layer) = viewlayers.iter().find(|l| l.iden() == iden)
        {
            layers.push(layer.clone());
        }
    }
    Ok(Plan {
        layers,
        dest,
        apply: opt(opts, "apply").truthy(),
    })
}

pub(crate) fn run(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let (true, Some(opts)) = (runtsafe, idle) else {
            Err(rterr("movenodes arguments must be runtsafe."))?;
            return;
        };
        let plan = plan(&runt, &opts)?;
        while let Some(x) = input.next().await {
            let (item, _) = x?;
            let moved = Box::pin(move_node(&runt, &plan, item)).await?;
            if let Some(item) = moved {
                yield item;
            }
        }
    }
    .boxed()
}

/// The edits of one node: what the destination gets and what each source loses.
struct Moves {
    adds: Vec<EditOp>,
    subs: Vec<(String, Vec<EditOp>)>,
}

impl Moves {
    fn sub(&mut self, layer: &str, op: EditOp) {
        match self.subs.iter_mut().find(|(l, _)| l == layer) {
            Some((_, ops)) => ops.push(op),
            None => self.subs.push((layer.to_owned(), vec![op])),
        }
    }
}

struct LayerState {
    layer: Layer,
    iden: String,
    sode: Sode,
    data: Vec<(String, Value)>,
    edges: Vec<(String, Buid)>,
}

async fn layer_edges(layer: &Layer, buid: Buid) -> RResult<Vec<(String, Buid)>> {
    let mut out = Vec::new();
    let mut resume = None;
    loop {
        let (batch, next, done) = layer
            .scan_edges(crate::layer::EdgeDir::N1, buid, None, resume, 4096)
            .await
            .map_err(layer_err)?;
        out.extend(batch);
        if done {
            return Ok(out);
        }
        resume = next;
    }
}

fn is_ival(stortype: i64) -> bool {
    matches!(
        stortype,
        stortype::IVAL | stortype::MINTIME | stortype::MAXTIME
    )
}

async fn move_node(runt: &Arc<Runt>, plan: &Plan, item: Item) -> RResult<Option<Item>> {
    let node = Arc::clone(&item.node);
    let buid = node.buid;
    let iden = node.iden();
    let form = node.form.clone();
    let model = Arc::clone(runt.view.model());
    let dest = plan.dest.as_str();
    let mut states = Vec::new();
    for layer in &plan.layers {
        states.push(LayerState {
            iden: layer.iden(),
            sode: layer
                .get_sode(buid)
                .await
                .map_err(layer_err)?
                .unwrap_or_default(),
            data: layer.data_items(buid).await.map_err(layer_err)?,
            edges: layer_edges(layer, buid).await?,
            layer: layer.clone(),
        });
    }
    if plan.apply {
        check_perms(runt, plan, &form, &states)?;
    }
    let mut lines: Vec<String> = Vec::new();
    let mut moves = Moves {
        adds: Vec::new(),
        subs: Vec::new(),
    };
    let mut delnodes = Vec::new();
    let fobj = model.form(&form);
    let prop_repr = |name: &str, valu: &Value| {
        let ty = fobj.and_then(|f| f.prop(name)).map(|p| p.ty());
        match ty.and_then(|t| t.repr(valu).ok()) {
            Some(v) => super::value::repr_text(&v),
            None => super::value::repr_text(valu),
        }
    };
    // the primary value
    for st in states.iter().filter(|s| s.iden != dest) {
        if let Some((valu, stype)) = &st.sode.valu {
            if plan.apply {
                moves.adds.push(EditOp::NodeAdd {
                    valu: valu.clone(),
                    stortype: *stype,
                });
                delnodes.push((st.layer.clone(), valu.clone(), *stype));
            } else {
                let repr = match fobj.and_then(|f| f.ty().repr(valu).ok()) {
                    Some(v) => super::value::repr_text(&v),
                    None => super::value::repr_text(valu),
                };
                lines.push(format!("{dest} add {iden} {form} = {repr}"));
                lines.push(format!("{} delete {iden} {form} = {repr}", st.iden));
            }
        }
    }
    // props: the first layer in precedence wins, intervals and min/max times merge
    let mut seen: HashSet<String> = HashSet::new();
    for st in &states {
        for (name, valu, stype) in &st.sode.props {
            if st.iden != dest && (is_ival(*stype) || !seen.contains(name)) {
                if plan.apply {
                    moves.adds.push(EditOp::PropSet {
                        prop: name.clone(),
                        valu: valu.clone(),
                        oldv: Value::Nil,
                        stortype: *stype,
                    });
                } else {
                    lines.push(format!(
                        "{dest} set {iden} {form}:{name} = {}",
                        prop_repr(name, valu)
                    ));
                }
            }
            seen.insert(name.clone());
            if st.iden != dest {
                if plan.apply {
                    moves.sub(
                        &st.iden,
                        EditOp::PropDel {
                            prop: name.clone(),
                            oldv: Value::Nil,
                            stortype: *stype,
                        },
                    );
                } else {
                    lines.push(format!(
                        "{} delete {iden} {form}:{name} = {}",
                        st.iden,
                        prop_repr(name, valu)
                    ));
                }
            }
        }
    }
    // tags
    for st in states.iter().filter(|s| s.iden != dest) {
        for (tag, ival) in &st.sode.tags {
            if plan.apply {
                moves.adds.push(EditOp::TagSet {
                    tag: tag.clone(),
                    valu: *ival,
                    oldv: None,
                });
                moves.sub(
                    &st.iden,
                    EditOp::TagDel {
                        tag: tag.clone(),
                        oldv: None,
                    },
                );
            } else {
                let repr = match ival {
                    (None, None) => String::new(),
                    ival => format!(" = {}", super::morecmds::ival_repr(runt, *ival)),
                };
                lines.push(format!("{dest} set {iden} {form}#{tag}{repr}"));
                lines.push(format!("{} delete {iden} {form}#{tag}{repr}", st.iden));
            }
        }
    }
    // tag props
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for st in &states {
        for (tag, props) in &st.sode.tagprops {
            for (prop, valu, stype) in props {
                let key = (tag.clone(), prop.clone());
                let repr = Val::from_msgpack(valu).py_repr();
                if st.iden != dest && (is_ival(*stype) || !seen.contains(&key)) {
                    if plan.apply {
                        moves.adds.push(EditOp::TagPropSet {
                            tag: tag.clone(),
                            prop: prop.clone(),
                            valu: valu.clone(),
                            oldv: Value::Nil,
                            stortype: *stype,
                        });
                    } else {
                        lines.push(format!("{dest} set {iden} {form}#{tag}:{prop} = {repr}"));
                    }
                }
                seen.insert(key);
                if st.iden != dest {
                    if plan.apply {
                        moves.sub(
                            &st.iden,
                            EditOp::TagPropDel {
                                tag: tag.clone(),
                                prop: prop.clone(),
                                oldv: Value::Nil,
                                stortype: *stype,
                            },
                        );
                    } else {
                        lines.push(format!(
                            "{} delete {iden} {form}#{tag}:{prop} = {repr}",
                            st.iden
                        ));
                    }
                }
            }
        }
    }
    // node data
    let mut seen: HashSet<String> = HashSet::new();
    for st in &states {
        for (name, valu) in &st.data {
            if !seen.contains(name) && st.iden != dest {
                if plan.apply {
                    moves.adds.push(EditOp::NodeDataSet {
                        name: name.clone(),
                        valu: valu.clone(),
                        oldv: Value::Nil,
                    });
                } else {
                    lines.push(format!("{dest} set {iden} {form} DATA {name}"));
                }
            }
            seen.insert(name.clone());
            if st.iden != dest {
                if plan.apply {
                    moves.sub(
                        &st.iden,
                        EditOp::NodeDataDel {
                            name: name.clone(),
                            oldv: Value::Nil,
                        },
                    );
                } else {
                    lines.push(format!("{} delete {iden} {form} DATA {name}", st.iden));
                }
            }
        }
    }
    // edges
    for st in states.iter().filter(|s| s.iden != dest) {
        for (verb, n2) in &st.edges {
            if plan.apply {
                moves.adds.push(EditOp::EdgeAdd {
                    verb: verb.clone(),
                    n2: *n2,
                });
                moves.sub(
                    &st.iden,
                    EditOp::EdgeDel {
                        verb: verb.clone(),
                        n2: *n2,
                    },
                );
            } else {
                let n2 = hex::encode(n2);
                lines.push(format!("{dest} add {iden} {form} +({verb})> {n2}"));
                lines.push(format!("{} delete {iden} {form} +({verb})> {n2}", st.iden));
            }
        }
    }
    for line in &lines {
        runt.shared.print(line).await;
    }
    if plan.apply {
        let meta = EditMeta::now(runt.shared.user.iden.clone());
        // pending edits of the query go first: the layers are edited directly
        super::edit::flush(runt).await?;
        if !moves.adds.is_empty()
            && let Some(st) = states.iter().find(|s| s.iden == dest)
        {
            let edits = vec![NodeEdit::new(buid, form.clone(), moves.adds)];
            st.layer
                .apply(edits, meta.clone())
                .await
                .map_err(layer_err)?;
        }
        for (layer, ops) in moves.subs {
            if let Some(st) = states.iter().find(|s| s.iden == layer) {
                let edits = vec![NodeEdit::new(buid, form.clone(), ops)];
                st.layer
                    .apply(edits, meta.clone())
                    .await
                    .map_err(layer_err)?;
            }
        }
        for (layer, valu, stype) in delnodes {
            let edits = vec![NodeEdit::new(
                buid,
                form.clone(),
                vec![EditOp::NodeDel {
                    valu,
                    stortype: stype,
                }],
            )];
            layer.apply(edits, meta.clone()).await.map_err(layer_err)?;
        }
        runt.shared.editor.lock().await.reset();
    }
    let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? else {
        return Ok(None);
    };
    Ok(Some(Item {
        node: Arc::new(node),
        path: item.path,
    }))
}

/// The permissions of moving a node's storage nodes off each source layer.
fn check_perms(runt: &Runt, plan: &Plan, form: &str, states: &[LayerState]) -> RResult<()> {
    let dest = Some((plan.dest.as_str(), "layer"));
    for st in states.iter().filter(|s| s.iden != plan.dest) {
        let src = Some((st.iden.as_str(), "layer"));
        if st.sode.valu.is_some() {
            runt.confirm(&["node", "del", form], src)?;
            runt.confirm(&["node", "add", form], dest)?;
        }
        for (name, _, _) in &st.sode.props {
            let full = if name.starts_with('.') {
                format!("{form}{name}")
            } else {
                format!("{form}:{name}")
            };
            runt.confirm(&["node", "prop", "del", &full], src)?;
            runt.confirm(&["node", "prop", "set", &full], dest)?;
        }
        let tags = st.sode.tags.iter().map(|(t, _)| t).chain(
            st.sode
                .tagprops
                .iter()
                .flat_map(|(t, p)| p.iter().map(move |_| t)),
        );
        for tag in tags {
            let mut perm = vec!["node", "tag", "del"];
            perm.extend(tag.split('.'));
            runt.confirm(&perm, src)?;
            perm[2] = "add";
            runt.confirm(&perm, dest)?;
        }
        for (name, _) in &st.data {
            runt.confirm(&["node", "data", "pop", name], src)?;
            runt.confirm(&["node", "data", "set", name], dest)?;
        }
        for (verb, _) in &st.edges {
            runt.confirm(&["node", "edge", "del", verb], src)?;
            runt.confirm(&["node", "edge", "add", verb], dest)?;
        }
    }
    Ok(())
}
