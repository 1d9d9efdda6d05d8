//! Subgraph projection: the `graph` command and the `graph` Storm option.
//!
//! From its seed nodes the projection walks out by the rules' pivots (global and per form),
//! optionally the model's references (`refs`), up to `degrees` hops, dropping nodes that match
//! a filter. Every node it yields carries `path.edges`: `(iden, info)` pairs linking it to the
//! nodes yielded before it (pivots taken either way, and light edges when `edges` is on), so a
//! client can draw the graph from the stream alone. Seeds carry `path["graph:seed"]`.
//!
//! The walk keeps its bookkeeping in memory, bounded by `maxsize` (100 000 nodes unless the
//! rules say otherwise); the reference spools it to disk for the same bound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::{self, ItemStream};
use super::runt::{Item, Runt};
use super::value::Val;
use crate::node::Node;
use crate::nodeedit::Buid;
use crate::storm::plan::Pipeline;

/// The pivots and filters of one form (or of `*`, every form without its own rules).
#[derive(Debug, Clone, Default)]
struct FormRules {
    pivots: Vec<String>,
    filters: Vec<String>,
}

/// The rules of a projection (the reference's graph rules dict).
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// How many hops out from the seeds; `None` is unbounded.
    degrees: Option<i64>,
    pivots: Vec<String>,
    filters: Vec<String>,
    forms: HashMap<String, FormRules>,
    refs: bool,
    edges: bool,
    maxsize: u64,
    edgelimit: usize,
    filterinput: bool,
    yieldfiltered: bool,
    /// Idens already drawn by the client: linked to, never yielded again.
    existing: Vec<String>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            degrees: Some(1),
            pivots: Vec::new(),
            filters: Vec::new(),
            forms: HashMap::new(),
            refs: false,
            edges: true,
            maxsize: 100_000,
            edgelimit: 3000,
            filterinput: true,
            yieldfiltered: false,
            existing: Vec::new(),
        }
    }
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

fn strings(valu: &Value, what: &str) -> RResult<Vec<String>> {
    match valu {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| badarg(format!("graph rule {what} must be a list of strings")))
            })
            .collect(),
        _ => Err(badarg(format!(
            "graph rule {what} must be a list of strings"
        ))),
    }
}

fn flag(valu: &Value) -> bool {
    match valu {
        Value::Boolean(b) => *b,
        Value::Nil => false,
        Value::Integer(i) => i.as_i64() != Some(0),
        _ => true,
    }
}

impl Rules {
    /// Rules from the `graph` Storm option: `true` (unbounded degrees with `refs`), or a
    /// rules dict. `None` when the option asks for no projection.
    pub(crate) fn from_opt(valu: &Value) -> RResult<Option<Rules>> {
        match valu {
            Value::Nil | Value::Boolean(false) => Ok(None),
            Value::Boolean(true) => Ok(Some(Rules {
                degrees: None,
                refs: true,
                ..Rules::default()
            })),
            Value::Map(_) => Rules::from_dict(valu).map(Some),
            _ => Err(badarg(
                "The graph option must be true, a rules dict or the iden of a projection.",
            )),
        }
    }

    /// Rules from a rules dict; missing keys take the reference's defaults.
    pub(crate) fn from_dict(valu: &Value) -> RResult<Rules> {
        let mut rules = Rules::default();
        let Value::Map(items) = valu else {
            return Err(badarg("graph rules must be a dict"));
        };
        for (key, valu) in items {
            match key.as_str().unwrap_or_default() {
                "degrees" => {
                    rules.degrees = match valu {
                        Value::Nil => None,
                        v => Some(
                            v.as_i64()
                                .ok_or_else(|| badarg("graph degrees must be an integer"))?,
                        ),
                    }
                }
                "pivots" => rules.pivots = strings(valu, "pivots")?,
                "filters" => rules.filters = strings(valu, "filters")?,
                "existing" => rules.existing = strings(valu, "existing")?,
                "refs" => rules.refs = flag(valu),
                "edges" => rules.edges = flag(valu),
                "filterinput" => rules.filterinput = flag(valu),
                "yieldfiltered" => rules.yieldfiltered = flag(valu),
                "maxsize" => {
                    rules.maxsize = valu
                        .as_u64()
                        .ok_or_else(|| badarg("graph maxsize must be an integer"))?
                }
                "edgelimit" => {
                    rules.edgelimit = valu
                        .as_u64()
                        .ok_or_else(|| badarg("graph edgelimit must be an integer"))?
                        as usize
                }
                "forms" => {
                    let Value::Map(forms) = valu else {
                        return Err(badarg("graph forms must be a dict"));
                    };
                    for (name, frules) in forms {
                        let mut out = FormRules::default();
                        if let Value::Map(fitems) = frules {
                            for (k, v) in fitems {
                                match k.as_str().unwrap_or_default() {
                                    "pivots" => out.pivots = strings(v, "pivots")?,
                                    "filters" => out.filters = strings(v, "filters")?,
                                    _ => {}
                                }
                            }
                        }
                        rules
                            .forms
                            .insert(name.as_str().unwrap_or_default().to_owned(), out);
                    }
                }
                _ => {}
            }
        }
        Ok(rules)
    }

