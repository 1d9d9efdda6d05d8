//! The CoreApi methods over raw layer rows and edit logs: `iterFormRows`, `iterPropRows`,
//! `iterUnivRows`, `iterTagRows`, `iterTagPropRows` (generators of `(buid, valu)` rows of one
//! layer's index), `syncLayersEvents` (the edit logs of every layer, merged, with layer
//! add/del events) and `syncIndexEvents` (the same, filtered to matching edits).
//!
//! The row methods need `layer.lift.<iden>` or `layer.read.<iden>`, the sync methods `sync`,
//! checked before the layer is looked up, as the reference.
//!
//! Offsets are each layer's own edit log offsets (the reference's are nexus offsets, shared by
//! every layer): an `offsdict` of `{layer iden: offset}` resumes each layer where it stopped,
//! as with the reference.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, Peekable, SelectAll, StreamExt};
use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, Error, MethDef, Reply, Result, Session, User};

use crate::cortex::{Cortex, view_error};
use crate::layer::{Layer, RowsBy, RowsStart};
use crate::nodeedit::{Buid, BuidForm, NodeEdit};

use super::genr;

/// The methods of this module.
pub(crate) const METHODS: &[MethDef] = &[
    MethDef::genr("iterFormRows"),
    MethDef::genr("iterPropRows"),
    MethDef::genr("iterTagPropRows"),
    MethDef::genr("iterTagRows"),
    MethDef::genr("iterUnivRows"),
    MethDef::genr("syncIndexEvents"),
    MethDef::genr("syncLayersEvents"),
];

/// `SYNC_NODEEDITS`: an item is a whole logged batch.
const SYNC_NODEEDITS: i64 = 0;
/// `SYNC_NODEEDIT`: an item is one matching edit (`syncIndexEvents`).
const SYNC_NODEEDIT: i64 = 1;
/// `SYNC_LAYR_ADD`: a layer was added.
const SYNC_LAYR_ADD: i64 = 3;
/// `SYNC_LAYR_DEL`: a layer was deleted.
const SYNC_LAYR_DEL: i64 = 4;
/// `EDIT_PROGRESS`: a marker `syncIndexEvents` sends every 1000 batches.
const EDIT_PROGRESS: i64 = 100;

/// How often a live sync looks for added and deleted layers.
const LAYER_POLL: Duration = Duration::from_millis(250);

/// Whether `meth` is one of them.
pub(crate) fn is_rows_meth(meth: &str) -> bool {
    METHODS.iter().any(|m| m.name == meth)
}

/// Run one of the methods.
pub(crate) async fn call(
    core: Arc<Cortex>,
    sess: &Session,
    meth: &str,
    args: Args,
) -> Result<Reply> {
    match meth {
        "syncLayersEvents" | "syncIndexEvents" => sync_events(core, sess, meth, args),
        _ => iter_rows(core, sess, meth, args),
    }
}

