//! Agreement with the reference parser over a large recorded corpus.
//!
//! `storm_refparse.jsonl.gz` is written by `storm_refparse.py` (next to this test binary's
//! sources): every Storm query found in the conformance corpus and in the reference's test suite
//! and Storm code, plus deterministic mutations of them, with the reference's verdict. For an
//! accepted query it holds the reference's rendering of its syntax tree, for a rejected one the
//! error offset and message. Regenerate it with
//! `python storm_refparse.py --conformance ../shared/conformance/storm-visible.jsonl --splice
//! storm_refparse.jsonl.gz` using the reference's Python; more seeds and mutations
//! (`--seed`, `--mutants`) give larger corpora to check with `STORM_FIXTURE_PATH`.

use std::io::Read;

use serde_json::Value as Json;
use synapse_cortex::storm::{self, SyntaxError};

use super::refrepr;

const FIXTURE: &[u8] = include_bytes!("../storm_refparse.jsonl.gz");

/// One recorded query.
pub(crate) struct Entry {
    pub(crate) query: String,
    pub(crate) src: String,
    pub(crate) ok: bool,
    pub(crate) ast: Option<String>,
    pub(crate) at: Option<usize>,
    pub(crate) mesg: Option<String>,
}

/// All recorded queries (from `STORM_FIXTURE_PATH` if set, to check a larger, uncommitted
/// corpus while developing).
pub(crate) fn entries() -> Vec<Entry> {
    let mut text = String::new();
    let data = match std::env::var("STORM_FIXTURE_PATH") {
        Ok(path) => std::fs::read(path).expect("read STORM_FIXTURE_PATH"),
        Err(_) => FIXTURE.to_vec(),
    };
    flate2::read::GzDecoder::new(&data[..])
        .read_to_string(&mut text)
        .expect("fixture is gzipped UTF-8");
    text.lines()
        .map(|line| {
            let item: Json = serde_json::from_str(line).expect("fixture lines are JSON");
            Entry {
                query: item["q"].as_str().expect("q").to_string(),
                src: item["src"].as_str().unwrap_or("").to_string(),
                ok: item["ok"].as_bool().expect("ok"),
                ast: item["ast"].as_str().map(str::to_string),
                at: item["at"].as_u64().map(|at| at as usize),
                mesg: item["mesg"].as_str().map(str::to_string),
            }
        })
        .collect()
}

/// The part of an "Unexpected token" message that does not depend on the parser's internal
/// state numbering: the token and its position.
fn message_head(mesg: &str) -> &str {
    mesg.split(", expecting").next().unwrap_or(mesg)
}

fn check(entry: &Entry) -> Option<String> {
    let result = storm::parse_query(&entry.query);
    // We reject on purpose what the reference accepts in one case: a `\uD800`-style escape in a
    // string makes a lone surrogate, which a Rust string cannot hold (and which the reference
    // could not store or send either).
    if let Err(err) = &result
        && entry.ok
        && err.mesg.contains("surrogate code points are not allowed")
    {
        return None;
    }
    match (result, entry.ok) {
        (Ok(query), true) => {
            let reference = entry.ast.as_deref()?;
            let ours = refrepr::query(&query);
            let theirs = refrepr::normalize(reference);
            (ours != theirs).then(|| format!("tree differs\n  ours:   {ours}\n  theirs: {theirs}"))
        }
        (Ok(_), false) => Some(format!(
            "accepted, reference rejects at {:?}: {:?}",
            entry.at, entry.mesg
        )),
        (Err(err), true) => Some(format!("rejected ({}), reference accepts", describe(&err))),
        (Err(err), false) => {
            if entry.at.is_some() && err.offset() != entry.at {
                return Some(format!(
                    "error at {:?}, reference at {:?}: {:?} / ours: {}",
                    err.offset(),
                    entry.at,
                    entry.mesg,
                    err.mesg
                ));
            }
            let theirs = entry.mesg.as_deref().unwrap_or("");
            let semantic =
                !theirs.starts_with("Unexpected token") && !theirs.starts_with("No terminal");
            if semantic
                && theirs != err.mesg
                && !(theirs.starts_with("Invalid character in string")
                    && err.mesg.starts_with("Invalid character in string"))
            {
                return Some(format!(
                    "message differs: ours {:?}, reference {:?}",
                    err.mesg, theirs
                ));
            }
            None
        }
    }
}

fn describe(err: &SyntaxError) -> String {
    format!("at {:?}: {}", err.offset(), err.mesg)
}

#[test]
fn parser_agrees_with_the_reference_on_every_recorded_query() {
    let entries = entries();
    assert!(
        entries.len() > 10_000,
        "the fixture holds {} queries",
        entries.len()
    );
    // every distinct query of the Storm conformance corpus is in it
    let conformance = entries
        .iter()
        .filter(|entry| entry.src == "conformance")
        .count();
    assert!(
        conformance >= 440,
        "the fixture holds {conformance} conformance queries"
    );
    let mut failures = Vec::new();
    for entry in &entries {
        if let Some(problem) = check(entry) {
            failures.push(format!("[{}] {:?}\n  {problem}", entry.src, entry.query));
        }
    }
    if let Ok(path) = std::env::var("STORM_FIXTURE_FAILURES") {
        std::fs::write(path, failures.join("\n")).expect("write failures");
    }
    let shown: Vec<&String> = failures.iter().take(20).collect();
    assert!(
        failures.is_empty(),
        "{} of {} queries disagree with the reference, e.g.:\n{}",
        failures.len(),
        entries.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn unexpected_token_messages_name_the_same_token_and_position() {
    let mut total = 0;
    let mut differ = Vec::new();
    for entry in entries() {
        let Some(mesg) = entry.mesg.as_deref() else {
            continue;
        };
        if entry.ok || !mesg.starts_with("Unexpected token") {
            continue;
        }
        let Err(err) = storm::parse_query(&entry.query) else {
            continue;
        };
        total += 1;
        if message_head(&err.mesg) != message_head(mesg) {
            differ.push(format!(
                "{:?}: ours {:?}, reference {:?}",
                entry.query, err.mesg, mesg
            ));
        }
    }
    // (the list of expected terminals after the head is ours and is not compared)
    assert!(total > 10_000, "only {total} messages compared");
    assert!(
        differ.is_empty(),
        "{} of {total} messages differ, e.g. {}",
        differ.len(),
        differ[..differ.len().min(5)].join("\n")
    );
}

#[test]
fn every_accepted_query_plans_or_reports_a_missing_variable() {
    let mut planned = 0;
    for entry in entries() {
        let Ok(query) = storm::parse_query(&entry.query) else {
            continue;
        };
        match storm::plan::plan(&query, &storm::plan::PlanOpts::default()) {
            Ok(_) => planned += 1,
            Err(err) => assert_eq!(err.name, "NoSuchVar", "{:?}: {}", entry.query, err.mesg),
        }
    }
    assert!(planned > 10_000, "only {planned} queries planned");
}