    /// Rules from the `graph` command's options.
    fn from_cmd(opts: &Opts) -> RResult<Rules> {
        let get = |name: &str| opts.get(name).cloned().unwrap_or(Val::Null);
        let mut rules = Rules {
            degrees: match get("degrees") {
                Val::Null => None,
                v => Some(v.to_int()? as i64),
            },
            refs: get("refs").truthy(),
            filterinput: get("filterinput").truthy(),
            yieldfiltered: get("yieldfiltered").truthy(),
            edges: !get("no_edges").truthy(),
            ..Rules::default()
        };
        let texts = |v: Val| -> RResult<Vec<Val>> {
            Ok(match v {
                Val::Null => Vec::new(),
                Val::List(l) => super::value::lock(&l).clone(),
                Val::Tuple(t) => t.to_vec(),
                other => vec![other],
            })
        };
        for p in texts(get("pivot"))? {
            rules.pivots.push(p.to_str()?);
        }
        for f in texts(get("filter"))? {
            rules.filters.push(f.to_str()?);
        }
        for (key, pivots) in [("form_pivot", true), ("form_filter", false)] {
            for pair in texts(get(key))? {
                let pair = texts(pair)?;
                let [name, text] = pair.as_slice() else {
                    return Err(badarg(format!(
                        "--{} takes a form and a query",
                        key.replace('_', "-")
                    )));
                };
                let entry = rules.forms.entry(name.to_str()?).or_default();
                if pivots {
                    entry.pivots.push(text.to_str()?);
                } else {
                    entry.filters.push(text.to_str()?);
                }
            }
        }
        Ok(rules)
    }
}

/// The `graph` command: the projection over its inbound nodes.
pub(crate) fn command(runt: Arc<Runt>, runtsafe: bool, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        if !runtsafe {
            Err(rterr("graph arguments must be runtsafe."))?;
        }
        let Some(first) = input.next().await else { return };
        let (item, opts) = first?;
        let rules = Rules::from_cmd(&opts)?;
        let seeds = futures::stream::once(async move { Ok(item) })
            .chain(input.map(|x| x.map(|(item, _)| item)))
            .boxed();
        let mut out = project(runt, rules, seeds);
        while let Some(item) = out.next().await {
            yield item?;
        }
    }
    .boxed()
}

/// Parsed rule queries, planned once per projection.
struct Queries {
    runt: Arc<Runt>,
    plans: HashMap<String, (Arc<Runt>, Pipeline)>,
}

impl Queries {
    fn plan(&mut self, text: &str) -> RResult<(Arc<Runt>, Pipeline)> {
        if let Some((subr, pipe)) = self.plans.get(text) {
            return Ok((Arc::clone(subr), pipe.clone()));
        }
        let planned = super::cmds::sub_query(&self.runt, text)?;
        self.plans
            .insert(text.to_owned(), (Arc::clone(&planned.0), planned.1.clone()));
        Ok(planned)
    }

    /// The nodes a query yields with `item` as its input.
    async fn run(&mut self, text: &str, item: &Item) -> RResult<Vec<Item>> {
        let (subr, pipe) = self.plan(text)?;
        let mut out = Vec::new();
        let mut stream = exec::run_pipeline(&subr, &pipe, exec::once(item.clone()));
        while let Some(next) = stream.next().await {
            out.push(next?);
        }
        Ok(out)
    }