fn iter_rows(core: Arc<Cortex>, sess: &Session, meth: &str, args: Args) -> Result<Reply> {
    let params: &[(&str, D)] = match meth {
        "iterFormRows" => &[
            ("layriden", D::Required),
            ("form", D::Required),
            ("stortype", D::Nil),
            ("startvalu", D::Nil),
        ],
        "iterPropRows" => &[
            ("layriden", D::Required),
            ("form", D::Required),
            ("prop", D::Required),
            ("stortype", D::Nil),
            ("startvalu", D::Nil),
        ],
        "iterUnivRows" => &[
            ("layriden", D::Required),
            ("prop", D::Required),
            ("stortype", D::Nil),
            ("startvalu", D::Nil),
        ],
        "iterTagRows" => &[
            ("layriden", D::Required),
            ("tag", D::Required),
            ("form", D::Nil),
            ("starttupl", D::Nil),
        ],
        _ => &[
            ("layriden", D::Required),
            ("tag", D::Required),
            ("prop", D::Required),
            ("form", D::Nil),
            ("stortype", D::Nil),
            ("startvalu", D::Nil),
        ],
    };
    let mut bound = args.bind(meth, params)?;
    let user = sess.user();
    let meth = meth.to_owned();
    let iden = bound.value(0).as_str().unwrap_or_default().to_owned();
    let layriden = bound.take(0);
    let parsed = (|| -> Result<(RowsBy, Option<i64>, RowsStart)> {
        let stortype = |idx: usize| bound.opt_int(idx, "stortype");
        let start = |idx: usize| match bound.value(idx) {
            Value::Nil => RowsStart::First,
            valu => RowsStart::Valu(valu.clone()),
        };
        Ok(match meth.as_str() {
            "iterFormRows" => (RowsBy::Form(bound.str(1, "form")?), stortype(2)?, start(3)),
            "iterPropRows" => (
                RowsBy::Prop(bound.str(1, "form")?, bound.str(2, "prop")?),
                stortype(3)?,
                start(4),
            ),
            "iterUnivRows" => (RowsBy::Univ(bound.str(1, "prop")?), stortype(2)?, start(3)),
            "iterTagRows" => {
                let by = RowsBy::Tag {
                    tag: bound.str(1, "tag")?,
                    form: bound.opt_str(2, "form")?,
                };
                (by, None, start_tupl(bound.value(3))?)
            }
            _ => {
                let by = RowsBy::TagProp {
                    tag: bound.str(1, "tag")?,
                    prop: bound.str(2, "prop")?,
                    form: bound.opt_str(3, "form")?,
                };
                (by, stortype(4)?, start(5))
            }
        })
    })();
    Ok(genr(async move {
        let user = user?;
        if !core.allowed(&user, &["layer", "lift", &iden], None) {
            core.confirm(&user, &["layer", "read", &iden], None)?;
        }
        let layer = core.views().layer(&iden).ok_or_else(|| {
            Error::named(
                "NoSuchLayer",
                format!("No such layer {}", py_str(&layriden)),
            )
            .with("iden", layriden.clone())
        })?;
        let (by, stortype, start) = parsed?;
        Ok(layer
            .iter_rows(by, stortype, start)
            .map(|row| {
                row.map(|(buid, valu)| Value::Array(vec![Value::Binary(buid.to_vec()), valu]))
                    .map_err(|err| view_error(err.into()))
            })
            .boxed())
    }))
}

/// The `starttupl` of `iterTagRows`: `(buid, form)` or nothing.
fn start_tupl(valu: &Value) -> Result<RowsStart> {
    match valu {
        Value::Nil => Ok(RowsStart::First),
        Value::Array(items) if items.is_empty() => Ok(RowsStart::First),
        Value::Array(items) => match items.as_slice() {
            [Value::Binary(buid), Value::String(form)] => {
                let buid = Buid::try_from(buid.as_slice())
                    .map_err(|_| Error::bad_arg("starttupl buid must be 32 bytes"))?;
                Ok(RowsStart::Node(
                    buid,
                    form.as_str().unwrap_or_default().to_owned(),
                ))
            }
            _ => Err(Error::bad_arg("starttupl must be (buid, form)")),
        },
        _ => Err(Error::bad_arg("starttupl must be (buid, form)")),
    }
}

/// A value as Python's `str()` would put it in a message (strings bare).
fn py_str(valu: &Value) -> String {
    match valu {
        Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
        Value::Nil => "None".to_owned(),
        other => other.to_string(),
    }
}

/// The edit filter of `syncIndexEvents`.
#[derive(Debug, Default)]
struct MatchDef {
    forms: Vec<String>,
    props: Vec<String>,
    tags: Vec<String>,
    tagprops: Vec<String>,
}

impl MatchDef {
    fn from_value(valu: &Value) -> Result<MatchDef> {
        let Value::Map(items) = valu else {
            return Err(Error::bad_arg("matchdef must be a dict"));
        };
        let mut def = MatchDef::default();
        for (key, val) in items {
            let names: Vec<String> = match val {
                Value::Array(names) => names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            match key.as_str() {
                Some("forms") => def.forms = names,
                Some("props") => def.props = names,
                Some("tags") => def.tags = names,
                Some("tagprops") => def.tagprops = names,
                _ => {}
            }
        }
        Ok(def)
    }

    fn has(names: &[String], name: &str) -> bool {
        names.iter().any(|n| n == name)
    }

    /// Whether an edit `(etyp, vals)` of a node of `form` matches.
    fn matches(&self, form: &str, etyp: i64, vals: &[Value]) -> bool {
        let arg = |idx: usize| vals.get(idx).and_then(Value::as_str).unwrap_or_default();
        match etyp {
            0 | 1 => Self::has(&self.forms, form),
            2 | 3 => {
                Self::has(&self.props, arg(0))
                    || Self::has(&self.props, &format!("{form}:{}", arg(0)))
            }
            4 | 5 => Self::has(&self.tags, arg(0)),
            6 | 7 => {
                Self::has(&self.tagprops, arg(1))
                    || Self::has(&self.tagprops, &format!("{}:{}", arg(0), arg(1)))
            }
            _ => false,
        }
    }
}

/// One event of `syncLayersEvents`: `(offs, layriden, styp, nodeedits, meta)`.
#[derive(Debug, Clone)]
struct Event {
    offs: u64,
    layr: String,
    styp: i64,
    edits: Value,
    meta: Value,
}

impl Event {
    fn layer(offs: u64, layr: String, styp: i64) -> Event {
        Event {
            offs,
            layr,
            styp,
            edits: Value::Array(Vec::new()),
            meta: Value::Map(Vec::new()),
        }
    }