    /// Whether a filter query drops the node (yields nothing for it).
    async fn drops(&mut self, text: &str, item: &Item) -> RResult<bool> {
        let (subr, pipe) = self.plan(text)?;
        let mut stream = exec::run_pipeline(&subr, &pipe, exec::once(item.clone()));
        match stream.next().await {
            None => Ok(true),
            Some(first) => first.map(|_| false),
        }
    }
}

fn info(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

fn rule_link(scope: &str, index: usize) -> Vec<(&'static str, Value)> {
    vec![
        ("type", Value::from("rules")),
        ("scope", Value::from(scope)),
        ("index", Value::from(index as u64)),
    ]
}

fn with_reverse(mut pairs: Vec<(&'static str, Value)>) -> Vec<(&'static str, Value)> {
    match pairs.iter_mut().find(|(k, _)| *k == "reverse") {
        Some(slot) => slot.1 = Value::from(true),
        None => pairs.push(("reverse", Value::from(true))),
    }
    pairs
}

fn edge_link(verb: &str, reverse: bool) -> Value {
    let mut pairs = vec![("type", Value::from("edge")), ("verb", Value::from(verb))];
    if reverse {
        pairs.push(("reverse", Value::from(true)));
    }
    info(&pairs)
}

fn unhex(iden: &str) -> Option<Buid> {
    hex::decode(iden)
        .ok()
        .and_then(|b| <Buid>::try_from(b.as_slice()).ok())
}

/// The model references out of a node, as the reference's `getNodeRefs`: props whose type
/// is a form, ndef props, arrays of a form, arrays of ndefs, each group in prop order.
fn node_refs(runt: &Runt, node: &Node) -> Vec<(String, String, Value)> {
    let model = runt.model();
    let Some(form) = model.form(&node.form) else {
        return Vec::new();
    };
    let mut props = Vec::new();
    let mut ndefs = Vec::new();
    let mut arrays = Vec::new();
    let mut ndefarrays = Vec::new();
    for prop in form.props() {
        let Some(valu) = node.get(prop.name()) else {
            continue;
        };
        let ty = prop.ty();
        let name = prop.name().to_owned();
        if let Some(elem) = ty.array_elem() {
            let items = valu.as_array().cloned().unwrap_or_default();
            if elem.ctor() == "ndef" {
                ndefarrays.extend(items.into_iter().map(|i| (name.clone(), i)));
            } else if model.form(elem.name()).is_some() {
                let dest = elem.name().to_owned();
                arrays.extend(items.into_iter().map(|i| (name.clone(), dest.clone(), i)));
            }
        } else if ty.ctor() == "ndef" {
            ndefs.push((name, valu.clone()));
        } else if model.form(ty.name()).is_some() {
            props.push((name, ty.name().to_owned(), valu.clone()));
        }
    }
    let split = |(name, ndef): (String, Value)| match ndef.as_array().map(Vec::as_slice) {
        Some([form, valu]) => form.as_str().map(|f| (name, f.to_owned(), valu.clone())),
        _ => None,
    };
    props
        .into_iter()
        .chain(ndefs.into_iter().filter_map(split))
        .chain(arrays)
        .chain(ndefarrays.into_iter().filter_map(split))
        .collect()
}

/// A node to visit: the item and its distance from the seeds.
struct Todo {
    item: Item,
    dist: i64,
}

/// Project `seeds` through `rules` (see the module docs).
/// The query's output through the projection it chose: the one `$lib.graph.activate` set,
/// else the `graph` option (`true`, a rules dict, or the iden of a stored projection). As the
/// reference, the choice is made once the first node is out.
pub(crate) fn project_chosen(runt: Arc<Runt>, mut stream: ItemStream) -> ItemStream {
    let choose = async move {
        let Some(first) = stream.next().await else {
            return exec::empty();
        };
        let stream = futures::stream::iter([first]).chain(stream).boxed();
        match chosen_rules(&runt).await {
            Ok(Some(rules)) => project(runt, rules, stream),
            Ok(None) => stream,
            Err(err) => futures::stream::iter([Err(err)]).boxed(),
        }
    };
    futures::stream::once(choose).flatten().boxed()
}

/// The rules the query chose, if any.
async fn chosen_rules(runt: &Runt) -> RResult<Option<Rules>> {
    let active = super::value::lock(&runt.shared.graph).clone();
    let Some(choice) = active.or_else(|| runt.shared.opts.graph.clone()) else {
        return Ok(None);
    };
    let Value::String(iden) = &choice else {
        return Rules::from_opt(&choice);
    };
    let iden = iden.as_str().unwrap_or_default();
    let core = super::ext::cortex(runt)?;
    let gdef = core
        .graph_def(iden)
        .await
        .map_err(super::ext::cell_err)?
        .ok_or_else(|| super::graphlib::no_such_graph(iden))?;
    Rules::from_dict(&gdef).map(Some)
}

pub(crate) fn project(runt: Arc<Runt>, rules: Rules, mut seeds: ItemStream) -> ItemStream {
    async_stream::try_stream! {
        let mut queries = Queries { runt: Arc::clone(&runt), plans: HashMap::new() };
        let view = runt.view.clone();
        let existing: HashSet<String> = rules.existing.iter().cloned().collect();
        let mut done: HashSet<Buid> = HashSet::new();
        let mut intodo: HashSet<Buid> = HashSet::new();
        // nodes yielded (and the existing ones) when edges are drawn
        let mut results: HashSet<Buid> = HashSet::new();
        let mut omits: HashMap<Buid, bool> = HashMap::new();
        // pivots found from a node to one not yielded yet: drawn when that one is yielded
        let mut revpivs: HashMap<Buid, Vec<(String, Value)>> = HashMap::new();
        // light edges from earlier nodes: n2 iden -> [(n1 iden, verbs)]
        let mut revedge: HashMap<String, Vec<(String, Vec<String>)>> = HashMap::new();
        let mut edgecounts: HashMap<String, usize> = HashMap::new();
        let mut n1delayed: Vec<String> = Vec::new();
        let mut n2delayed: HashSet<String> = HashSet::new();
        let mut todo: VecDeque<Todo> = VecDeque::new();

        // caches the light edges out of a node (at most edgelimit); None when it has more
        let edges_out = |buid: Buid| {
            let view = view.clone();
            let limit = rules.edgelimit;
            async move {
                let mut cache: Vec<(String, Vec<String>)> = Vec::new();
                let mut count = 0usize;
                let mut stream = view.edges_n1(buid, None);
                while let Some(edge) = stream.next().await {
                    let (verb, n2) = edge.map_err(Flow::from)?;
                    count += 1;
                    if count > limit {
                        return Ok::<_, Flow>(None);
                    }
                    let n2 = hex::encode(n2);
                    match cache.iter_mut().find(|(iden, _)| *iden == n2) {
                        Some((_, verbs)) => verbs.push(verb),
                        None => cache.push((n2, vec![verb])),
                    }
                }
                Ok(Some(cache))
            }
        };

        if rules.edges {
            for iden in &rules.existing {
                let Some(buid) = unhex(iden) else { continue };
                results.insert(buid);
            }
            for iden in &rules.existing {
                let Some(buid) = unhex(iden) else { continue };
                let Some(cache) = edges_out(buid).await? else {
                    n1delayed.push(iden.clone());
                    continue;
                };
                for (n2, verbs) in cache {
                    if unhex(&n2).is_some_and(|b| results.contains(&b)) {
                        continue;
                    }
                    note_revedge(&rules, &mut revedge, &mut edgecounts, &mut n2delayed, n2, iden, verbs);
                }
            }
        }

        let mut count: u64 = 0;
        let mut seeding = true;
        loop {
            let next = if seeding {
                match seeds.next().await {
                    Some(item) => {
                        let mut item = item?;
                        item.path.set_meta("graph:seed", Val::Bool(true));
                        Some(Todo { item, dist: 0 })
                    }
                    None => {
                        seeding = false;
                        todo.pop_front()
                    }
                }
            } else {
                todo.pop_front()
            };
            let Some(Todo { item, dist }) = next else { break };
            let buid = item.node.buid;
            if done.contains(&buid) {
                continue;
            }
            count += 1;
            if count > rules.maxsize {
                runt.shared
                    .warn(&format!("Graph projection hit max size {}. Truncating results.", rules.maxsize), Vec::new())
                    .await;
                break;
            }
            done.insert(buid);
            intodo.remove(&buid);

            let omitted = if dist > 0 || rules.filterinput {
                match omits.get(&buid) {
                    Some(answ) => *answ,
                    None => {
                        let answ = omit(&rules, &mut queries, &item).await?;
                        omits.insert(buid, answ);
                        answ
                    }
                }
            } else {
                false
            };
            if omitted && !rules.yieldfiltered {
                continue;
            }

            let nodeiden = item.node.iden();
            let mut edges: Vec<(String, Value)> = revpivs.get(&buid).cloned().unwrap_or_default();
            for (pivn, pinfo) in pivots(&runt, &rules, &mut queries, &item, &existing).await? {
                let pbuid = pivn.node.buid;
                if results.contains(&pbuid) {
                    edges.push((pivn.node.iden(), info(&pinfo)));
                } else {
                    revpivs
                        .entry(pbuid)
                        .or_default()
                        .push((nodeiden.clone(), info(&with_reverse(pinfo))));
                }
                if omitted || done.contains(&pbuid) || intodo.contains(&pbuid) {
                    continue;
                }
                if existing.contains(&pivn.node.iden()) {
                    continue;
                }
                if rules.degrees.is_none_or(|deg| dist < deg) {
                    intodo.insert(pbuid);
                    todo.push_back(Todo { item: pivn, dist: dist + 1 });
                }
            }

            if rules.edges {
                results.insert(buid);
                let cache = edges_out(buid).await?;
                match &cache {
                    None => {
                        // too many edges out to cache: look each one up against the graph
                        n1delayed.push(nodeiden.clone());
                        for other in results.clone() {
                            let oiden = hex::encode(other);
                            for verb in view.edge_verbs(buid, other).await.map_err(Flow::from)? {
                                edges.push((oiden.clone(), edge_link(&verb, false)));
                            }
                            for verb in view.edge_verbs(other, buid).await.map_err(Flow::from)? {
                                edges.push((oiden.clone(), edge_link(&verb, true)));
                            }
                        }
                    }
                    Some(cache) => {
                        for (n2, verbs) in cache {
                            note_revedge(&rules, &mut revedge, &mut edgecounts, &mut n2delayed, n2.clone(), &nodeiden, verbs.clone());
                        }
                        if let Some(from) = revedge.get(&nodeiden) {
                            for (n1, verbs) in from {
                                for verb in verbs {
                                    edges.push((n1.clone(), edge_link(verb, true)));
                                }
                            }
                        }
                        if n2delayed.contains(&nodeiden) {
                            for other in results.clone() {
                                let oiden = hex::encode(other);
                                for verb in view.edge_verbs(other, buid).await.map_err(Flow::from)? {
                                    edges.push((oiden.clone(), edge_link(&verb, true)));
                                }
                            }
                        }
                        for (n2, verbs) in cache {
                            if !unhex(n2).is_some_and(|b| results.contains(&b)) {
                                continue;
                            }
                            for verb in verbs {
                                edges.push((n2.clone(), edge_link(verb, false)));
                            }
                        }
                        for n1 in &n1delayed {
                            let Some(n1buid) = unhex(n1) else { continue };
                            for verb in view.edge_verbs(n1buid, buid).await.map_err(Flow::from)? {
                                edges.push((n1.clone(), edge_link(&verb, true)));
                            }
                        }
                    }
                }
            }

            let mut item = item;
            item.path.set_meta(
                "edges",
                Val::from_msgpack(&Value::Array(
                    edges
                        .into_iter()
                        .map(|(iden, info)| Value::Array(vec![Value::from(iden), info]))
                        .collect(),
                )),
            );
            yield item;
        }
    }
    .boxed()
}

/// Remember that `n1` has light edges (`verbs`) to `n2`, unless `n2` has too many inbound.
fn note_revedge(
    rules: &Rules,
    revedge: &mut HashMap<String, Vec<(String, Vec<String>)>>,
    edgecounts: &mut HashMap<String, usize>,
    n2delayed: &mut HashSet<String>,
    n2: String,
    n1: &str,
    verbs: Vec<String>,
) {
    if n2delayed.contains(&n2) {
        return;
    }
    let count = edgecounts.get(&n2).copied().unwrap_or(0) + verbs.len();
    if count > rules.edgelimit {
        revedge.remove(&n2);
        n2delayed.insert(n2);
        return;
    }
    edgecounts.insert(n2.clone(), count);
    let from = revedge.entry(n2).or_default();
    match from.iter_mut().find(|(iden, _)| iden == n1) {
        Some((_, known)) => known.extend(verbs),
        None => from.push((n1.to_owned(), verbs)),
    }
}

/// Whether the rules' filters drop a node.
async fn omit(rules: &Rules, queries: &mut Queries, item: &Item) -> RResult<bool> {
    for filt in &rules.filters {
        if queries.drops(filt, item).await? {
            return Ok(true);
        }
    }
    let frules = rules
        .forms
        .get(&item.node.form)
        .or_else(|| rules.forms.get("*"));
    if let Some(frules) = frules {
        for filt in &frules.filters {
            if queries.drops(filt, item).await? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The nodes one hop out from `item` by the rules, with how each was reached.
async fn pivots(
    runt: &Arc<Runt>,
    rules: &Rules,
    queries: &mut Queries,
    item: &Item,
    existing: &HashSet<String>,
) -> RResult<Vec<(Item, Vec<(&'static str, Value)>)>> {
    let mut out = Vec::new();
    let node = &item.node;
    if rules.refs {
        for (prop, form, valu) in node_refs(runt, node) {
            let Some(pivn) = runt
                .view
                .get_node_by_ndef(&form, &valu)
                .await
                .map_err(Flow::from)?
            else {
                continue;
            };
            let link = vec![("type", Value::from("prop")), ("prop", Value::from(prop))];
            let linkval = info(&link);
            let path = item.path.fork(node, &pivn, || linkval);
            out.push((
                Item {
                    node: Arc::new(pivn),
                    path,
                },
                link,
            ));
        }
        for iden in existing {
            let Some(buid) = unhex(iden) else { continue };
            let Some(othr) = runt.view.get_node(buid).await.map_err(Flow::from)? else {
                continue;
            };
            for (prop, form, valu) in node_refs(runt, &othr) {
                if form == node.form && valu == node.valu {
                    let link = vec![
                        ("type", Value::from("prop")),
                        ("prop", Value::from(prop)),
                        ("reverse", Value::from(true)),
                    ];
                    out.push((
                        Item {
                            node: Arc::new(othr.clone()),
                            path: item.path.clone(),
                        },
                        link,
                    ));
                }
            }
        }
    }
    for pivq in &rules.pivots {
        for (index, next) in queries.run(pivq, item).await?.into_iter().enumerate() {
            out.push((next, rule_link("global", index)));
        }
    }
    let (scope, frules) = match rules.forms.get(&node.form) {
        Some(f) => (node.form.as_str(), Some(f)),
        None => ("*", rules.forms.get("*")),
    };
    if let Some(frules) = frules {
        for pivq in &frules.pivots {
            for (index, next) in queries.run(pivq, item).await?.into_iter().enumerate() {
                out.push((next, rule_link(scope, index)));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_true_is_unbounded_with_refs() {
        let rules = Rules::from_opt(&Value::Boolean(true)).unwrap().unwrap();
        assert_eq!(rules.degrees, None);
        assert!(rules.refs);
        assert!(rules.edges);
        assert!(Rules::from_opt(&Value::Boolean(false)).unwrap().is_none());
        assert!(Rules::from_opt(&Value::Nil).unwrap().is_none());
    }

    #[test]
    fn dict_rules_override_defaults() {
        let dict = Value::Map(vec![
            (Value::from("degrees"), Value::from(3)),
            (Value::from("edges"), Value::from(false)),
            (
                Value::from("pivots"),
                Value::Array(vec![Value::from("-> *")]),
            ),
            (
                Value::from("forms"),
                Value::Map(vec![(
                    Value::from("inet:fqdn"),
                    Value::Map(vec![(
                        Value::from("filters"),
                        Value::Array(vec![Value::from("+#bad")]),
                    )]),
                )]),
            ),
        ]);
        let rules = Rules::from_dict(&dict).unwrap();
        assert_eq!(rules.degrees, Some(3));
        assert!(!rules.edges);
        assert_eq!(rules.pivots, vec!["-> *".to_owned()]);
        assert_eq!(rules.forms["inet:fqdn"].filters, vec!["+#bad".to_owned()]);
        assert_eq!(rules.maxsize, 100_000);
        assert!(Rules::from_dict(&Value::from(3)).is_err());
        let bad = Value::Map(vec![(Value::from("pivots"), Value::from(3))]);
        assert!(Rules::from_dict(&bad).is_err());
    }

    #[test]
    fn reverse_marks_a_link() {
        let link = with_reverse(rule_link("*", 2));
        assert!(
            link.iter()
                .any(|(k, v)| *k == "reverse" && *v == Value::from(true))
        );
        let again = with_reverse(link.clone());
        assert_eq!(again.len(), link.len());
    }
}