    fn into_value(self) -> Value {
        Value::Array(vec![
            Value::from(self.offs),
            Value::from(self.layr),
            Value::from(self.styp),
            self.edits,
            self.meta,
        ])
    }
}

type EntryStream = BoxStream<'static, (String, std::result::Result<Event, Error>)>;

/// A layer's logged batches from `offs` as events.
fn layer_events(layer: &Layer, offs: u64, wait: bool) -> EntryStream {
    let iden = layer.iden();
    layer
        .sync_edits(offs, wait)
        .map(move |entry| {
            let item = entry
                .map(|entry| Event {
                    offs: entry.offset,
                    layr: iden.clone(),
                    styp: SYNC_NODEEDITS,
                    edits: NodeEdit::list_to_value(&entry.edits, BuidForm::Bytes),
                    meta: entry.meta.to_value(),
                })
                .map_err(|err| view_error(err.into()));
            (iden.clone(), item)
        })
        .boxed()
}

fn offsdict(valu: &Value) -> Result<HashMap<String, u64>> {
    match valu {
        Value::Nil => Ok(HashMap::new()),
        Value::Map(items) => Ok(items
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_u64().unwrap_or(0))))
            .collect()),
        _ => Err(Error::bad_arg("offsdict must be a dict")),
    }
}

/// Every layer's logged batches, merged in offset order, then (with `wait`) live batches and
/// layer add/del events.
fn layers_events(
    core: Arc<Cortex>,
    mut offs: HashMap<String, u64>,
    wait: bool,
) -> BoxStream<'static, Result<Event>> {
    async_stream::try_stream! {
        // Catch up: each layer's log up to its current end, merged by offset.
        let layers: BTreeMap<String, Layer> =
            core.views().layers().into_iter().map(|l| (l.iden(), l)).collect();
        let mut heads: Vec<Pin<Box<Peekable<EntryStream>>>> = layers
            .values()
            .map(|layer| {
                let start = offs.get(&layer.iden()).copied().unwrap_or(0);
                Box::pin(layer_events(layer, start, false).peekable())
            })
            .collect();
        loop {
            let mut best: Option<(usize, u64)> = None;
            for (idx, head) in heads.iter_mut().enumerate() {
                let offs = match head.as_mut().peek().await {
                    Some((_, Ok(event))) => event.offs,
                    Some((_, Err(_))) => 0,
                    None => continue,
                };
                if best.is_none_or(|(_, min)| offs < min) {
                    best = Some((idx, offs));
                }
            }
            let Some((idx, _)) = best else { break };
            let Some((iden, item)) = heads[idx].next().await else { break };
            let event = item?;
            offs.insert(iden, event.offs + 1);
            yield event;
        }
        if !wait {
            return;
        }
        // Live: every known layer from where it stopped; new layers from their start.
        let mut known: BTreeMap<String, Layer> = layers;
        let mut live: SelectAll<EntryStream> = SelectAll::new();
        for layer in known.values() {
            let start = offs.get(&layer.iden()).copied().unwrap_or(0);
            live.push(layer_events(layer, start, true));
        }
        let mut poll = tokio::time::interval(LAYER_POLL);
        loop {
            let next = tokio::select! {
                Some(item) = live.next(), if !live.is_empty() => Some(item),
                _ = poll.tick() => None,
            };
            if let Some((iden, item)) = next {
                if !known.contains_key(&iden) {
                    continue;
                }
                let event = item?;
                offs.insert(iden, event.offs + 1);
                yield event;
                continue;
            }
            let now: BTreeMap<String, Layer> =
                core.views().layers().into_iter().map(|l| (l.iden(), l)).collect();
            let gone: Vec<String> =
                known.keys().filter(|k| !now.contains_key(*k)).cloned().collect();
            for iden in gone {
                known.remove(&iden);
                let last = offs.remove(&iden).unwrap_or(0);
                yield Event::layer(last, iden, SYNC_LAYR_DEL);
            }
            let added: Vec<Layer> =
                now.values().filter(|l| !known.contains_key(&l.iden())).cloned().collect();
            for layer in added {
                let iden = layer.iden();
                offs.insert(iden.clone(), 0);
                yield Event::layer(0, iden.clone(), SYNC_LAYR_ADD);
                live.push(layer_events(&layer, 0, true));
                known.insert(iden, layer);
            }
            // Streams of deleted layers never end by themselves: rebuild without them.
            if live.len() > known.len() {
                let mut fresh = SelectAll::new();
                for layer in known.values() {
                    let start = offs.get(&layer.iden()).copied().unwrap_or(0);
                    fresh.push(layer_events(layer, start, true));
                }
                live = fresh;
            }
        }
    }
    .boxed()
}

fn sync_events(core: Arc<Cortex>, sess: &Session, meth: &str, args: Args) -> Result<Reply> {
    let index = meth == "syncIndexEvents";
    let bound = if index {
        args.bind(
            meth,
            &[
                ("matchdef", D::Required),
                ("offsdict", D::Nil),
                ("wait", D::Bool(true)),
            ],
        )?
    } else {
        args.bind(meth, &[("offsdict", D::Nil), ("wait", D::Bool(true))])?
    };
    let base = usize::from(index);
    let user: Result<User> = sess.user();
    let matchdef = if index {
        Some(MatchDef::from_value(bound.value(0)))
    } else {
        None
    };
    let offs = offsdict(bound.value(base));
    let wait = bound.truthy(base + 1);
    Ok(genr(async move {
        let user = user?;
        core.confirm(&user, &["sync"], None)?;
        let offs = offs?;
        let events = layers_events(core, offs, wait);
        let Some(matchdef) = matchdef else {
            return Ok(events.map(|ev| ev.map(Event::into_value)).boxed());
        };
        let matchdef = matchdef?;
        Ok(index_events(events, matchdef))
    }))
}

/// `syncIndexEvents`: one `(offs, layriden, SYNC_NODEEDIT, (buid, form, etyp, vals, meta))`
/// per matching edit, a progress marker every 1000 batches, layer events as
/// `(offs, layriden, styp, ())`.
fn index_events(
    events: BoxStream<'static, Result<Event>>,
    matchdef: MatchDef,
) -> BoxStream<'static, Result<Value>> {
    async_stream::try_stream! {
        let mut count: u64 = 0;
        for await event in events {
            let event = event?;
            let head = |styp: i64, item: Value| {
                Value::Array(vec![
                    Value::from(event.offs),
                    Value::from(event.layr.clone()),
                    Value::from(styp),
                    item,
                ])
            };
            if event.styp != SYNC_NODEEDITS {
                yield head(event.styp, Value::Array(Vec::new()));
                continue;
            }
            for nodeedit in event.edits.as_array().map(Vec::as_slice).unwrap_or_default() {
                let Some([buid, form, edits]) = nodeedit.as_array().map(Vec::as_slice) else {
                    continue;
                };
                let formname = form.as_str().unwrap_or_default();
                for edit in edits.as_array().map(Vec::as_slice).unwrap_or_default() {
                    let parts = edit.as_array().map(Vec::as_slice).unwrap_or_default();
                    let etyp = parts.first().and_then(Value::as_i64).unwrap_or(-1);
                    let vals = parts.get(1).and_then(Value::as_array).map(Vec::as_slice);
                    if matchdef.matches(formname, etyp, vals.unwrap_or_default()) {
                        let meta = parts.get(2).cloned().unwrap_or(Value::Array(Vec::new()));
                        let vals = parts.get(1).cloned().unwrap_or(Value::Array(Vec::new()));
                        yield head(
                            SYNC_NODEEDIT,
                            Value::Array(vec![buid.clone(), form.clone(), Value::from(etyp), vals, meta]),
                        );
                    }
                }
            }
            count += 1;
            if count.is_multiple_of(1000) {
                let empty = || Value::Array(Vec::new());
                yield head(
                    SYNC_NODEEDIT,
                    Value::Array(vec![Value::Nil, Value::Nil, Value::from(EDIT_PROGRESS), empty(), empty()]),
                );
            }
        }
    }
    .boxed()
}
